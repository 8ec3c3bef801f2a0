package detect

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// at is the fake clock: sec seconds after replayStart.
func at(sec float64) time.Time {
	return replayStart.Add(time.Duration(sec * float64(time.Second)))
}

func fail(sec float64, ip string) Event {
	return Event{Time: at(sec), ClientIP: ip, Route: "login", Path: "/login", Status: 401, Decision: "unauthenticated"}
}

func ok(sec float64, ip string) Event {
	return Event{Time: at(sec), ClientIP: ip, Route: "login", Path: "/login", Status: 200, Decision: "allowed"}
}

func only(t *testing.T, alerts []Alert, kind, subject string) Alert {
	t.Helper()
	if len(alerts) != 1 || alerts[0].Kind != kind || alerts[0].Subject != subject {
		t.Fatalf("alerts = %+v, want one %s on %s", alerts, kind, subject)
	}
	return alerts[0]
}

func none(t *testing.T, alerts []Alert) {
	t.Helper()
	if len(alerts) != 0 {
		t.Fatalf("alerts = %+v, want none", alerts)
	}
}

func TestBruteforcePerClientThreshold(t *testing.T) {
	e := New(DefaultConfig())
	for i := range 19 {
		none(t, e.Observe(fail(float64(i), "203.0.113.1")))
	}
	a := only(t, e.Observe(fail(19, "203.0.113.1")), KindAuthBruteforce, "ip:203.0.113.1")
	if a.Severity != SeverityHigh || a.Count != 1 || !a.Time.Equal(at(19)) || !a.First.Equal(at(19)) || a.ID == "" {
		t.Errorf("alert = %+v", a)
	}
	// The state resets on alert: the next alert needs another 20 failures.
	for i := range 19 {
		none(t, e.Observe(fail(20+float64(i)*0.1, "203.0.113.1")))
	}
}

func TestBruteforceWindowSlides(t *testing.T) {
	e := New(DefaultConfig())
	for i := range 19 {
		none(t, e.Observe(fail(float64(i)*0.1, "203.0.113.1")))
	}
	// 70 s later the first 19 are out of the 60 s window.
	for i := range 19 {
		none(t, e.Observe(fail(70+float64(i)*0.1, "203.0.113.1")))
	}
	only(t, e.Observe(fail(72, "203.0.113.1")), KindAuthBruteforce, "ip:203.0.113.1")
}

func TestDedupWithinCooldownAndNewAlertAfter(t *testing.T) {
	e := New(DefaultConfig()) // cooldown 10m
	burst := func(start float64) []Alert {
		var out []Alert
		for i := range 20 {
			out = append(out, e.Observe(fail(start+float64(i)*0.1, "203.0.113.1"))...)
		}
		return out
	}
	first := only(t, burst(0), KindAuthBruteforce, "ip:203.0.113.1")
	second := only(t, burst(300), KindAuthBruteforce, "ip:203.0.113.1")
	if second.ID != first.ID || second.Count != 2 || !second.Time.Equal(at(301.9)) || !second.First.Equal(first.First) {
		t.Errorf("repeat within cooldown = %+v, want ID %s updated (count 2, time %v)", second, first.ID, at(301.9))
	}
	// Exactly at the cooldown after the latest occurrence still updates.
	third := only(t, burst(301.9+600-1.9), KindAuthBruteforce, "ip:203.0.113.1")
	if third.ID != first.ID || third.Count != 3 {
		t.Errorf("repeat at the cooldown's edge = %+v, want the same ID, count 3", third)
	}
	fourth := only(t, burst(901.9+600+1), KindAuthBruteforce, "ip:203.0.113.1")
	if fourth.ID == first.ID || fourth.Count != 1 || !fourth.First.Equal(fourth.Time) {
		t.Errorf("repeat after cooldown = %+v, want a new ID with count 1", fourth)
	}
	// Other subjects and kinds never share an alert.
	other := only(t, func() []Alert {
		var out []Alert
		for i := range 20 {
			out = append(out, e.Observe(fail(1600+float64(i)*0.1, "203.0.113.2"))...)
		}
		return out
	}(), KindAuthBruteforce, "ip:203.0.113.2")
	if other.ID == fourth.ID {
		t.Errorf("two subjects share the ID %s", other.ID)
	}
}

