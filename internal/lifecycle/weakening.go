package lifecycle

import (
	"cmp"
	"fmt"
	"math/big"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/monitor/detect"
)

// rules is the one table of weakening rules (CONTRACT §4 and the issues of each
// component). Each judges one field of one kind of object and, when the change
// weakens security, says why in plain words. A component that lands adds its
// rules here, each a small function with a test in weakening_test.go.
//
// Unset fields are judged at their documented defaults (see the constants
// below), so removing a field that restated a default is no change.
var rules = []rule{
	// Routes: who may call.
	onAny(KindRoute, "authentication", newRouteUnauthenticated),
	onChange(KindRoute, "authentication", authenticationWeakened),
	onChange(KindRoute, "authorization", authorizationRemoved),
	onChange(KindRoute, "authorization.roles", rolesDropped),
	onChange(KindRoute, "authorization.scopes", scopesDropped),
	onChange(KindRoute, "authorization.rule", authorizationRuleChanged),

	// Routes: what reaches them.
	onChange(KindRoute, "methods", methodsWidened),
	onChange(KindRoute, "match.host", hostWidened),
	onChange(KindRoute, "match", pathBroadened),
	onChange(KindRoute, "listeners", servedOverPlainHTTP),

	// Routes: how often.
	onChange(KindRoute, "rateLimit", routeRateLimitRemoved),
	onChange(KindRoute, "rateLimit", routeRateLimitRaised),
	onChange(KindRoute, "rateLimit.by", rateLimitKeyWidened),
	onChange(KindRoute, "rateLimit.onStoreFailure", rateLimitFailsOpen),
	onChange(KindRoute, "quota", quotaRemoved),
	onChange(KindRoute, "quota", quotaRaised),
	onChange(KindRoute, "quota.by", quotaKeyWidened),
	onChange(KindRoute, "quota.onStoreFailure", quotaFailsOpen),

	// Routes: with what input.
	onChange(KindRoute, "validation.maxBodyBytes", maxBodyBytesRaised),
	onChange(KindRoute, "validation.maxJSONDepth", maxJSONDepthRaised),
	onChange(KindRoute, "validation.contentTypes", contentTypesWidened),
	onChange(KindRoute, "validation.openapi", openAPIRemoved),
	onChange(KindRoute, "validation.jsonSchema", jsonSchemaRemoved),
	onChange(KindRoute, "waf.mode", wafModeLowered),
	onChange(KindRoute, "waf.paranoiaLevel", wafParanoiaLowered),
	onChange(KindRoute, "waf.anomalyThreshold", wafThresholdRaised),
	onChange(KindRoute, "waf.exclusions", wafExclusionsAdded),

	// Routes: AI (judged while the route stays an AI route).
	shown(onChange(KindRoute, "ai.providers", aiProvidersAdded), func(r *routeView) any { return listOrNil(aiProviders(r)) }),
	onChange(KindRoute, "ai.tokenLimit", tokenLimitRemoved),
	onChange(KindRoute, "ai.tokenLimit", tokenLimitRaised),
	onChange(KindRoute, "ai.tokenLimit.by", tokenLimitKeyWidened),
	onChange(KindRoute, "ai.budget", budgetRemoved),
	onChange(KindRoute, "ai.budget", budgetRaised),
	onChange(KindRoute, "ai.guard.redactPII", piiRedactionOff),
	onChange(KindRoute, "ai.guard.promptInjection", promptInjectionLowered),
	onChange(KindRoute, "ai.guard.deny", denyPatternsRemoved),
	onChange(KindRoute, "ai.budget.by", budgetSplit),

	// Listeners: TLS.
	onChange(KindListener, "protocol", listenerToPlainHTTP),
	onChange(KindListener, "tls.minVersion", minTLSVersionLowered),
	onChange(KindListener, "tls.clientCAFile", clientCertificatesDropped),
	onChange(KindListener, "tls.hsts", hstsRemoved),
	onChange(KindListener, "tls.hsts.maxAge", hstsMaxAgeLowered),
	onChange(KindListener, "tls.hsts.includeSubDomains", hstsSubdomainsDropped),

	// The Gateway.
	onChange(config.KindGateway, "trustedProxies", trustedProxiesWidened),
	onChange(config.KindGateway, "ipFilter", gatewayIPFilterLoosened),
	onChange(KindRoute, "ipFilter", routeIPFilterLoosened),
	onChange(config.KindGateway, "limits.maxHeaderBytes", maxHeaderBytesRaised),
	onChange(config.KindGateway, "limits.maxHeaderCount", maxHeaderCountRaised),
	onChange(config.KindGateway, "limits.bodyIdleTimeout", bodyIdleTimeoutRaised),

	// Upstreams: TLS.
	onAny(config.KindService, "tls.insecureSkipVerify", upstreamVerificationOff),
	onChange(config.KindService, "tls.caFile", upstreamCAFileRemoved),
	shown(onChange(config.KindService, "urls", serviceURLsDowngraded), func(s *config.ServiceSpec) any { return listOrNil(serviceURLs(s)) }),
	onChange(config.KindAIProvider, "baseURL", aiBaseURLDowngraded),

	// AuthProviders (oauth2 and jwt).
	onChange(config.KindAuthProvider, "algorithms", algorithmsWidened),
	onChange(config.KindAuthProvider, "clockSkew", clockSkewRaised),
	onChange(config.KindAuthProvider, "audiences", audiencesLoosened),
	onChange(config.KindAuthProvider, "issuer", issuerChanged),

	// Consumers.
	onChange(config.KindConsumer, "rateLimit", consumerRateLimitRemoved),
	onChange(config.KindConsumer, "rateLimit", consumerRateLimitRaised),

	// The Monitor.
	onAny(config.KindMonitor, "autoBlock.enabled", autoBlockOff),
	onChange(config.KindMonitor, "detectors", detectorsLessSensitive),
}

