package detect

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// replayStart is the simulated clock's origin.
var replayStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// source emits one stream of simulated requests: a steady consumer, an
// anonymous visitor or an attacker.
type source struct {
	next, end int64                                                // nanoseconds since replayStart
	emit      func(r *rand.Rand, at int64) (ev Event, gap float64) // gap: seconds to its next request
}

// schedule merges sources in time order (a binary min-heap on next).
type schedule []*source

func (s schedule) less(i, j int) bool { return s[i].next < s[j].next }

func (s schedule) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(s) {
			return
		}
		m := l
		if r := l + 1; r < len(s) && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}

func newSchedule(srcs []*source) schedule {
	s := schedule(srcs)
	for i := len(s)/2 - 1; i >= 0; i-- {
		s.down(i)
	}
	return s
}

// run replays every source until each ends, feeding eng, ticking it once a
// simulated second, and returns every alert it produced in order.
func (s schedule) run(r *rand.Rand, eng *Engine) (alerts []Alert, events int) {
	lastTick := int64(0)
	for len(s) > 0 {
		src := s[0]
		at := src.next
		if at-lastTick >= int64(time.Second) {
			lastTick = at
			eng.Tick(replayStart.Add(time.Duration(at)))
		}
		ev, gap := src.emit(r, at)
		ev.Time = replayStart.Add(time.Duration(at))
		alerts = append(alerts, eng.Observe(ev)...)
		events++
		src.next = at + int64(gap*float64(time.Second))
		if src.next >= src.end {
			s[0] = s[len(s)-1]
			s = s[:len(s)-1]
		}
		s.down(0)
	}
	return alerts, events
}

var replayRoutes = []string{"orders", "users", "catalog", "search"}

// replayPaths[route][n] is "/route/n": ordinary paths, built once.
var replayPaths = func() [][]string {
	paths := make([][]string, len(replayRoutes))
	for i, route := range replayRoutes {
		for n := range 500 {
			paths[i] = append(paths[i], "/"+route+"/"+strconv.Itoa(n))
		}
	}
	return paths
}()

// ordinary returns the emitter of one authenticated consumer's ordinary
// traffic at rate requests per second (exponential gaps: steady with
// jitter): ~2% 404s on random paths, a few 401s an hour (a stale key), 0.3%
// 429s, 0.1% upstream 5xx and the odd WAF false positive.
func ordinary(i int, rate float64) func(r *rand.Rand, at int64) (Event, float64) {
	ip := fmt.Sprintf("10.0.%d.%d", i/200, i%200+1)
	consumer, key, stale := fmt.Sprintf("c%02d", i), fmt.Sprintf("k%02d", i), fmt.Sprintf("stale%02d", i)
	unauth := 3.0 / 3600 / rate // three 401s an hour whatever the rate
	return func(r *rand.Rand, _ int64) (Event, float64) {
		n := r.IntN(len(replayRoutes) * 500)
		route := replayRoutes[n/500]
		ev := Event{ClientIP: ip, Consumer: consumer, KeyID: key, Route: route,
			Path: replayPaths[n/500][n%500], Status: 200, Decision: "allowed"}
		switch p := r.Float64(); {
		case p < 0.02:
			ev.Path = "/" + route + "/x" + strconv.FormatUint(r.Uint64()%1e9, 36)
			if r.IntN(2) == 0 {
				ev.Route, ev.Status, ev.Decision = "", 404, "not_found" // the router's 404
			} else {
				ev.Status = 404 // the upstream's
			}
		case p < 0.02+unauth:
			ev.Consumer, ev.KeyID, ev.Status, ev.Decision, ev.UnknownKeyHash = "", "", 401, "unauthenticated", stale
		case p < 0.023+unauth:
			ev.Status, ev.Decision = 429, "limited"
		case p < 0.024+unauth:
			ev.Status, ev.Decision = 502, "upstream_error"
		case p < 0.02405+unauth:
			ev.Status, ev.Decision = 403, "waf"
		}
		return ev, r.ExpFloat64() / rate
	}
}

// anonymous returns the emitter of an anonymous visitor on a public route.
func anonymous(i int) func(r *rand.Rand, at int64) (Event, float64) {
	ip := fmt.Sprintf("192.0.2.%d", i+1)
	return func(r *rand.Rand, _ int64) (Event, float64) {
		ev := Event{ClientIP: ip, Route: "public", Path: "/public/" + strconv.Itoa(r.IntN(50)), Status: 200, Decision: "allowed"}
		if r.Float64() < 0.02 {
			ev.Route, ev.Path, ev.Status, ev.Decision = "", "/public/x"+strconv.FormatUint(r.Uint64()%1e9, 36), 404, "not_found"
		}
		return ev, r.ExpFloat64() / 0.2
	}
}

