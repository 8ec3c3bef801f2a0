package ratelimit

import (
	"context"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// Limiter is one route's rate-limit step: which key a request counts
// against, and under which limit.
type Limiter struct {
	// denyOnFailure refuses requests while the counter store cannot answer
	// (onStoreFailure: deny); the default lets them through.
	denyOnFailure bool
	keys          keyer
	limit         Limit
	policy        string // limit's RateLimit-Policy, rendered once
	overrides     map[string]override
}

type override struct {
	limit  Limit
	policy string
}

// NewLimiter builds a route's step. by is consumer, ip, route or
// header:NAME ("" = consumer on authenticated routes, ip elsewhere, decided
// by the caller); overrides are per-consumer limits (Consumer manifests).
func NewLimiter(route string, limit Limit, by string, overrides map[string]Limit, denyOnFailure bool) *Limiter {
	l := &Limiter{denyOnFailure: denyOnFailure, keys: newKeyer(route, by), limit: limit, policy: limit.PolicyHeader(), overrides: map[string]override{}}
	for consumer, o := range overrides {
		l.overrides[consumer] = override{limit: o, policy: o.PolicyHeader()}
	}
	return l
}

// Take counts c against its key in counter. When the counter fails (Redis
// unreachable), the error is returned with the result the route's
// onStoreFailure asks for: allowed, or refused.
func (l *Limiter) Take(counter Counter, c *policy.Call, now time.Time) (Result, error) {
	limit, policy := l.limit, l.policy
	if o, ok := l.overrides[c.Identity.Consumer]; ok && c.Identity.Consumer != "" {
		limit, policy = o.limit, o.policy
	}
	res, err := counter.TakeN(callContext(c), l.keys.key(c), limit, 1, now)
	res.Policy = policy
	if err != nil {
		res = Result{Allowed: !l.denyOnFailure, Limit: limit.Requests + limit.Burst, Policy: policy, RetryAfter: time.Second}
	}
	return res, err
}

// QuotaLimiter is one route's quota step: which key a request counts
// against, per which calendar period.
type QuotaLimiter struct {
	denyOnFailure bool // as Limiter's
	keys          keyer
	quota         Quota
}

// NewQuotaLimiter builds a route's quota step; by is as NewLimiter's.
func NewQuotaLimiter(route string, q Quota, by string, denyOnFailure bool) *QuotaLimiter {
	return &QuotaLimiter{denyOnFailure: denyOnFailure, keys: newKeyer(route, by), quota: q}
}

// Take counts c against its key in counter; on a counter failure, as
// Limiter.Take.
func (l *QuotaLimiter) Take(counter QuotaCounter, c *policy.Call, now time.Time) (Result, error) {
	res, err := counter.CountN(callContext(c), l.keys.key(c), l.quota, 1, now)
	if err != nil {
		start, end := l.quota.Period.bounds(now)
		res = l.quota.result(!l.denyOnFailure, 0, start, end, now)
		res.RetryAfter = time.Second
	}
	return res, err
}

func callContext(c *policy.Call) context.Context {
	if c.Request != nil {
		return c.Request.Context()
	}
	return context.Background()
}

// keyer derives the key a request counts against: the route and what the
// limit is counted by.
type keyer struct {
	route  string
	by     string // consumer | ip | route | header
	header string // for by header
}

func newKeyer(route, by string) keyer {
	k := keyer{route: route, by: by}
	if name, ok := strings.CutPrefix(by, "header:"); ok {
		k.by, k.header = "header", name
	}
	return k
}

// key is the route and what the limit is counted by. A consumer limit on an
// anonymous request, or a header limit without the header, counts by the
// client's address instead, so that nobody escapes a limit by omission.
func (k keyer) key(c *policy.Call) string {
	switch k.by {
	case "route":
		return k.route
	case "consumer":
		if c.Identity.Consumer != "" {
			return k.route + "\x00c:" + c.Identity.Consumer
		}
	case "header":
		if v := c.Request.Header.Get(k.header); v != "" {
			return k.route + "\x00h:" + v
		}
	}
	return k.route + "\x00ip:" + c.ClientIP
}
