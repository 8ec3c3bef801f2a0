package snapshot

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
	"github.com/portcullis/portcullis/internal/reqpath"
)

// Decision is what a snapshot decides for one request before any upstream is
// called: the route to forward to, or the error to answer with.
type Decision struct {
	Route    *Route          // the matched route; nil when refused before routing
	Path     string          // the normalized path, "" when the path was refused
	Identity policy.Identity // who the authentication step found (zero: anonymous)
	Err      *httperr.Error  // nil: forward to Route
	// RateLimit is the rate-limit and quota steps' result when the route
	// has either (Limited says so): its headers go on the response either
	// way.
	RateLimit ratelimit.Result
	Limited   bool
}

// Decide takes a request from clientIP (as the gateway determined it) through
// the listener's checks (header limits, the gateway's IP filter, the
// incident-response blocks on addresses, path normalization), its router and
// the route's policy chain. It only reads r, so the same decision can be
// evaluated for a candidate policy beside the active one, or offline in a
// policy test.
func (s *Snapshot) Decide(l *Listener, r *http.Request, clientIP string) Decision {
	if err := s.checkHeaders(r); err != nil {
		return Decision{Err: err}
	}
	if s.IPFilter != nil {
		if err := s.IPFilter.CheckIP(clientIP); err != nil {
			return Decision{Err: err}
		}
	}
	if blocks := s.blocks.Load(); blocks.HasIPs() {
		if p, ok := blocks.BlockedIP(clientIP, time.Now()); ok {
			return Decision{Err: blocked("client address", p.String())}
		}
	}
	path, err := reqpath.Normalize(r.URL.EscapedPath())
	if err != nil {
		return Decision{Err: httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "invalid request path: "+err.Error(), err)}
	}
	match := l.Router.Match(r.Host, path, r.Method)
	switch {
	case match.Found:
		return match.Route.runChain(r, clientIP, s, Decision{Route: match.Route, Path: path})
	case match.Allow != "":
		e := httperr.New(http.StatusMethodNotAllowed, httperr.DecisionMethodNotAllowed, "method not allowed", nil)
		e.Header = http.Header{"Allow": {match.Allow}}
		return Decision{Path: path, Err: e}
	default:
		return Decision{Path: path, Err: httperr.New(http.StatusNotFound, httperr.DecisionNotFound, "no route matches this request", nil)}
	}
}

// runChain runs the route's policy chain in its fixed order: IP filter,
// authentication, the incident-response blocks on the consumer and key it
// found, authorization, rate limit, quota. The first refusal ends it.
func (rt *Route) runChain(r *http.Request, clientIP string, s *Snapshot, d Decision) Decision {
	if rt.IPFilter != nil {
		if d.Err = rt.IPFilter.CheckIP(clientIP); d.Err != nil {
			return d
		}
	}
	if rt.Authn == nil && len(rt.Authz) == 0 && rt.RateLimit == nil && rt.Quota == nil {
		return d // a bare route: not even a clock read
	}
	now := time.Now()
	if rt.Authn != nil {
		d.Identity, d.Err = rt.Authn.Authenticate(r, now)
		if d.Err != nil {
			return d
		}
		if d.Err = s.checkIdentityBlocks(d.Identity, now); d.Err != nil {
			return d
		}
	}
	if len(rt.Authz) == 0 && rt.RateLimit == nil && rt.Quota == nil {
		return d
	}
	call := policy.Call{Request: r, ClientIP: clientIP, Identity: d.Identity, Now: now}
	for _, z := range rt.Authz {
		if d.Err = z.Check(&call); d.Err != nil {
			return d
		}
	}
	if rt.RateLimit != nil {
		res, err := rt.RateLimit.Take(s.limits, &call, now)
		if d = s.counted(d, res, err, "rate limit"); d.Err != nil {
			return d // a refused request does not count against the quota
		}
	}
	if rt.Quota != nil {
		res, err := rt.Quota.Take(s.quotas, &call, now)
		d = s.counted(d, res, err, "quota")
	}
	return d
}

// checkIdentityBlocks refuses an authenticated caller whose consumer or API
// key is blocked. It runs right after authentication, the first point at
// which the gateway knows who is calling.
func (s *Snapshot) checkIdentityBlocks(id policy.Identity, now time.Time) *httperr.Error {
	blocks := s.blocks.Load()
	if !blocks.HasIdentities() {
		return nil
	}
	if blocks.BlockedConsumer(id.Consumer, now) {
		return blocked("consumer", id.Consumer)
	}
	if blocks.BlockedKey(id.KeyID, now) {
		return blocked("API key", id.KeyID)
	}
	return nil
}

// blocked is the refusal of a blocked caller: 403 with decision blocked. The
// answer does not say which block applies, so that an attacker learns
// nothing about the list; the log's cause does.
func blocked(what, value string) *httperr.Error {
	return httperr.New(http.StatusForbidden, httperr.DecisionBlocked, "blocked by the gateway's incident response",
		errors.New(what+" "+value+" is blocked"))
}

// counted folds a rate-limit or quota step's result into d: its headers
// (with two limits, the one closer to running out speaks for both), and a
// 429 when it refused. When the counter store failed, the step's result is
// what its onStoreFailure asks for: a refusal is a 503, not the caller's
// limit, and an admission carries no promise in headers.
func (s *Snapshot) counted(d Decision, res ratelimit.Result, err error, what string) Decision {
	if err != nil {
		if s.onLimitStoreErr != nil {
			s.onLimitStoreErr(err)
		}
		if !res.Allowed {
			d.Limited = false
			d.Err = httperr.New(http.StatusServiceUnavailable, httperr.DecisionLimited, what+" counting is unavailable; retry later", err)
			d.Err.Header = http.Header{"Retry-After": {"1"}}
		}
		return d
	}
	if d.Limited {
		res = ratelimit.Combine(d.RateLimit, res)
	}
	d.RateLimit, d.Limited = res, true
	if !res.Allowed {
		d.Err = httperr.New(http.StatusTooManyRequests, httperr.DecisionLimited, what+" exceeded; retry later", nil)
		d.Err.Header = http.Header{}
		SetRateLimitHeaders(d.Err.Header, d.RateLimit)
	}
	return d
}

// SetRateLimitHeaders writes a rate-limit result as the IETF httpapi draft's
// headers (delta-seconds rounded up), plus Retry-After when refused.
func SetRateLimitHeaders(h http.Header, res ratelimit.Result) {
	h["Ratelimit-Limit"] = []string{strconv.Itoa(res.Limit)}
	h["Ratelimit-Remaining"] = []string{strconv.Itoa(res.Remaining)}
	h["Ratelimit-Reset"] = []string{strconv.FormatInt(ceilSeconds(res.Reset), 10)}
	h["Ratelimit-Policy"] = []string{res.Policy}
	if !res.Allowed {
		h["Retry-After"] = []string{strconv.FormatInt(max(1, ceilSeconds(res.RetryAfter)), 10)}
	}
}

func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// checkHeaders enforces the Gateway's header limits (431).
func (s *Snapshot) checkHeaders(r *http.Request) *httperr.Error {
	count, size := 0, 0
	for k, vs := range r.Header {
		for _, v := range vs {
			count++
			size += len(k) + len(v) + 4
		}
	}
	if count > s.MaxHeaderCount || size > s.MaxHeaderBytes {
		return httperr.New(http.StatusRequestHeaderFieldsTooLarge, httperr.DecisionInvalid, "request headers too large or too many", nil)
	}
	return nil
}
