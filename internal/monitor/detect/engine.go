package detect

import (
	"strconv"
	"time"
)

// Engine runs every detector over a stream of events. It is not safe for
// concurrent use: one goroutine — the consumer of the gateway's bounded event
// queue — owns it, calling Observe per event and Tick on a timer, so the
// detectors need no locking of their own.
type Engine struct {
	cfg Config
	now int64 // UnixNano of the latest event or tick: the engine's clock never runs backwards
	seq uint64

	// Bucket widths (nanoseconds) of each detector's sliding windows.
	authWidth, scanWidth, wafWidth, rlWidth, upWidth int64

	// The surge detectors' thresholds, converted once rather than per event.
	trafficSurge, tokenBurn surgeRule

	clients   table[clientState]
	consumers table[consumerState]
	routes    table[routeState]
	alerts    table[Alert] // keyed by kind + "\x00" + subject; ttl = Cooldown
}

// clientState is what the detectors keep per client address.
type clientState struct {
	authFails window   // auth.bruteforce
	keys      distinct // auth.key_enumeration
	scanReqs  window   // scan.paths: all requests, for the ratio
	scanMiss  window   // scan.paths: 404/405 answers
	scanPaths distinct // scan.paths: distinct 404/405 paths
	waf       window   // waf.burst
	tokens    surge    // ai.token_burn, for anonymous calls only
}

// consumerState is what the detectors keep per consumer.
type consumerState struct {
	requests surge // traffic.surge
	tokens   surge // ai.token_burn
}

// routeState is what the detectors keep per route.
type routeState struct {
	authReqs, authFails window   // auth.bruteforce (credential stuffing)
	authClients         distinct // auth.bruteforce: distinct failing addresses
	waf                 window   // waf.burst
	rlReqs, rlLimited   window   // ratelimit.surge
	upReqs, upErrs      window   // upstream.errors
}

// New returns an engine with cfg's thresholds. Zero Limits take their
// defaults, and IdleTTL is raised to the longest detector window so that
// idle expiry never cuts a window short.
func New(cfg Config) *Engine {
	def := DefaultConfig().Limits
	lim := &cfg.Limits
	for _, p := range []struct{ v, d *int }{
		{&lim.MaxClients, &def.MaxClients}, {&lim.MaxConsumers, &def.MaxConsumers},
		{&lim.MaxRoutes, &def.MaxRoutes}, {&lim.MaxAlerts, &def.MaxAlerts},
	} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	for _, w := range []time.Duration{
		cfg.AuthBruteforce.Window, cfg.KeyEnumeration.Window, cfg.ScanPaths.Window,
		2 * cfg.TrafficSurge.Interval, cfg.WAFBurst.Window, cfg.RateLimitSurge.Window, cfg.UpstreamErrors.Window,
		2 * cfg.TokenBurn.Interval,
	} {
		lim.IdleTTL = max(lim.IdleTTL, w)
	}
	ttl := int64(lim.IdleTTL)
	return &Engine{
		cfg:       cfg,
		authWidth: bucketWidth(cfg.AuthBruteforce.Window),
		scanWidth: bucketWidth(cfg.ScanPaths.Window),
		wafWidth:  bucketWidth(cfg.WAFBurst.Window),
		rlWidth:   bucketWidth(cfg.RateLimitSurge.Window),
		upWidth:   bucketWidth(cfg.UpstreamErrors.Window),
		trafficSurge: surgeRule{
			interval: max(int64(cfg.TrafficSurge.Interval), 1), alpha: cfg.TrafficSurge.Alpha,
			factor: cfg.TrafficSurge.Factor, floor: int64(cfg.TrafficSurge.MinRequests),
		},
		tokenBurn: surgeRule{
			interval: max(int64(cfg.TokenBurn.Interval), 1), alpha: cfg.TokenBurn.Alpha,
			factor: cfg.TokenBurn.Factor, floor: int64(cfg.TokenBurn.MinTokens),
		},
		clients:   newTable[clientState](lim.MaxClients, ttl),
		consumers: newTable[consumerState](lim.MaxConsumers, ttl),
		routes:    newTable[routeState](lim.MaxRoutes, ttl),
		alerts:    newTable[Alert](lim.MaxAlerts, int64(cfg.Cooldown)),
	}
}

func bucketWidth(window time.Duration) int64 {
	return max(int64(window)/windowBuckets, 1)
}

// Observe feeds one completed request to every detector and returns the
// alerts it raised or updated (nil, without allocating, in the usual case).
// An event older than one already seen counts as happening at the engine's
// current time, so a slightly reordered queue cannot corrupt the windows.
func (e *Engine) Observe(ev Event) []Alert {
	if !ev.Time.IsZero() {
		e.now = max(e.now, ev.Time.UnixNano())
	}
	now := e.now
	e.expire(now)

	var out []Alert
	if ev.ClientIP != "" {
		c, _ := e.clients.get(ev.ClientIP, now)
		out = e.observeClient(&c.s, &ev, now, out)
	}
	if ev.Consumer != "" && (e.cfg.TrafficSurge.Enabled || e.cfg.TokenBurn.Enabled && ev.Tokens > 0) {
		c, _ := e.consumers.get(ev.Consumer, now)
		out = e.observeConsumer(&c.s, &ev, now, out)
	}
	if ev.Route != "" {
		r, _ := e.routes.get(ev.Route, now)
		out = e.observeRoute(&r.s, &ev, now, out)
	}
	if ev.PromptInjection && e.cfg.PromptInjection.Enabled {
		out = e.observeInjection(&ev, now, out)
	}
	return out
}

// Tick advances the engine's clock to now (if later) and forgets subjects
// idle for longer than Limits.IdleTTL and alerts past their cooldown. Observe
// does the same as events arrive; Tick releases memory when they stop.
func (e *Engine) Tick(now time.Time) {
	e.now = max(e.now, now.UnixNano())
	e.expire(e.now)
}

func (e *Engine) expire(now int64) {
	e.clients.expire(now)
	e.consumers.expire(now)
	e.routes.expire(now)
	e.alerts.expire(now)
}

// fire records an occurrence of kind on subject at now: a repeat within the
// cooldown of the latest occurrence updates that alert, otherwise a new one
// (new ID) starts. It returns out with the alert's current value appended.
func (e *Engine) fire(out []Alert, now int64, kind, severity, subject, detail string) []Alert {
	ent, created := e.alerts.get(kind+"\x00"+subject, now)
	a := &ent.s
	t := time.Unix(0, now).UTC()
	if created {
		e.seq++
		*a = Alert{
			ID:   "al-" + strconv.FormatInt(now, 36) + "-" + strconv.FormatUint(e.seq, 36),
			Kind: kind, Severity: severity, Subject: subject, First: t,
		}
	}
	a.Time, a.Detail = t, detail
	a.Count++
	return append(out, *a)
}
