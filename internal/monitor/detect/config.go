package detect

import "time"

// Config holds every detector's thresholds. Start from DefaultConfig (or
// ParseSettings, which applies a Monitor manifest over it): the zero Config
// disables nothing but thresholds nothing either.
type Config struct {
	// Cooldown is how long after an alert's latest occurrence a repeat of the
	// same kind and subject still updates it (same ID) rather than raising a
	// new one. Default 10m.
	Cooldown time.Duration

	AuthBruteforce  AuthBruteforceConfig
	KeyEnumeration  KeyEnumerationConfig
	ScanPaths       ScanPathsConfig
	TrafficSurge    TrafficSurgeConfig
	WAFBurst        WAFBurstConfig
	RateLimitSurge  RateLimitSurgeConfig
	UpstreamErrors  UpstreamErrorsConfig
	TokenBurn       TokenBurnConfig
	PromptInjection PromptInjectionConfig

	Limits Limits
}

// AuthBruteforceConfig: auth.bruteforce counts authentication failures
// (decision unauthenticated). Per client (subject ip:ADDR, severity high):
// Threshold failures within Window. Per route, across clients — credential
// stuffing from many addresses, each staying under the per-client threshold —
// (subject route:NAME, severity critical): RouteThreshold failures within
// Window, from at least RouteMinClients distinct addresses, making up at least
// RouteRatio of the route's requests in that window (so a busy route's
// ordinary trickle of expired tokens never adds up to an alert).
type AuthBruteforceConfig struct {
	Enabled         bool          // default true
	Window          time.Duration // default 60s
	Threshold       int           // default 20
	RouteThreshold  int           // default 100
	RouteMinClients int           // default 10
	RouteRatio      float64       // default 0.2
}

// KeyEnumerationConfig: auth.key_enumeration (subject ip:ADDR, severity high)
// fires when one client presents Threshold distinct unknown API keys within
// Window. A client retrying one stale key counts once.
type KeyEnumerationConfig struct {
	Enabled   bool          // default true
	Window    time.Duration // default 5m
	Threshold int           // default 10
}

// ScanPathsConfig: scan.paths (subject ip:ADDR, severity medium) fires when
// one client was answered 404 or 405 — by the router or the upstream — on
// Threshold distinct paths within Window, and those answers make up at least
// MinRatio of its requests in the window. The ratio keeps busy ordinary
// clients (~2% 404s, which at 20 req/s is 24 distinct paths a minute) quiet,
// while a scanner's answers are nearly all 404s.
type ScanPathsConfig struct {
	Enabled   bool          // default true
	Window    time.Duration // default 60s
	Threshold int           // default 20
	MinRatio  float64       // default 0.2
}

// TrafficSurgeConfig: traffic.surge (subject consumer:NAME, severity medium)
// compares a consumer's requests in its current Interval with its learned
// baseline: an exponentially weighted moving average (weight Alpha) of its
// requests per completed Interval, intervals counted from its first request,
// idle intervals counting as zero. The baseline is usable once the first
// Interval of its traffic is complete (10 s, CONTRACT §2). It fires when the
// current interval's count exceeds Factor × baseline and is at least
// MinRequests, at most once per interval.
type TrafficSurgeConfig struct {
	Enabled     bool          // default true
	Interval    time.Duration // default 10s
	Factor      float64       // default 5
	MinRequests int           // default 100 (per Interval: 10 req/s)
	Alpha       float64       // default 0.1
}

// WAFBurstConfig: waf.burst (severity high) counts requests that reached the
// WAF's anomaly threshold (blocked or only detected): Threshold within Window
// from one client (subject ip:ADDR), or RouteThreshold within Window on one
// route (subject route:NAME) — probes spread over many addresses.
type WAFBurstConfig struct {
	Enabled        bool          // default true
	Window         time.Duration // default 60s
	Threshold      int           // default 10
	RouteThreshold int           // default 50
}

// RateLimitSurgeConfig: ratelimit.surge (subject route:NAME, severity low)
// fires when a route rejected at least Threshold requests as limited within
// Window and those rejections are at least MinRatio of its requests there.
// Occasional 429s are a limiter doing its job; a surge is worth a look.
type RateLimitSurgeConfig struct {
	Enabled   bool          // default true
	Window    time.Duration // default 60s
	Threshold int           // default 100
	MinRatio  float64       // default 0.2
}