// aiUser returns the emitter of one AI gateway user's steady calls at rate
// calls per second: consumer aiNN, or an anonymous address when anonymous,
// 300–4,000 tokens a call (prompt and completion), and 1% of calls refused
// by the route's token limit (no tokens used).
func aiUser(i int, rate float64, anonymous bool) func(r *rand.Rand, at int64) (Event, float64) {
	ip, consumer, route := fmt.Sprintf("10.1.0.%d", i+1), fmt.Sprintf("ai%02d", i), "llm"
	if anonymous {
		ip, consumer, route = fmt.Sprintf("192.0.3.%d", i+1), "", "llm-public"
	}
	return func(r *rand.Rand, _ int64) (Event, float64) {
		ev := Event{ClientIP: ip, Consumer: consumer, Route: route, Path: "/" + route + "/v1/chat/completions",
			Status: 200, Decision: "allowed", Tokens: 300 + r.Int64N(3700)}
		if r.Float64() < 0.01 {
			ev.Status, ev.Decision, ev.Tokens = 429, "limited", 0
		}
		return ev, r.ExpFloat64() / rate
	}
}

// attack is one injected attack and the alert it must raise.
type attack struct {
	name          string
	start         time.Duration
	rate          float64 // requests per second
	emit          func(r *rand.Rand, at int64) Event
	kind, subject string
	also          [][2]string   // further kind/subject pairs it may legitimately raise
	within        time.Duration // how soon after start it must be detected; 0: 10s
}