// Defaults the rules judge unset fields at (CONTRACT §2). Those of components
// not built yet are the values their issues and the OWASP CRS name; keep them
// in step with the components when they land.
const (
	defaultParanoiaLevel    = 1     // waf.paranoiaLevel (CRS)
	defaultAnomalyThreshold = 5     // waf.anomalyThreshold (CRS inbound)
	defaultPromptInjection  = "off" // ai.guard.promptInjection: a guard is on only when set
	defaultMinTLSVersion    = "1.2" // tls.minVersion
	defaultMaxHeaderBytes   = 32768 // limits.maxHeaderBytes
	defaultMaxHeaderCount   = 100   // limits.maxHeaderCount
	defaultClockSkew        = 30 * time.Second
)

// defaultAlgorithms are an oauth2 or jwt AuthProvider's algorithms when unset.
var defaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// ---- Routes: who may call ----

// authStrength orders authentication types: mtls, oauth2 and jwt prove more than
// an API key, which proves more than nothing. An unknown type counts as none, so
// that a new type is flagged until it has its place here.
func authStrength(a *config.Authentication) int {
	switch authType(a) {
	case "mtls", "oauth2", "jwt":
		return 2
	case "apiKey":
		return 1
	}
	return 0
}

// authType is a route's authentication type; "none" when it has none.
func authType(a *config.Authentication) string {
	if a == nil || a.Type == "" {
		return "none"
	}
	return a.Type
}

// authenticated reports whether a route authenticates its callers.
func authenticated(r *routeView) bool { return authStrength(r.Authentication) > 0 }

// newRouteUnauthenticated: a new route that anyone may call.
func newRouteUnauthenticated(was, now *routeView) string {
	if was != nil || now == nil || authenticated(now) {
		return ""
	}
	return "new route with no authentication"
}

// authenticationWeakened: a route's authentication removed, set to none, or
// of a weaker type. A change of provider alone is a change, not a weakening.
func authenticationWeakened(was, now *routeView) string {
	if authStrength(now.Authentication) >= authStrength(was.Authentication) {
		return ""
	}
	switch {
	case now.Authentication == nil:
		return fmt.Sprintf("authentication removed (was %s)", authType(was.Authentication))
	case authType(now.Authentication) == "none":
		return fmt.Sprintf("authentication set to none (was %s)", authType(was.Authentication))
	}
	return fmt.Sprintf("authentication weakened from %s to %s", authType(was.Authentication), authType(now.Authentication))
}

// authorizationRemoved: a route's authorization, with requirements, removed.
func authorizationRemoved(was, now *routeView) string {
	a := was.Authorization
	if now.Authorization != nil || a == nil || (len(a.Roles)+len(a.Scopes) == 0 && a.Rule == "") {
		return ""
	}
	var required []string
	if len(a.Roles) > 0 {
		required = append(required, "roles "+quoteList(a.Roles))
	}
	if len(a.Scopes) > 0 {
		required = append(required, "scopes "+quoteList(a.Scopes))
	}
	if a.Rule != "" {
		required = append(required, "a rule")
	}
	return "authorization removed (required " + strings.Join(required, ", ") + ")"
}

// rolesDropped: a role a route required is no longer required. Every listed
// role is required, so adding one narrows and removing one widens.
func rolesDropped(was, now *routeView) string {
	if now.Authorization == nil || was.Authorization == nil {
		return ""
	}
	if dropped := missing(was.Authorization.Roles, now.Authorization.Roles); len(dropped) > 0 {
		return "authorization no longer requires " + plural(len(dropped), "role ", "roles ") + quoteList(dropped)
	}
	return ""
}

// scopesDropped: a scope a route required is no longer required.
func scopesDropped(was, now *routeView) string {
	if now.Authorization == nil || was.Authorization == nil {
		return ""
	}
	if dropped := missing(was.Authorization.Scopes, now.Authorization.Scopes); len(dropped) > 0 {
		return "authorization no longer requires " + plural(len(dropped), "scope ", "scopes ") + quoteList(dropped)
	}
	return ""
}

// authorizationRuleChanged: a route's CEL rule removed or changed. A changed
// rule cannot be proven not to admit more, so it is flagged for review.
func authorizationRuleChanged(was, now *routeView) string {
	if now.Authorization == nil || was.Authorization == nil || was.Authorization.Rule == "" {
		return ""
	}
	switch now.Authorization.Rule {
	case was.Authorization.Rule:
		return ""
	case "":
		return "authorization rule removed"
	}
	return "authorization rule changed; review it"
}

// ---- Routes: what reaches them ----

// withHead is a route's methods in upper case, with HEAD when GET is there
// (HEAD goes with GET); nil means every method.
func withHead(methods []string) []string {
	var ms []string
	for _, m := range methods {
		ms = append(ms, strings.ToUpper(m))
	}
	if slices.Contains(ms, "GET") && !slices.Contains(ms, "HEAD") {
		ms = append(ms, "HEAD")
	}
	return ms
}

// methodsWidened: a route accepts more methods, or every method.
func methodsWidened(was, now *routeView) string {
	if len(was.Methods) == 0 {
		return ""
	}
	if len(now.Methods) == 0 {
		return fmt.Sprintf("route now accepts every method (was %s)", strings.Join(was.Methods, ", "))
	}
	if added := missing(withHead(now.Methods), withHead(was.Methods)); len(added) > 0 {
		return "route accepts more methods: " + strings.Join(added, ", ")
	}
	return ""
}

// host is a route's match.host; "" for every host.
func host(r *routeView) string {
	if r.Match == nil {
		return ""
	}
	return r.Match.Host
}

