package ai

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
)

// storeTimeout bounds a counter store call; settling runs after the client
// may have gone, so it does not use the request's context.
const storeTimeout = 2 * time.Second

// reservation is what a call holds against its route's token limit and
// budget until it settles.
type reservation struct {
	tokenKey  string
	tokens    int64
	budgetKey string
	microUSD  int64
}

// limitKey is the counter a call counts against: by consumer, key, ip or the
// whole route, as the limit says.
func limitKey(kind, route, by string, call Call) string {
	var v string
	switch by {
	case "consumer":
		v = call.Consumer
	case "key":
		v = call.KeyID
	case "ip":
		v = call.ClientIP
	}
	return "ai" + kind + ":" + route + ":" + by + ":" + v
}

// reserve takes tokens and microUSD from the route's token limit and budget,
// or refuses the call: 429 with Retry-After when they do not fit, 503 when a
// counter store fails (a call is never let through uncounted).
func (rt *Route) reserve(call Call, tokens, microUSD int64, h http.Header) (reservation, *httperr.Error) {
	var res reservation
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	now := time.Now()
	if tl := rt.cfg.Tokens; tl != nil {
		key := limitKey("tok", rt.cfg.Route, tl.By, call)
		r, err := rt.cfg.Counters.Tokens.TakeN(ctx, key, tl.Limit, tokens, now)
		if err != nil {
			return res, rt.storeFailed(err)
		}
		if !r.Allowed {
			detail := "token limit exceeded; retry later"
			if tokens > int64(tl.Limit.Requests+tl.Limit.Burst) {
				detail = fmt.Sprintf("this call reserves %d tokens (the prompt's estimate plus max_tokens, %d when unset), more than the route's token limit of %d; lower max_tokens",
					tokens, DefaultMaxTokens, tl.Limit.Requests)
			}
			e := limited(detail, r.RetryAfter)
			tokenHeaders(e.Header, r)
			return res, e
		}
		tokenHeaders(h, r)
		res.tokenKey, res.tokens = key, tokens
	}
	if b := rt.cfg.Budget; b != nil {
		key := limitKey("usd", rt.cfg.Route, b.By, call)
		r, err := rt.cfg.Counters.Budgets.CountN(ctx, key, b.Quota, microUSD, now)
		if err != nil {
			rt.settle(res, 0, 0)
			return reservation{}, rt.storeFailed(err)
		}
		if !r.Allowed {
			rt.settle(res, 0, 0)
			return reservation{}, limited("budget exhausted for this period", r.Reset)
		}
		res.budgetKey, res.microUSD = key, microUSD
	}
	return res, nil
}

// tokenHeaders tells the client where it stands against the token limit,
// in the headers OpenAI's API uses for its own: the limit, what remains
// after this call's reservation, and the time until the limit is whole
// again.
func tokenHeaders(h http.Header, r ratelimit.Result) {
	h["X-Ratelimit-Limit-Tokens"] = []string{strconv.Itoa(r.Limit)}
	h["X-Ratelimit-Remaining-Tokens"] = []string{strconv.Itoa(max(0, r.Remaining))}
	h["X-Ratelimit-Reset-Tokens"] = []string{r.Reset.Round(time.Millisecond).String()}
}

// settle replaces a reservation with what the call used.
func (rt *Route) settle(res reservation, tokens, microUSD int64) {
	if res.tokenKey == "" && res.budgetKey == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	now := time.Now()
	if res.tokenKey != "" && tokens != res.tokens {
		if err := rt.cfg.Counters.Tokens.Adjust(ctx, res.tokenKey, rt.cfg.Tokens.Limit, tokens-res.tokens, now); err != nil {
			rt.storeError(err)
		}
	}
	if res.budgetKey != "" && microUSD != res.microUSD {
		if err := rt.cfg.Counters.Budgets.AdjustCount(ctx, res.budgetKey, rt.cfg.Budget.Quota, microUSD-res.microUSD, now); err != nil {
			rt.storeError(err)
		}
	}
}

func (rt *Route) storeError(err error) {
	if f := rt.cfg.Counters.OnStoreError; f != nil {
		f(err)
	}
	rt.cfg.Log.Warn("ai: counter store failed", "route", rt.cfg.Route, "err", err)
}

func (rt *Route) storeFailed(err error) *httperr.Error {
	rt.storeError(err)
	e := httperr.New(http.StatusServiceUnavailable, httperr.DecisionLimited, "token limit and budget counting is unavailable; retry later", err)
	e.Header = http.Header{"Retry-After": {"1"}}
	return e
}

func limited(detail string, retry time.Duration) *httperr.Error {
	e := httperr.New(http.StatusTooManyRequests, httperr.DecisionLimited, detail, nil)
	secs := max(1, int64((retry+time.Second-1)/time.Second))
	e.Header = http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}
	return e
}

// cost is what tokens cost at price, in US dollars.
func cost(p Price, prompt, completion int64) float64 {
	return (float64(prompt)*p.InputPerMTok + float64(completion)*p.OutputPerMTok) / 1e6
}

// microUSD rounds a cost up to whole micro-dollars, the budget counters' unit.
func microUSD(usd float64) int64 { return int64(math.Ceil(usd * 1e6)) }

// budgetEstimate is the most a call can cost on any of its candidates: its
// prompt estimate and completion limit at the dearest candidate's prices.
// A candidate without a price cannot be counted, so on a route with a
// budget it refuses the call (config validation catches most such models
// before they are applied).
func (rt *Route) budgetEstimate(targets []Target, prompt, completion int64) (int64, *httperr.Error) {
	if rt.cfg.Budget == nil {
		return 0, nil
	}
	var most float64
	for _, t := range targets {
		p, ok := t.Provider.price(t.Model)
		if !ok {
			return 0, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid,
				fmt.Sprintf("model %s has no price, so this route's budget cannot count it", t.Name()), nil)
		}
		most = max(most, cost(p, prompt, completion))
	}
	return microUSD(most), nil
}