func TestBruteforceAcrossClients(t *testing.T) {
	stuffing := func(clients, perClient, okPerFail int) []Alert {
		e := New(DefaultConfig())
		var out []Alert
		sec := 0.0
		for range perClient {
			for c := range clients {
				ip := fmt.Sprintf("198.51.100.%d", c)
				out = append(out, e.Observe(fail(sec, ip))...)
				for range okPerFail {
					out = append(out, e.Observe(ok(sec, "192.0.2.1"))...)
				}
				sec += 0.02
			}
		}
		return out
	}
	// 10 addresses × 10 failures: each under the per-client 20, together 100.
	a := only(t, stuffing(10, 10, 0), KindAuthBruteforce, "route:login")
	if a.Severity != SeverityCritical {
		t.Errorf("severity = %s, want critical", a.Severity)
	}
	none(t, stuffing(9, 11, 0))  // 99 failures
	none(t, stuffing(5, 19, 0))  // 95 failures from too few addresses
	none(t, stuffing(10, 10, 5)) // failures are 1/6 of the route's traffic, under 20%
	only(t, stuffing(10, 10, 3), KindAuthBruteforce, "route:login")
}

func TestKeyEnumeration(t *testing.T) {
	e := New(DefaultConfig())
	key := func(sec float64, k string) Event {
		ev := fail(sec, "203.0.113.7")
		ev.UnknownKeyHash = k
		return ev
	}
	for i := range 9 {
		none(t, e.Observe(key(float64(i)*20, "k"+strconv.Itoa(i))))
		none(t, e.Observe(key(float64(i)*20+1, "k"+strconv.Itoa(i)))) // a retry counts once
	}
	// 5 min after the first key it has left the window: still 9.
	none(t, e.Observe(key(301, "k9")))
	a := only(t, e.Observe(key(302, "k10")), KindKeyEnumeration, "ip:203.0.113.7")
	if a.Severity != SeverityHigh {
		t.Errorf("severity = %s", a.Severity)
	}
	// Known keys and anonymous requests never count.
	e = New(DefaultConfig())
	for i := range 30 {
		none(t, e.Observe(Event{Time: at(float64(i)), ClientIP: "203.0.113.8", KeyID: "k" + strconv.Itoa(i), Status: 200, Decision: "allowed"}))
	}
}

func miss(sec float64, ip, path string) Event {
	return Event{Time: at(sec), ClientIP: ip, Path: path, Status: 404, Decision: "not_found"}
}

func TestScanPaths(t *testing.T) {
	e := New(DefaultConfig())
	for i := range 19 {
		none(t, e.Observe(miss(float64(i)*0.1, "203.0.113.9", "/p"+strconv.Itoa(i))))
		none(t, e.Observe(miss(float64(i)*0.1, "203.0.113.9", "/p"+strconv.Itoa(i)))) // the same path again
	}
	// A 405 counts, and so does an upstream's 404 on an allowed request.
	ev := Event{Time: at(2), ClientIP: "203.0.113.9", Route: "api", Path: "/p19", Status: 405, Decision: "method_not_allowed"}
	a := only(t, e.Observe(ev), KindScanPaths, "ip:203.0.113.9")
	if a.Severity != SeverityMedium {
		t.Errorf("severity = %s", a.Severity)
	}
	e = New(DefaultConfig())
	for i := range 20 {
		ev := Event{Time: at(float64(i)), ClientIP: "203.0.113.9", Route: "api", Path: "/p" + strconv.Itoa(i), Status: 404, Decision: "allowed"}
		if i < 19 {
			none(t, e.Observe(ev))
		} else {
			only(t, e.Observe(ev), KindScanPaths, "ip:203.0.113.9")
		}
	}
}

func TestScanPathsIgnoresBusyOrdinaryClients(t *testing.T) {
	// 50 req/s with 1 in 10 a 404 on a new path: 300 distinct a minute, but
	// only 10% of the client's answers.
	e := New(DefaultConfig())
	for i := range 50 * 600 {
		ev := Event{Time: at(float64(i) / 50), ClientIP: "10.0.0.1", Route: "api", Path: "/ok", Status: 200, Decision: "allowed"}
		if i%10 == 0 {
			ev.Path, ev.Status = "/p"+strconv.Itoa(i), 404
		}
		none(t, e.Observe(ev))
	}
}