// hostWidened: a route matches every host where it matched one, a wildcard
// where it matched one host, or a wildcard that covers its old one
// (*.a.example.com → *.example.com).
func hostWidened(was, now *routeView) string {
	w, n := host(was), host(now)
	switch {
	case w == n || w == "":
		return ""
	case n == "":
		return fmt.Sprintf("route now matches every host (was %s)", w)
	case !strings.HasPrefix(n, "*."):
		return ""
	case strings.HasPrefix(w, "*.") && !strings.HasSuffix(w[1:], n[1:]):
		return ""
	}
	return fmt.Sprintf("route host widened from %s to %s", w, n)
}

// pathMatch is a route's path match: an exact path, or a whole-segment prefix.
type pathMatch struct {
	exact bool
	path  string
}

// pathOf is a route's path match; a route without one matches every path.
func pathOf(r *routeView) pathMatch {
	switch m := r.Match; {
	case m == nil || (m.Path == "" && m.PathPrefix == ""):
		return pathMatch{path: "/"}
	case m.Path != "":
		return pathMatch{exact: true, path: m.Path}
	default:
		return pathMatch{path: m.PathPrefix}
	}
}

// covers reports whether every path o matches, m matches too.
func (m pathMatch) covers(o pathMatch) bool {
	if m.exact {
		return o.exact && o.path == m.path
	}
	base := strings.TrimSuffix(m.path, "/")
	return base == "" || o.path == base || strings.HasPrefix(o.path, base+"/")
}

func (m pathMatch) String() string {
	if m.exact {
		return "path " + m.path
	}
	return "prefix " + m.path
}

// pathBroadened: a route's match covers more paths: an exact path became a
// prefix of it, or a prefix became shorter.
func pathBroadened(was, now *routeView) string {
	w, n := pathOf(was), pathOf(now)
	if w == n || !n.covers(w) {
		return ""
	}
	return fmt.Sprintf("route match broadened from %s to %s", w, n)
}

// servedOverPlainHTTP: a route served only over HTTPS is now also served by a
// plain-HTTP listener. (A listener that itself turns to HTTP is judged as a
// listener.)
func servedOverPlainHTTP(was, now *routeView) string {
	if len(was.Listeners) == 0 || len(was.plainHTTP) > 0 {
		return ""
	}
	if added := missing(now.plainHTTP, was.Listeners); len(added) > 0 {
		return fmt.Sprintf("route now served over plain HTTP on %s %s (was HTTPS only)", plural(len(added), "listener", "listeners"), quoteList(added))
	}
	return ""
}

// ---- Routes: how often ----

// limitKey is a limit's effective key: by, or by default consumer on an
// authenticated route and ip elsewhere (CONTRACT §2).
func limitKey(by string, r *routeView) string {
	switch {
	case by != "":
		return by
	case authenticated(r):
		return "consumer"
	}
	return "ip"
}

// keyLoosened says how a limit's key change loosens it, or "". A key is wider
// when one bucket is shared by more callers: route, one bucket for everyone, is
// the widest; consumer, key and ip are not ordered among themselves. A header
// key is flagged too, from any other: its value is the client's to choose, so a
// client may spread its calls over as many buckets as it likes.
func keyLoosened(what, was, now string) string {
	switch {
	case was == now:
		return ""
	case now == "route":
		return fmt.Sprintf("%s key widened from %s to route: one bucket is now shared by every caller", what, was)
	case strings.HasPrefix(now, "header:") && !strings.HasPrefix(was, "header:"):
		return fmt.Sprintf("%s key changed from %s to %s, a value each client chooses", what, was, now)
	}
	return ""
}

// perInterval writes a rate: "100 per 1m0s", "5000 tokens per 1m0s".
func perInterval(n int, unit string, interval config.Duration) string {
	return fmt.Sprintf("%d%s per %s", n, unit, interval.D())
}

// rateRaised says how a GCRA-style limit was raised, or "": a higher long-run
// rate (n per interval, compared as a rate), else more that may arrive at once
// (n plus burst).
func rateRaised(what, unit string, wasN int, wasI config.Duration, wasAtOnce int, nowN int, nowI config.Duration, nowAtOnce int) string {
	// nowN/nowI > wasN/wasI, exactly.
	lhs := new(big.Int).Mul(big.NewInt(int64(nowN)), big.NewInt(int64(wasI)))
	rhs := new(big.Int).Mul(big.NewInt(int64(wasN)), big.NewInt(int64(nowI)))
	switch {
	case lhs.Cmp(rhs) > 0 && wasI == nowI:
		return fmt.Sprintf("%s raised from %d to %s", what, wasN, perInterval(nowN, unit, nowI))
	case lhs.Cmp(rhs) > 0:
		return fmt.Sprintf("%s raised from %s to %s", what, perInterval(wasN, unit, wasI), perInterval(nowN, unit, nowI))
	case nowAtOnce > wasAtOnce:
		return fmt.Sprintf("%s burst raised from %d to %d%s at once", what, wasAtOnce, nowAtOnce, unit)
	}
	return ""
}

// rateLimitRemoved says that a rate limit was removed, or "".
func rateLimitRemoved(was, now *config.RateLimit) string {
	if was == nil || now != nil {
		return ""
	}
	return "rate limit removed (was " + perInterval(was.Requests, "", was.Interval) + ")"
}

// rateLimitRaised says how a rate limit was raised, or "".
func rateLimitRaised(was, now *config.RateLimit) string {
	if was == nil || now == nil {
		return ""
	}
	return rateRaised("rate limit", "", was.Requests, was.Interval, was.Requests+was.Burst, now.Requests, now.Interval, now.Requests+now.Burst)
}