func TestReplayDetectsEachAttackAndStaysQuietOnOrdinaryTraffic(t *testing.T) {
	const (
		hour      = time.Hour
		consumers = 50
		visitors  = 100
		attackLen = time.Minute
		surgeOf   = 30 // the consumer that surges: ~6.1 req/s, 20× for a minute
		aiUsers   = 20 // AI gateway consumers at 0.1–1 calls/s, 2,150 tokens a call on average
		aiVisitor = 10 // anonymous AI callers at 0.05 calls/s
		burnOf    = 10 // the AI consumer whose key leaks: ~0.34 calls/s, ~43,000 tokens a minute
	)
	rates := make([]float64, consumers)
	for i := range rates {
		rates[i] = math.Pow(20, float64(i)/(consumers-1)) // 1–20 req/s, evenly spread on a log scale
	}
	aiRates := make([]float64, aiUsers)
	for i := range aiRates {
		aiRates[i] = 0.1 * math.Pow(10, float64(i)/(aiUsers-1)) // 0.1–1 calls/s on a log scale
	}

	attacks := []attack{
		{name: "brute force", start: 10 * time.Minute, rate: 5,
			emit: func(*rand.Rand, int64) Event {
				return Event{ClientIP: "203.0.113.10", Route: "orders", Path: "/orders", Status: 401, Decision: "unauthenticated"}
			},
			kind: KindAuthBruteforce, subject: "ip:203.0.113.10"},
		{name: "key enumeration", start: 20 * time.Minute, rate: 2,
			emit: func(r *rand.Rand, _ int64) Event {
				return Event{ClientIP: "203.0.113.20", Route: "users", Path: "/users", Status: 401, Decision: "unauthenticated",
					UnknownKeyHash: strconv.FormatUint(r.Uint64(), 16)}
			},
			kind: KindKeyEnumeration, subject: "ip:203.0.113.20",
			also: [][2]string{{KindAuthBruteforce, "ip:203.0.113.20"}}},
		{name: "path scan", start: 30 * time.Minute, rate: 10,
			emit: func(r *rand.Rand, _ int64) Event {
				ev := Event{ClientIP: "203.0.113.30", Path: "/" + strconv.FormatUint(r.Uint64()%1e9, 36) + "/.env", Status: 404, Decision: "not_found"}
				if r.IntN(10) == 0 {
					ev.Route, ev.Path, ev.Status, ev.Decision = "catalog", "/catalog/"+strconv.Itoa(r.IntN(1e6)), 405, "method_not_allowed"
				}
				return ev
			},
			kind: KindScanPaths, subject: "ip:203.0.113.30"},
		{name: "consumer surge (20x)", start: 40 * time.Minute, rate: 19 * rates[surgeOf],
			emit: func() func(r *rand.Rand, at int64) Event {
				gen := ordinary(surgeOf, 19*rates[surgeOf])
				return func(r *rand.Rand, at int64) Event { ev, _ := gen(r, at); return ev }
			}(),
			kind: KindTrafficSurge, subject: fmt.Sprintf("consumer:c%02d", surgeOf)},
		{name: "WAF probe burst", start: 50 * time.Minute, rate: 5,
			emit: func(r *rand.Rand, _ int64) Event {
				return Event{ClientIP: "203.0.113.50", Route: "search", Path: "/search", Status: 403, Decision: "waf", WAFMatched: true}
			},
			kind: KindWAFBurst, subject: "ip:203.0.113.50",
			also: [][2]string{{KindWAFBurst, "route:search"}}},
		// A leaked key used for long-context calls: 1 call/s of ~24,000
		// tokens, about 33× the consumer's usual spend, at a call rate far
		// under traffic.surge's floor. The interval is a minute, so the
		// alert may take up to one.
		{name: "AI token burn (33x)", start: 45 * time.Minute, rate: 1,
			emit: func(r *rand.Rand, _ int64) Event {
				return Event{ClientIP: "203.0.113.45", Consumer: fmt.Sprintf("ai%02d", burnOf), Route: "llm",
					Path: "/llm/v1/chat/completions", Status: 200, Decision: "allowed", Tokens: 16000 + r.Int64N(16000)}
			},
			kind: KindTokenBurn, subject: fmt.Sprintf("consumer:ai%02d", burnOf), within: time.Minute},
		{name: "prompt injection", start: 55 * time.Minute, rate: 0.5,
			emit: func(*rand.Rand, int64) Event {
				return Event{ClientIP: "203.0.113.55", Route: "llm-public", Path: "/llm-public/v1/chat/completions",
					Status: 400, Decision: "invalid", PromptInjection: true}
			},
			kind: KindPromptInjection, subject: "ip:203.0.113.55"},
	}

	r := rand.New(rand.NewPCG(1, 2))
	var srcs []*source
	for i, rate := range rates {
		srcs = append(srcs, &source{next: int64(r.ExpFloat64() / rate * 1e9), end: int64(hour), emit: ordinary(i, rate)})
	}
	for i := range visitors {
		srcs = append(srcs, &source{next: int64(r.ExpFloat64() / 0.2 * 1e9), end: int64(hour), emit: anonymous(i)})
	}
	for i, rate := range aiRates {
		srcs = append(srcs, &source{next: int64(r.ExpFloat64() / rate * 1e9), end: int64(hour), emit: aiUser(i, rate, false)})
	}
	for i := range aiVisitor {
		srcs = append(srcs, &source{next: int64(r.ExpFloat64() / 0.05 * 1e9), end: int64(hour), emit: aiUser(i, 0.05, true)})
	}
	for _, a := range attacks {
		srcs = append(srcs, &source{next: int64(a.start), end: int64(a.start + attackLen),
			emit: func(r *rand.Rand, at int64) (Event, float64) { return a.emit(r, at), r.ExpFloat64() / a.rate }})
	}

	eng := New(DefaultConfig())
	alerts, events := newSchedule(srcs).run(r, eng)
	t.Logf("replayed %d events over %s of simulated traffic; %d alert updates", events, hour, len(alerts))

	// Every alert must come from an attack, no earlier than its start.
	baseline := 0
	for _, al := range alerts {
		ok := false
		for _, a := range attacks {
			pairs := append([][2]string{{a.kind, a.subject}}, a.also...)
			for _, p := range pairs {
				if al.Kind == p[0] && al.Subject == p[1] && !al.First.Before(replayStart.Add(a.start)) {
					ok = true
				}
			}
		}
		if !ok {
			baseline++
			t.Errorf("alert on ordinary traffic: %+v", al)
		}
	}
	t.Logf("alerts on ordinary traffic over the hour: %d", baseline)

	for _, a := range attacks {
		start := replayStart.Add(a.start)
		var first *Alert
		for i := range alerts {
			if alerts[i].Kind == a.kind && alerts[i].Subject == a.subject {
				first = &alerts[i]
				break
			}
		}
		if first == nil {
			t.Errorf("%s: no %s alert on %s", a.name, a.kind, a.subject)
			continue
		}
		delay, within := first.Time.Sub(start), cmp.Or(a.within, 10*time.Second)
		t.Logf("%-22s %-22s %-22s detected after %v", a.name, a.kind, a.subject, delay)
		if delay < 0 || delay > within {
			t.Errorf("%s: detected after %v, want within %v of its start", a.name, delay, within)
		}
	}
}
