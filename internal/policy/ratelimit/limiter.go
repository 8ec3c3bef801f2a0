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
	route         string
	limit         Limit
	policy        string // limit's RateLimit-Policy, rendered once
	by            string // consumer | ip | route | header
	header        string // for by header
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
	l := &Limiter{denyOnFailure: denyOnFailure, route: route, limit: limit, policy: limit.PolicyHeader(), by: by, overrides: map[string]override{}}
	for consumer, o := range overrides {
		l.overrides[consumer] = override{limit: o, policy: o.PolicyHeader()}
	}
	if name, ok := strings.CutPrefix(by, "header:"); ok {
		l.by, l.header = "header", name
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
	ctx := context.Background()
	if c.Request != nil {
		ctx = c.Request.Context()
	}
	res, err := counter.Take(ctx, l.key(c), limit, now)
	res.Policy = policy
	if err != nil {
		res = Result{Allowed: !l.denyOnFailure, Limit: limit.Requests + limit.Burst, Policy: policy, RetryAfter: time.Second}
	}
	return res, err
}

// key is the route and what the limit is counted by. A consumer limit on an
// anonymous request, or a header limit without the header, counts by the
// client's address instead, so that nobody escapes a limit by omission.
func (l *Limiter) key(c *policy.Call) string {
	switch l.by {
	case "route":
		return l.route
	case "consumer":
		if c.Identity.Consumer != "" {
			return l.route + "\x00c:" + c.Identity.Consumer
		}
	case "header":
		if v := c.Request.Header.Get(l.header); v != "" {
			return l.route + "\x00h:" + v
		}
	}
	return l.route + "\x00ip:" + c.ClientIP
}