// routeRateLimitRemoved: a route's rate limit removed.
func routeRateLimitRemoved(was, now *routeView) string {
	return rateLimitRemoved(was.RateLimit, now.RateLimit)
}

// routeRateLimitRaised: a route's rate limit raised, or its burst.
func routeRateLimitRaised(was, now *routeView) string {
	return rateLimitRaised(was.RateLimit, now.RateLimit)
}

// rateLimitFailsOpen: a route that refused requests while its counters could
// not be read now lets them through.
func rateLimitFailsOpen(was, now *routeView) string {
	if was.RateLimit == nil || now.RateLimit == nil {
		return ""
	}
	return failsOpen("rate limit", was.RateLimit.OnStoreFailure, now.RateLimit.OnStoreFailure)
}

// quotaFailsOpen: as rateLimitFailsOpen, for a quota.
func quotaFailsOpen(was, now *routeView) string {
	if was.Quota == nil || now.Quota == nil {
		return ""
	}
	return failsOpen("quota", was.Quota.OnStoreFailure, now.Quota.OnStoreFailure)
}

// failsOpen says that a limit's onStoreFailure went from deny to allow, or "".
func failsOpen(what, was, now string) string {
	if was != "deny" || now == "deny" {
		return ""
	}
	return what + " now lets requests through when its counter store fails (was deny)"
}

// rateLimitKeyWidened: a route's rate limit shared more widely (see keyLoosened).
func rateLimitKeyWidened(was, now *routeView) string {
	if was.RateLimit == nil || now.RateLimit == nil {
		return ""
	}
	return keyLoosened("rate limit", limitKey(was.RateLimit.By, was), limitKey(now.RateLimit.By, now))
}

// periodRank orders calendar periods by length.
var periodRank = map[string]int{"hour": 0, "day": 1, "month": 2}

// periodsIn is the most periods of one kind in a period of a longer kind (UTC,
// so every day has 24 hours).
var periodsIn = map[[2]string]float64{{"hour", "day"}: 24, {"hour", "month"}: 31 * 24, {"day", "month"}: 31}

// allowsMore reports whether n per period admits more than was per wasPeriod in
// some calendar period: for a longer period, when its whole allowance (which
// may be spent within one old period) is larger; for a shorter one, when as
// many of them as fit in the old period allow more.
func allowsMore(was float64, wasPeriod string, n float64, period string) bool {
	wr, okw := periodRank[wasPeriod]
	nr, okn := periodRank[period]
	if !okw || !okn || nr >= wr {
		return n > was
	}
	return n*periodsIn[[2]string{period, wasPeriod}] > was
}

// quotaRemoved: a route's quota removed.
func quotaRemoved(was, now *routeView) string {
	if was.Quota == nil || now.Quota != nil {
		return ""
	}
	return fmt.Sprintf("quota removed (was %d per %s)", was.Quota.Requests, was.Quota.Period)
}

// quotaRaised: a route's quota admits more in some calendar period.
func quotaRaised(was, now *routeView) string {
	w, n := was.Quota, now.Quota
	if w == nil || n == nil || !allowsMore(float64(w.Requests), w.Period, float64(n.Requests), n.Period) {
		return ""
	}
	if w.Period == n.Period {
		return fmt.Sprintf("quota raised from %d to %d per %s", w.Requests, n.Requests, n.Period)
	}
	return fmt.Sprintf("quota raised from %d per %s to %d per %s", w.Requests, w.Period, n.Requests, n.Period)
}

// quotaKeyWidened: a route's quota shared more widely (see keyLoosened).
func quotaKeyWidened(was, now *routeView) string {
	if was.Quota == nil || now.Quota == nil {
		return ""
	}
	return keyLoosened("quota", limitKey(was.Quota.By, was), limitKey(now.Quota.By, now))
}

// ---- Routes: with what input ----

// maxBodyBytesRaised: a route admits larger bodies.
func maxBodyBytesRaised(was, now *routeView) string {
	if w, n := was.MaxBodyBytes(), now.MaxBodyBytes(); n > w {
		return fmt.Sprintf("maximum body size raised from %d to %d bytes", w, n)
	}
	return ""
}

// maxJSONDepthRaised: a route admits more deeply nested JSON.
func maxJSONDepthRaised(was, now *routeView) string {
	if w, n := was.MaxJSONDepth(), now.MaxJSONDepth(); n > w {
		return fmt.Sprintf("maximum JSON nesting raised from %d to %d", w, n)
	}
	return ""
}

// contentTypes is a route's allowed content types in lower case; nil allows any.
func contentTypes(r *routeView) []string {
	if r.Validation == nil {
		return nil
	}
	var types []string
	for _, t := range r.Validation.ContentTypes {
		types = append(types, strings.ToLower(t))
	}
	return types
}

// contentTypesWidened: a route accepts more content types, or any.
func contentTypesWidened(was, now *routeView) string {
	w, n := contentTypes(was), contentTypes(now)
	switch {
	case len(w) == 0:
		return ""
	case len(n) == 0:
		return "content types no longer restricted (were " + strings.Join(w, ", ") + ")"
	}
	if added := missing(n, w); len(added) > 0 {
		return "content types widened: " + strings.Join(added, ", ") + " now accepted"
	}
	return ""
}

// openAPIRemoved: a route's OpenAPI request validation removed.
func openAPIRemoved(was, now *routeView) string {
	if was.Validation == nil || was.Validation.OpenAPI == "" || (now.Validation != nil && now.Validation.OpenAPI != "") {
		return ""
	}
	return "OpenAPI request validation removed"
}