func req(sec float64, consumer string) Event {
	return Event{Time: at(sec), ClientIP: "10.0.0.2", Consumer: consumer, Route: "api", Path: "/x", Status: 200, Decision: "allowed"}
}

func TestTrafficSurge(t *testing.T) {
	e := New(DefaultConfig())
	// First interval (10 s): 1000 requests, but the baseline is not usable yet.
	for i := range 1000 {
		none(t, e.Observe(req(float64(i)/100, "alice")))
	}
	// Baseline 1000 per 10 s: 5000 in the next interval stays quiet, 5001 alerts.
	var out []Alert
	for i := range 5001 {
		out = append(out, e.Observe(req(10+float64(i)/1000, "alice"))...)
	}
	a := only(t, out, KindTrafficSurge, "consumer:alice")
	if a.Severity != SeverityMedium || !a.Time.Equal(at(15)) {
		t.Errorf("alert = %+v, want at %v", a, at(15))
	}
	// At most once per interval.
	for i := range 1000 {
		none(t, e.Observe(req(15.001+float64(i)/1000, "alice")))
	}
}

func TestTrafficSurgeFloor(t *testing.T) {
	e := New(DefaultConfig())
	none(t, e.Observe(req(0, "bob")))  // baseline: 1 request per 10 s
	none(t, e.Observe(req(10, "bob"))) // second interval
	for i := 1; i < 99; i++ {
		none(t, e.Observe(req(10+float64(i)/100, "bob")))
	}
	only(t, e.Observe(req(11, "bob")), KindTrafficSurge, "consumer:bob") // the 100th
}

func TestTrafficSurgeBaselineFollowsSteadyTraffic(t *testing.T) {
	// 20 req/s with a ±50% sawtooth for 10 minutes, idle gaps included.
	e := New(DefaultConfig())
	sec := 0.0
	for i := range 12000 {
		sec += 0.05 * (0.5 + float64(i%7)/6)
		if i == 6000 {
			sec += 25 // idle for two and a half intervals
		}
		none(t, e.Observe(req(sec, "carol")))
	}
}

// call is an AI call by consumer ("" for anonymous, from 198.51.100.7) that
// used tokens.
func call(sec float64, consumer string, tokens int64) Event {
	return Event{Time: at(sec), ClientIP: "198.51.100.7", Consumer: consumer, Route: "llm",
		Path: "/llm/v1/chat/completions", Status: 200, Decision: "allowed", Tokens: tokens}
}

// burn feeds a consumer (or, with consumer "", an address) one 1,000-token
// call a second for five minutes — a baseline of 60,000 per minute — then,
// at the same rate (so traffic.surge has nothing to say), calls ten times as
// large for two minutes, and returns the alerts of each burst minute.
func burn(t *testing.T, e *Engine, consumer string) (first, second []Alert) {
	t.Helper()
	for i := range 300 {
		none(t, e.Observe(call(float64(i), consumer, 1000)))
	}
	for i := range 60 {
		first = append(first, e.Observe(call(300+float64(i), consumer, 10000))...)
	}
	for i := range 60 {
		second = append(second, e.Observe(call(360+float64(i), consumer, 10000))...)
	}
	return first, second
}

func TestTokenBurn(t *testing.T) {
	e := New(DefaultConfig())
	first, second := burn(t, e, "dave")
	// Over 5 × 60,000: the 31st call of the minute, 30 s into it.
	a := only(t, first, KindTokenBurn, "consumer:dave")
	if a.Severity != SeverityHigh || !a.Time.Equal(at(330)) ||
		a.Detail != "dave used 310000 AI tokens in under 1m0s against a baseline of 60000 per 1m0s" {
		t.Errorf("alert = %+v, want at %v", a, at(330))
	}
	// The next minute fires once more (the baseline has only moved to
	// 114,000: 0.1 × 600,000 + 0.9 × 60,000), updating the same alert.
	b := only(t, second, KindTokenBurn, "consumer:dave")
	if b.ID != a.ID || b.Count != 2 || !b.Time.Equal(at(360+57)) {
		t.Errorf("second minute = %+v, want %s updated at %v", b, a.ID, at(417))
	}
	// By the third the baseline (162,600) has caught up with 600,000 a minute.
	for i := range 60 {
		none(t, e.Observe(call(420+float64(i), "dave", 10000)))
	}
}

