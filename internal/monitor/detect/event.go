package detect

import "time"

// Event is one completed request, as seen by the detectors. The gateway fills
// it at the edge after the response is written; it must never carry secrets
// (hence UnknownKeyHash rather than the presented key).
type Event struct {
	Time     time.Time // when the request completed; drives every window (the zero Time means "now" for the engine)
	ClientIP string    // the client address after trusted-proxy handling
	Consumer string    // "" when anonymous
	KeyID    string    // the API key id when a known key was presented, else ""
	Route    string    // the route's name; "" when no route matched
	Path     string    // the normalized request path
	Status   int       // the status the client received
	Decision string    // CONTRACT §4 vocabulary: allowed, unauthenticated, forbidden, blocked, limited, invalid, waf, not_found, method_not_allowed, upstream_error

	// UnknownKeyHash identifies an API key that was presented but matched no
	// known key: a short fingerprint such as the first 16 hex digits of its
	// SHA-256, never the key itself. "" when no key was presented or the key
	// was known. auth.key_enumeration counts distinct values per client.
	UnknownKeyHash string

	// WAFMatched reports that the request reached the WAF's anomaly
	// threshold, whether the route blocked it (Decision "waf") or only
	// detected it (waf mode detect), so waf.burst sees probes either way.
	WAFMatched bool

	// Tokens is the prompt + completion tokens an AI call used (the
	// provider's count, or the gateway's estimate), 0 for other requests.
	// ai.token_burn adds them up per consumer, or per address when anonymous.
	Tokens int64

	// PromptInjection reports that the AI guard's prompt-injection
	// heuristics matched the call's prompt, whether the route refused it
	// (guard mode block) or forwarded it (detect), so the alert tells who
	// is probing either way.
	PromptInjection bool
}

// Alert is one detection, as stored, streamed and sent to webhooks
// (CONTRACT §2 and §4). Repeats within the cooldown keep the ID and update
// Time, Count and Detail.
type Alert struct {
	ID       string
	Time     time.Time // the latest occurrence
	Kind     string    // one of the Kind constants
	Severity string    // one of the Severity constants
	Subject  string    // "ip:ADDR", "consumer:NAME" or "route:NAME"
	Detail   string    // human-readable evidence of the latest occurrence
	Count    int       // occurrences folded into this alert, 1 for a new one
	First    time.Time // the first occurrence
}

// Alert kinds raised by this package (CONTRACT §2 lists them, all but
// ai.prompt_injection, an extension; the other kinds there come from
// elsewhere in the gateway).
const (
	KindAuthBruteforce  = "auth.bruteforce"
	KindKeyEnumeration  = "auth.key_enumeration"
	KindScanPaths       = "scan.paths"
	KindTrafficSurge    = "traffic.surge"
	KindWAFBurst        = "waf.burst"
	KindRateLimitSurge  = "ratelimit.surge"
	KindUpstreamErrors  = "upstream.errors"
	KindTokenBurn       = "ai.token_burn"
	KindPromptInjection = "ai.prompt_injection"
)

// Severities, from most to least urgent. Each kind's severity is documented
// on its detector's config.
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
)

// Decisions the detectors look at (CONTRACT §4 vocabulary).
const (
	decisionAllowed          = "allowed"
	decisionUnauthenticated  = "unauthenticated"
	decisionLimited          = "limited"
	decisionWAF              = "waf"
	decisionNotFound         = "not_found"
	decisionMethodNotAllowed = "method_not_allowed"
	decisionUpstreamError    = "upstream_error"
)