// jsonSchemaRemoved: a route's JSON Schema request validation removed.
func jsonSchemaRemoved(was, now *routeView) string {
	if was.Validation == nil || was.Validation.JSONSchema == "" || (now.Validation != nil && now.Validation.JSONSchema != "") {
		return ""
	}
	return "JSON Schema request validation removed"
}

// modeRank orders the modes of the WAF and of the prompt-injection guard.
var modeRank = map[string]int{"off": 0, "detect": 1, "block": 2}

// wafMode is a route's WAF mode; "off" without a WAF.
func wafMode(r *routeView) string {
	if r.WAF == nil || r.WAF.Mode == "" {
		return "off"
	}
	return r.WAF.Mode
}

// wafOn reports whether a route's WAF inspects requests.
func wafOn(r *routeView) bool { return wafMode(r) != "off" }

// wafModeLowered: a route's WAF turned off, or from block to detect.
func wafModeLowered(was, now *routeView) string {
	w, n := wafMode(was), wafMode(now)
	switch {
	case modeRank[n] >= modeRank[w]:
		return ""
	case n == "off":
		return fmt.Sprintf("WAF turned off (was %s)", w)
	}
	return fmt.Sprintf("WAF mode lowered from %s to %s", w, n)
}

// wafParanoiaLowered: a route's WAF, on in both versions, at a lower paranoia
// level (fewer rules).
func wafParanoiaLowered(was, now *routeView) string {
	if !wafOn(was) || !wafOn(now) {
		return ""
	}
	level := func(r *routeView) int { return cmp.Or(r.WAF.ParanoiaLevel, defaultParanoiaLevel) }
	if w, n := level(was), level(now); n < w {
		return fmt.Sprintf("WAF paranoia level lowered from %d to %d", w, n)
	}
	return ""
}

// wafThresholdRaised: a route's WAF, on in both versions, needs a higher
// anomaly score to act.
func wafThresholdRaised(was, now *routeView) string {
	if !wafOn(was) || !wafOn(now) {
		return ""
	}
	threshold := func(r *routeView) int { return cmp.Or(r.WAF.AnomalyThreshold, defaultAnomalyThreshold) }
	if w, n := threshold(was), threshold(now); n > w {
		return fmt.Sprintf("WAF anomaly threshold raised from %d to %d", w, n)
	}
	return ""
}

// wafExclusionsAdded: a route's WAF, on in both versions, skips more rules.
func wafExclusionsAdded(was, now *routeView) string {
	if !wafOn(was) || !wafOn(now) {
		return ""
	}
	var added []string
	for _, id := range now.WAF.Exclusions {
		if !slices.Contains(was.WAF.Exclusions, id) {
			added = append(added, strconv.Itoa(id))
		}
	}
	if len(added) == 0 {
		return ""
	}
	return "WAF exclusions added: " + plural(len(added), "rule ", "rules ") + strings.Join(added, ", ")
}

// ---- Routes: AI ----

// aiOf is the AI settings of both versions of a route, when it is an AI route
// in both.
func aiOf(was, now *routeView) (*config.AIRoute, *config.AIRoute, bool) {
	return was.AI, now.AI, was.AI != nil && now.AI != nil
}