func TestTokenBurnAnonymousByAddress(t *testing.T) {
	e := New(DefaultConfig())
	first, _ := burn(t, e, "")
	a := only(t, first, KindTokenBurn, "ip:198.51.100.7")
	if a.Detail != "anonymous client 198.51.100.7 used 310000 AI tokens in under 1m0s against a baseline of 60000 per 1m0s" {
		t.Errorf("detail = %q", a.Detail)
	}
	// A consumer's calls are its own: they never add to its address's count.
	e = New(DefaultConfig())
	for i := range 60 {
		none(t, e.Observe(call(float64(i), "", 100)))
	}
	first, _ = burn(t, e, "erin")
	only(t, first, KindTokenBurn, "consumer:erin")
}

func TestTokenBurnFloor(t *testing.T) {
	e := New(DefaultConfig())
	none(t, e.Observe(call(0, "frank", 100))) // baseline: 100 tokens a minute
	none(t, e.Observe(call(60, "frank", 49999)))
	only(t, e.Observe(call(61, "frank", 1)), KindTokenBurn, "consumer:frank") // 50,000: the floor
}

func TestTokenBurnFirstIntervalOnlySeedsTheBaseline(t *testing.T) {
	// Like traffic.surge: no baseline, no alert, however much is spent…
	e := New(DefaultConfig())
	for i := range 60 {
		none(t, e.Observe(call(float64(i), "grace", 100000)))
	}
	// …but from the second minute on, 6,000,000 a minute is the bar to beat.
	none(t, e.Observe(call(60, "grace", 30000000)))
	only(t, e.Observe(call(61, "grace", 1)), KindTokenBurn, "consumer:grace")
}

func TestTokenBurnQuietOnSteadyUse(t *testing.T) {
	// A call every 1–3 s of 500–3,500 tokens (sawtooth) for two hours, with
	// an idle gap of three minutes, and requests that used no tokens.
	e := New(DefaultConfig())
	sec := 0.0
	for i := range 3600 {
		sec += 1 + float64(i%5)/2
		if i == 1800 {
			sec += 180
		}
		none(t, e.Observe(call(sec, "heidi", int64(500+(i%7)*500))))
		none(t, e.Observe(call(sec, "heidi", 0)))
	}
}

func TestTokenBurnOnlyCountsAICalls(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TrafficSurge.Enabled = false
	e := New(cfg)
	for i := range 100 {
		none(t, e.Observe(req(float64(i), "ivan")))
	}
	if n := e.consumers.len(); n != 0 {
		t.Errorf("%d consumers tracked for requests without tokens, want 0", n)
	}
	cfg.TokenBurn.Enabled = false
	e = New(cfg)
	first, second := burn(t, e, "judy")
	none(t, append(first, second...))
}

func inject(sec float64, consumer string) Event {
	return Event{Time: at(sec), ClientIP: "198.51.100.9", Consumer: consumer, Route: "llm",
		Path: "/llm/v1/chat/completions", Status: 400, Decision: "invalid", PromptInjection: true}
}