// UpstreamErrorsConfig: upstream.errors (subject route:NAME, severity high)
// fires when, within Window, a route served at least MinRequests requests and
// at least Ratio of them were upstream errors: decision upstream_error (502,
// 504), or an allowed request the upstream answered with a 5xx.
type UpstreamErrorsConfig struct {
	Enabled     bool          // default true
	Window      time.Duration // default 60s
	MinRequests int           // default 20
	Ratio       float64       // default 0.5
}

// TokenBurnConfig: ai.token_burn (severity high) is traffic.surge for the
// tokens AI calls use (Event.Tokens; other requests do not count), per
// consumer (subject consumer:NAME) or, for anonymous calls, per client
// address (subject ip:ADDR): an EWMA (weight Alpha) of the tokens used per
// completed Interval, intervals counted from the subject's first AI call. It
// fires when the current interval's tokens exceed Factor × baseline and are
// at least MinTokens, at most once per interval. As with traffic.surge, the
// first interval only seeds the baseline: a subject that burns tokens from
// its very first call is not alerted then (with no baseline there is no
// "more than usual", and MinTokens alone would flag every heavy but honest
// user; a route's tokenLimit and budget are what cap a first spend), but
// from the second interval on it is judged against what it used in the
// first.
type TokenBurnConfig struct {
	Enabled   bool          // default true
	Interval  time.Duration // default 60s
	Factor    float64       // default 5
	MinTokens int           // default 50000 (per Interval)
	Alpha     float64       // default 0.1
}

// PromptInjectionConfig: ai.prompt_injection (severity high; an extension
// of CONTRACT §2's kinds) fires on every AI call whose prompt matched the
// guard's prompt-injection heuristics (Event.PromptInjection), on subject
// consumer:NAME, or ip:ADDR when anonymous. No threshold: a single matched
// prompt is worth a look, and repeats within the cooldown update the alert
// rather than flood the webhook.
type PromptInjectionConfig struct {
	Enabled bool // default true
}

// Limits bound the engine's memory. They are operational, not part of the
// Monitor manifest.
type Limits struct {
	MaxClients   int           // client addresses tracked at once; default 20000 (least recently seen evicted first)
	MaxConsumers int           // consumers tracked at once; default 10000
	MaxRoutes    int           // routes tracked at once; default 2000
	MaxAlerts    int           // alerts kept for deduplication; default 10000
	IdleTTL      time.Duration // a subject unseen this long is forgotten; default 10m, never less than the longest detector window (two intervals for the surge detectors)
}

// DefaultConfig returns the documented defaults: every detector enabled, with
// thresholds that stay quiet on ordinary traffic (steady per-consumer rates,
// ~2% 404s, occasional 401s, 429s and 5xx) and catch each attack within
// seconds.
func DefaultConfig() Config {
	return Config{
		Cooldown: 10 * time.Minute,
		AuthBruteforce: AuthBruteforceConfig{
			Enabled: true, Window: time.Minute, Threshold: 20,
			RouteThreshold: 100, RouteMinClients: 10, RouteRatio: 0.2,
		},
		KeyEnumeration: KeyEnumerationConfig{Enabled: true, Window: 5 * time.Minute, Threshold: 10},
		ScanPaths:      ScanPathsConfig{Enabled: true, Window: time.Minute, Threshold: 20, MinRatio: 0.2},
		TrafficSurge: TrafficSurgeConfig{
			Enabled: true, Interval: 10 * time.Second, Factor: 5, MinRequests: 100, Alpha: 0.1,
		},
		WAFBurst:       WAFBurstConfig{Enabled: true, Window: time.Minute, Threshold: 10, RouteThreshold: 50},
		RateLimitSurge: RateLimitSurgeConfig{Enabled: true, Window: time.Minute, Threshold: 100, MinRatio: 0.2},
		UpstreamErrors: UpstreamErrorsConfig{Enabled: true, Window: time.Minute, MinRequests: 20, Ratio: 0.5},
		TokenBurn: TokenBurnConfig{
			Enabled: true, Interval: time.Minute, Factor: 5, MinTokens: 50000, Alpha: 0.1,
		},
		PromptInjection: PromptInjectionConfig{Enabled: true},
		Limits: Limits{
			MaxClients: 20000, MaxConsumers: 10000, MaxRoutes: 2000, MaxAlerts: 10000,
			IdleTTL: 10 * time.Minute,
		},
	}
}