// aiProviders is every provider an AI route may call: its providers and those
// its model aliases name, sorted.
func aiProviders(r *routeView) []string {
	if r.AI == nil {
		return nil
	}
	names := slices.Clone(r.AI.Providers)
	for _, models := range r.AI.Models {
		for _, m := range models {
			if p, _, ok := strings.Cut(m, "/"); ok && !slices.Contains(names, p) {
				names = append(names, p)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// aiProvidersAdded: an AI route may call a provider it could not call before.
func aiProvidersAdded(was, now *routeView) string {
	if _, _, ok := aiOf(was, now); !ok {
		return ""
	}
	if added := missing(aiProviders(now), aiProviders(was)); len(added) > 0 {
		return fmt.Sprintf("%s %s added to the route", plural(len(added), "AI provider", "AI providers"), quoteList(added))
	}
	return ""
}

// tokenLimitRemoved: an AI route's token limit removed.
func tokenLimitRemoved(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok || w.TokenLimit == nil || n.TokenLimit != nil {
		return ""
	}
	return "token limit removed (was " + perInterval(w.TokenLimit.Tokens, " tokens", w.TokenLimit.Interval) + ")"
}

// tokenLimitRaised: an AI route's token limit raised.
func tokenLimitRaised(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok || w.TokenLimit == nil || n.TokenLimit == nil {
		return ""
	}
	wt, nt := w.TokenLimit, n.TokenLimit
	return rateRaised("token limit", " tokens", wt.Tokens, wt.Interval, wt.Tokens, nt.Tokens, nt.Interval, nt.Tokens)
}

// tokenLimitKeyWidened: an AI route's token limit shared more widely (see
// keyLoosened).
func tokenLimitKeyWidened(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok || w.TokenLimit == nil || n.TokenLimit == nil {
		return ""
	}
	return keyLoosened("token limit", limitKey(w.TokenLimit.By, was), limitKey(n.TokenLimit.By, now))
}

// usd writes an amount of US dollars: "$50", "$12.5".
func usd(v float64) string { return "$" + strconv.FormatFloat(v, 'f', -1, 64) }

// budgetRemoved: an AI route's budget removed.
func budgetRemoved(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok || w.Budget == nil || n.Budget != nil {
		return ""
	}
	return fmt.Sprintf("budget removed (was %s per %s)", usd(w.Budget.USD), w.Budget.Period)
}

// budgetRaised: an AI route's budget allows more spend in some calendar period.
func budgetRaised(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok || w.Budget == nil || n.Budget == nil {
		return ""
	}
	wb, nb := w.Budget, n.Budget
	switch {
	case !allowsMore(wb.USD, wb.Period, nb.USD, nb.Period):
		return ""
	case wb.Period == nb.Period:
		return fmt.Sprintf("budget raised from %s to %s per %s", usd(wb.USD), usd(nb.USD), nb.Period)
	}
	return fmt.Sprintf("budget raised from %s per %s to %s per %s", usd(wb.USD), wb.Period, usd(nb.USD), nb.Period)
}

// piiRedactionOff: an AI route no longer redacts PII from prompts.
func piiRedactionOff(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	redacts := func(a *config.AIRoute) bool { return a.Guard != nil && a.Guard.RedactPII }
	if !ok || !redacts(w) || redacts(n) {
		return ""
	}
	return "PII redaction turned off"
}

// denyPatternsRemoved: deny patterns taken off an AI route's guard.
func denyPatternsRemoved(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	deny := func(a *config.AIRoute) []string {
		if a.Guard == nil {
			return nil
		}
		return a.Guard.Deny
	}
	if !ok {
		return ""
	}
	if gone := missing(deny(w), deny(n)); len(gone) > 0 {
		return fmt.Sprintf("%s %s removed from the guard", plural(len(gone), "deny pattern", "deny patterns"), quoteList(gone))
	}
	return ""
}

// budgetKey is who shares an AI route's budget: as set, else consumer on
// authenticated routes and the whole route elsewhere.
func budgetKey(b *config.Budget, r *routeView) string {
	switch {
	case b.By != "":
		return b.By
	case authenticated(r):
		return "consumer"
	}
	return "route"
}

// budgetSplit: a budget the whole route shared now counted per caller, so
// that each may spend what all of them could before.
func budgetSplit(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok || w.Budget == nil || n.Budget == nil {
		return ""
	}
	if from, to := budgetKey(w.Budget, was), budgetKey(n.Budget, now); from == "route" && to != "route" {
		return fmt.Sprintf("budget now counted per %s: each may spend what the whole route could before", to)
	}
	return ""
}

// promptInjection is an AI route's prompt-injection guard mode.
func promptInjection(a *config.AIRoute) string {
	if a.Guard == nil || a.Guard.PromptInjection == "" {
		return defaultPromptInjection
	}
	return a.Guard.PromptInjection
}

// promptInjectionLowered: an AI route's prompt-injection guard turned off, or
// from block to detect.
func promptInjectionLowered(was, now *routeView) string {
	w, n, ok := aiOf(was, now)
	if !ok {
		return ""
	}
	wm, nm := promptInjection(w), promptInjection(n)
	switch {
	case modeRank[nm] >= modeRank[wm]:
		return ""
	case nm == "off":
		return fmt.Sprintf("prompt-injection guard turned off (was %s)", wm)
	}
	return fmt.Sprintf("prompt-injection guard lowered from %s to %s", wm, nm)
}

// ---- Listeners ----

// listenerTLS is an HTTPS listener's tls; nil for a plain-HTTP listener.
func listenerTLS(l *config.Listener) *config.ListenerTLS {
	if l.Protocol != "HTTPS" {
		return nil
	}
	return l.TLS
}

// listenerToPlainHTTP: an HTTPS listener turned to plain HTTP.
func listenerToPlainHTTP(was, now *config.Listener) string {
	if was.Protocol != "HTTPS" || now.Protocol == "HTTPS" {
		return ""
	}
	return "listener now serves plain HTTP (was HTTPS)"
}

// minTLSVersionLowered: an HTTPS listener accepts an older TLS version.
func minTLSVersionLowered(was, now *config.Listener) string {
	wt, nt := listenerTLS(was), listenerTLS(now)
	if wt == nil || nt == nil {
		return ""
	}
	w, n := cmp.Or(wt.MinVersion, defaultMinTLSVersion), cmp.Or(nt.MinVersion, defaultMinTLSVersion)
	if n >= w { // "1.2" < "1.3"
		return ""
	}
	return fmt.Sprintf("minimum TLS version lowered from %s to %s", w, n)
}

// clientCertificatesDropped: an HTTPS listener no longer requires client
// certificates.
func clientCertificatesDropped(was, now *config.Listener) string {
	wt, nt := listenerTLS(was), listenerTLS(now)
	if wt == nil || nt == nil || wt.ClientCAFile == "" || nt.ClientCAFile != "" {
		return ""
	}
	return "client certificates no longer required (clientCAFile removed)"
}

// hstsRemoved: an HTTPS listener no longer sends Strict-Transport-Security.
func hstsRemoved(was, now *config.Listener) string {
	wt, nt := listenerTLS(was), listenerTLS(now)
	if wt == nil || nt == nil || wt.HSTS == nil || nt.HSTS != nil {
		return ""
	}
	return "HSTS removed"
}

// hstsMaxAgeLowered: an HTTPS listener's HSTS max-age shortened.
func hstsMaxAgeLowered(was, now *config.Listener) string {
	wt, nt := listenerTLS(was), listenerTLS(now)
	if wt == nil || nt == nil || wt.HSTS == nil || nt.HSTS == nil || nt.HSTS.MaxAge >= wt.HSTS.MaxAge {
		return ""
	}
	return fmt.Sprintf("HSTS max-age lowered from %s to %s", wt.HSTS.MaxAge.D(), nt.HSTS.MaxAge.D())
}

// hstsSubdomainsDropped: an HTTPS listener's HSTS no longer covers subdomains.
func hstsSubdomainsDropped(was, now *config.Listener) string {
	wt, nt := listenerTLS(was), listenerTLS(now)
	if wt == nil || nt == nil || wt.HSTS == nil || nt.HSTS == nil || !wt.HSTS.IncludeSubDomains || nt.HSTS.IncludeSubDomains {
		return ""
	}
	return "HSTS no longer covers subdomains"
}

// ---- The Gateway ----

// proxyPrefix reads a trusted proxy as config writes it (a CIDR), or an address.
func proxyPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// trustedProxiesWidened: the gateway trusts X-Forwarded-For from addresses it
// did not trust before (a new CIDR, or a broader one).
func trustedProxiesWidened(was, now *config.GatewaySpec) string {
	added := notCovered(now.TrustedProxies, was.TrustedProxies)
	if len(added) == 0 {
		return ""
	}
	return "trusted proxies widened: " + strings.Join(added, ", ")
}

// gatewayIPFilterLoosened: the gateway-wide IP filter admits more clients.
func gatewayIPFilterLoosened(was, now *config.GatewaySpec) string {
	return ipFilterLoosened(was.IPFilter, now.IPFilter)
}

// routeIPFilterLoosened: a route's IP filter admits more clients.
func routeIPFilterLoosened(was, now *routeView) string {
	return ipFilterLoosened(was.IPFilter, now.IPFilter)
}

// ipFilterLoosened: an allow list widened (a new or broader entry, or no
// longer restricting at all) or deny entries removed.
func ipFilterLoosened(was, now *config.IPFilter) string {
	if was == nil {
		return ""
	}
	if now == nil {
		return "IP filter removed"
	}
	var reasons []string
	if len(was.Allow) > 0 && len(now.Allow) == 0 {
		reasons = append(reasons, "IP allow list removed: every address admitted")
	} else if added := notCovered(now.Allow, was.Allow); len(was.Allow) > 0 && len(added) > 0 {
		reasons = append(reasons, "IP allow list widened: "+strings.Join(added, ", "))
	}
	if dropped := notCovered(was.Deny, now.Deny); len(dropped) > 0 {
		reasons = append(reasons, "IP deny list no longer covers: "+strings.Join(dropped, ", "))
	}
	return strings.Join(reasons, "; ")
}

// notCovered lists the entries of list that no entry of by covers.
func notCovered(list, by []string) []string {
	var out []string
	for _, raw := range list {
		p, ok := proxyPrefix(raw)
		covered := slices.ContainsFunc(by, func(other string) bool {
			o, otherOK := proxyPrefix(other)
			return other == raw || (ok && otherOK && o.Bits() <= p.Bits() && o.Contains(p.Addr()))
		})
		if !covered {
			out = append(out, raw)
		}
	}
	return out
}

// limits is a Gateway's header limits, the defaults when unset.
func limits(s *config.GatewaySpec) (maxBytes, maxCount int) {
	maxBytes, maxCount = defaultMaxHeaderBytes, defaultMaxHeaderCount
	if l := s.Limits; l != nil {
		maxBytes, maxCount = cmp.Or(l.MaxHeaderBytes, maxBytes), cmp.Or(l.MaxHeaderCount, maxCount)
	}
	return maxBytes, maxCount
}

// maxHeaderBytesRaised: the gateway accepts larger request headers.
func maxHeaderBytesRaised(was, now *config.GatewaySpec) string {
	w, _ := limits(was)
	n, _ := limits(now)
	if n <= w {
		return ""
	}
	return fmt.Sprintf("maximum header bytes raised from %d to %d", w, n)
}

// bodyIdleTimeoutRaised: a stalled request body is tolerated for longer
// (slow-body protection loosened).
func bodyIdleTimeoutRaised(was, now *config.GatewaySpec) string {
	idle := func(s *config.GatewaySpec) time.Duration {
		if s.Limits != nil && s.Limits.BodyIdleTimeout > 0 {
			return s.Limits.BodyIdleTimeout.D()
		}
		return 30 * time.Second
	}
	w, n := idle(was), idle(now)
	if n <= w {
		return ""
	}
	return fmt.Sprintf("request bodies may stall for %v instead of %v", n, w)
}

// maxHeaderCountRaised: the gateway accepts more request headers.
func maxHeaderCountRaised(was, now *config.GatewaySpec) string {
	_, w := limits(was)
	_, n := limits(now)
	if n <= w {
		return ""
	}
	return fmt.Sprintf("maximum header count raised from %d to %d", w, n)
}

// ---- Upstreams ----

// upstreamVerificationOff: the gateway no longer verifies a Service's
// certificate.
func upstreamVerificationOff(was, now *config.ServiceSpec) string {
	skips := func(s *config.ServiceSpec) bool { return s != nil && s.TLS != nil && s.TLS.InsecureSkipVerify }
	switch {
	case !skips(now):
		return ""
	case was == nil:
		return "a new Service whose certificate is not verified (insecureSkipVerify)"
	case skips(was):
		return ""
	}
	return "upstream certificate verification turned off (insecureSkipVerify)"
}

// upstreamCAFileRemoved: a Service's certificate was checked against its own
// caFile and is now checked against the system roots, which trust many more
// CAs (turning verification off is upstreamVerificationOff's).
func upstreamCAFileRemoved(was, now *config.ServiceSpec) string {
	if was.TLS == nil || was.TLS.CAFile == "" || (now.TLS != nil && (now.TLS.CAFile != "" || now.TLS.InsecureSkipVerify)) {
		return ""
	}
	return "upstream certificates verified against the system roots instead of caFile"
}

// serviceURLs is a Service's url or urls.
func serviceURLs(s *config.ServiceSpec) []string {
	if s.URL != "" {
		return []string{s.URL}
	}
	return s.URLs
}

// downgraded lists the plain-http URLs of now that reach a host that was reached
// over https (or any, when every old URL was https).
func downgraded(was, now []string) []string {
	secure := map[string]bool{}
	allSecure := len(was) > 0
	for _, raw := range was {
		u, err := url.Parse(raw)
		if err == nil && strings.EqualFold(u.Scheme, "https") {
			secure[strings.ToLower(u.Hostname())] = true
		} else {
			allSecure = false
		}
	}
	var out []string
	for _, raw := range now {
		u, err := url.Parse(raw)
		if err == nil && strings.EqualFold(u.Scheme, "http") && (allSecure || secure[strings.ToLower(u.Hostname())]) {
			out = append(out, raw)
		}
	}
	return out
}

// serviceURLsDowngraded: a Service reached over https is now reached over
// plain http.
func serviceURLsDowngraded(was, now *config.ServiceSpec) string {
	if urls := downgraded(serviceURLs(was), serviceURLs(now)); len(urls) > 0 {
		return "upstream traffic downgraded to plain HTTP: " + strings.Join(urls, ", ")
	}
	return ""
}

// aiBaseURLDowngraded: an AI provider reached over https is now reached over
// plain http, its API key with it. (An unset baseURL is the vendor's default
// and is not judged.)
func aiBaseURLDowngraded(was, now *config.AIProviderSpec) string {
	if was.BaseURL == "" || len(downgraded([]string{was.BaseURL}, []string{now.BaseURL})) == 0 {
		return ""
	}
	return "provider base URL downgraded to plain HTTP: " + now.BaseURL
}

// ---- AuthProviders ----

// tokenProviders reports whether both versions of an AuthProvider check tokens
// (oauth2 or jwt), which the AuthProvider rules judge.
func tokenProviders(was, now *config.AuthProviderSpec) bool {
	return was.Type != "apiKey" && now.Type != "apiKey"
}

// algorithmsWidened: an AuthProvider accepts more signature algorithms.
func algorithmsWidened(was, now *config.AuthProviderSpec) string {
	if !tokenProviders(was, now) {
		return ""
	}
	algs := func(s *config.AuthProviderSpec) []string {
		if len(s.Algorithms) == 0 {
			return defaultAlgorithms
		}
		return s.Algorithms
	}
	if added := missing(algs(now), algs(was)); len(added) > 0 {
		return "accepted signature algorithms widened: " + strings.Join(added, ", ")
	}
	return ""
}

// clockSkewRaised: an AuthProvider accepts tokens further past their expiry.
func clockSkewRaised(was, now *config.AuthProviderSpec) string {
	if !tokenProviders(was, now) {
		return ""
	}
	skew := func(s *config.AuthProviderSpec) time.Duration { return cmp.Or(s.ClockSkew.D(), defaultClockSkew) }
	if w, n := skew(was), skew(now); n > w {
		return fmt.Sprintf("clock skew raised from %s to %s", w, n)
	}
	return ""
}

// audiencesLoosened: an AuthProvider no longer checks the audience, or accepts
// more of them. A token needs one of the audiences, so removing one narrows.
func audiencesLoosened(was, now *config.AuthProviderSpec) string {
	switch {
	case !tokenProviders(was, now) || len(was.Audiences) == 0:
		return ""
	case len(now.Audiences) == 0:
		return "audience check removed (was " + strings.Join(was.Audiences, ", ") + ")"
	}
	if added := missing(now.Audiences, was.Audiences); len(added) > 0 {
		return "accepted audiences widened: " + strings.Join(added, ", ")
	}
	return ""
}

// issuerChanged: an AuthProvider trusts another issuer, or no longer checks it.
func issuerChanged(was, now *config.AuthProviderSpec) string {
	switch {
	case !tokenProviders(was, now) || was.Issuer == "" || now.Issuer == was.Issuer:
		return ""
	case now.Issuer == "":
		return "issuer check removed (was " + was.Issuer + ")"
	}
	return fmt.Sprintf("issuer changed from %s to %s", was.Issuer, now.Issuer)
}

// ---- Consumers ----

// consumerRateLimitRemoved: a Consumer's rate limit removed.
func consumerRateLimitRemoved(was, now *config.ConsumerSpec) string {
	return rateLimitRemoved(was.RateLimit, now.RateLimit)
}

// consumerRateLimitRaised: a Consumer's rate limit raised, or its burst.
func consumerRateLimitRaised(was, now *config.ConsumerSpec) string {
	return rateLimitRaised(was.RateLimit, now.RateLimit)
}

// ---- The Monitor ----

// autoBlockOff: auto-block turned off, or the Monitor that enabled it removed.
func autoBlockOff(was, now *config.MonitorSpec) string {
	on := func(m *config.MonitorSpec) bool { return m != nil && m.AutoBlock != nil && m.AutoBlock.Enabled }
	if !on(was) || on(now) {
		return ""
	}
	return "auto-block turned off"
}

// detectorsLessSensitive: a detector turned off, or set to alert later (a
// threshold, ratio or factor raised, a window shortened), judged on the
// detectors' effective settings, defaults included (see
// detect.LessSensitive). A Monitor removed judges like one with no settings.
func detectorsLessSensitive(was, now *config.MonitorSpec) string {
	effective := func(m *config.MonitorSpec) (detect.Config, bool) {
		if m == nil {
			return detect.DefaultConfig(), true
		}
		cfg, err := detect.ParseSettings(m.Detectors)
		return cfg, err == nil
	}
	w, okw := effective(was)
	n, okn := effective(now)
	if !okw || !okn {
		return ""
	}
	return strings.Join(detect.LessSensitive(w, n), "; ")
}

// ---- Helpers ----

// missing lists the items of a that b lacks, in a's order.
func missing(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// quoteList writes names quoted: `"a", "b"`.
func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

// plural picks the singular or the plural form for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listOrNil is a list as a Change shows it: nil when empty.
func listOrNil(list []string) any {
	if len(list) == 0 {
		return nil
	}
	return list
}