func TestPromptInjection(t *testing.T) {
	e := New(DefaultConfig()) // cooldown 10m
	none(t, e.Observe(call(0, "mallory", 500)))
	a := only(t, e.Observe(inject(1, "mallory")), KindPromptInjection, "consumer:mallory")
	if a.Severity != SeverityHigh || a.Count != 1 ||
		a.Detail != "the AI guard's prompt-injection heuristics matched a prompt from mallory on route llm (decision invalid)" {
		t.Errorf("alert = %+v", a)
	}
	// Every match within the cooldown updates the alert; after it, a new one.
	b := only(t, e.Observe(inject(301, "mallory")), KindPromptInjection, "consumer:mallory")
	if b.ID != a.ID || b.Count != 2 || !b.Time.Equal(at(301)) {
		t.Errorf("repeat within cooldown = %+v, want %s updated", b, a.ID)
	}
	c := only(t, e.Observe(inject(301+601, "mallory")), KindPromptInjection, "consumer:mallory")
	if c.ID == a.ID || c.Count != 1 {
		t.Errorf("repeat after cooldown = %+v, want a new alert", c)
	}
	// Anonymous: the address. Detect mode (forwarded) alerts too.
	ev := inject(903, "")
	ev.Status, ev.Decision, ev.Tokens = 200, "allowed", 800
	d := only(t, e.Observe(ev), KindPromptInjection, "ip:198.51.100.9")
	if d.Detail != "the AI guard's prompt-injection heuristics matched a prompt from anonymous client 198.51.100.9 on route llm (decision allowed)" {
		t.Errorf("detail = %q", d.Detail)
	}

	cfg := DefaultConfig()
	cfg.PromptInjection.Enabled = false
	e = New(cfg)
	none(t, e.Observe(inject(0, "mallory")))
}

func TestWAFBurst(t *testing.T) {
	waf := func(sec float64, ip string) Event {
		return Event{Time: at(sec), ClientIP: ip, Route: "search", Path: "/search", Status: 403, Decision: "waf"}
	}
	e := New(DefaultConfig())
	for i := range 9 {
		none(t, e.Observe(waf(float64(i), "203.0.113.5")))
	}
	a := only(t, e.Observe(waf(9, "203.0.113.5")), KindWAFBurst, "ip:203.0.113.5")
	if a.Severity != SeverityHigh {
		t.Errorf("severity = %s", a.Severity)
	}
	// Spread over many addresses: the route's threshold (50).
	e = New(DefaultConfig())
	for i := range 49 {
		none(t, e.Observe(waf(float64(i)*0.5, "198.51.100."+strconv.Itoa(i))))
	}
	// Detect mode: the request was allowed but reached the WAF threshold.
	ev := Event{Time: at(25), ClientIP: "198.51.100.200", Route: "search", Path: "/search", Status: 200, Decision: "allowed", WAFMatched: true}
	only(t, e.Observe(ev), KindWAFBurst, "route:search")
}

func TestRateLimitSurge(t *testing.T) {
	run := func(limited, okPerLimited int) []Alert {
		e := New(DefaultConfig())
		var out []Alert
		for i := range limited {
			for range okPerLimited {
				out = append(out, e.Observe(Event{Time: at(float64(i) * 0.1), ClientIP: "10.0.0.3", Route: "api", Status: 200, Decision: "allowed"})...)
			}
			out = append(out, e.Observe(Event{Time: at(float64(i) * 0.1), ClientIP: "10.0.0.3", Route: "api", Status: 429, Decision: "limited"})...)
		}
		return out
	}
	none(t, run(99, 0))
	a := only(t, run(100, 0), KindRateLimitSurge, "route:api")
	if a.Severity != SeverityLow {
		t.Errorf("severity = %s", a.Severity)
	}
	only(t, run(100, 4), KindRateLimitSurge, "route:api") // exactly 20%
	none(t, run(100, 5))                                  // 1 in 6
}

func TestUpstreamErrors(t *testing.T) {
	e := New(DefaultConfig())
	up := func(sec float64, status int, decision string) Event {
		return Event{Time: at(sec), ClientIP: "10.0.0.4", Route: "orders", Path: "/orders", Status: status, Decision: decision}
	}
	for i := range 19 {
		none(t, e.Observe(up(float64(i), 502, "upstream_error"))) // under 20 requests
	}
	a := only(t, e.Observe(up(19, 500, "allowed")), KindUpstreamErrors, "route:orders")
	if a.Severity != SeverityHigh {
		t.Errorf("severity = %s", a.Severity)
	}
	// Under half the requests failing, and the gateway's own 501s, stay quiet.
	e = New(DefaultConfig())
	for i := range 200 {
		switch i % 3 {
		case 0:
			none(t, e.Observe(up(float64(i)*0.1, 504, "upstream_error")))
		case 1:
			none(t, e.Observe(up(float64(i)*0.1, 501, "invalid")))
		default:
			none(t, e.Observe(up(float64(i)*0.1, 200, "allowed")))
		}
	}
}

func TestDisabledDetectorsStayQuiet(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AuthBruteforce.Enabled = false
	e := New(cfg)
	for i := range 200 {
		none(t, e.Observe(fail(float64(i)*0.1, "203.0.113.1")))
	}
}

func TestClockNeverRunsBackwards(t *testing.T) {
	e := New(DefaultConfig())
	none(t, e.Observe(fail(100, "203.0.113.1")))
	// Late and untimed events count at the engine's current time, so all 20
	// fall within one window.
	for i := range 18 {
		none(t, e.Observe(fail(float64(i), "203.0.113.1")))
	}
	ev := fail(0, "203.0.113.1")
	ev.Time = time.Time{}
	a := only(t, e.Observe(ev), KindAuthBruteforce, "ip:203.0.113.1")
	if !a.Time.Equal(at(100)) {
		t.Errorf("time = %v, want %v", a.Time, at(100))
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits = Limits{MaxClients: 1000, MaxConsumers: 100, MaxRoutes: 50, MaxAlerts: 200, IdleTTL: 10 * time.Minute}
	e := New(cfg)
	for i := range 20000 {
		ip := fmt.Sprintf("%d.%d.%d.%d", 1+i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff)
		sec := float64(i) * 0.001
		e.Observe(Event{Time: at(sec), ClientIP: ip, Consumer: "c" + strconv.Itoa(i), Route: "r" + strconv.Itoa(i),
			Path: "/p" + strconv.Itoa(i), Status: 404, Decision: "not_found", UnknownKeyHash: strconv.Itoa(i)})
		// Each of these addresses also trips a detector: the alert table is capped too.
		if i%50 == 0 {
			for range 20 {
				e.Observe(fail(sec, "v6:"+ip))
			}
		}
		if e.clients.len() > 1000 || e.consumers.len() > 100 || e.routes.len() > 50 || e.alerts.len() > 200 {
			t.Fatalf("after %d events: %d clients, %d consumers, %d routes, %d alerts tracked",
				i+1, e.clients.len(), e.consumers.len(), e.routes.len(), e.alerts.len())
		}
	}
	if e.alerts.len() != 200 {
		t.Errorf("alerts tracked = %d, want the cap of 200", e.alerts.len())
	}
	// Idle state is released by Tick once traffic stops.
	e.Tick(at(100 + 11*60))
	if n := e.clients.len() + e.consumers.len() + e.routes.len() + e.alerts.len(); n != 0 {
		t.Errorf("%d entries tracked after every subject went idle, want 0", n)
	}
}

func TestIdleTTLCoversTheLongestWindow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.IdleTTL = time.Second
	e := New(cfg)
	key := func(sec float64, k string) Event {
		return Event{Time: at(sec), ClientIP: "203.0.113.7", Status: 401, Decision: "unauthenticated", UnknownKeyHash: k}
	}
	var out []Alert
	for i := range 10 { // one key every 25 s: 10 within the 5 min window
		out = append(out, e.Observe(key(float64(i)*25, "k"+strconv.Itoa(i)))...)
	}
	only(t, out, KindKeyEnumeration, "ip:203.0.113.7")
}

// BenchmarkObserve feeds ordinary traffic: 50 clients and consumers on 4
// routes, 2% 404s, the clock advancing 2 ms per event.
func BenchmarkObserve(b *testing.B) {
	evs := make([]Event, 5000)
	for i := range evs {
		c := i % 50
		evs[i] = Event{ClientIP: fmt.Sprintf("10.0.0.%d", c), Consumer: fmt.Sprintf("c%02d", c), KeyID: fmt.Sprintf("k%02d", c),
			Route: replayRoutes[i%4], Path: fmt.Sprintf("/%s/%d", replayRoutes[i%4], i%100), Status: 200, Decision: "allowed"}
		if i%53 == 0 { // ~2%, spread over the clients
			evs[i].Path, evs[i].Status = fmt.Sprintf("/missing/%d", i), 404
		}
	}
	e := New(DefaultConfig())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		ev.Time = replayStart.Add(time.Duration(i) * 2 * time.Millisecond)
		if alerts := e.Observe(ev); alerts != nil {
			b.Fatalf("alert on ordinary traffic: %+v", alerts)
		}
		i++
	}
}
