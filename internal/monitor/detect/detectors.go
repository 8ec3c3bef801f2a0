package detect

import (
	"fmt"
	"math"
)

// observeClient runs the per-client-address detectors: auth.bruteforce,
// auth.key_enumeration, scan.paths and waf.burst.
func (e *Engine) observeClient(c *clientState, ev *Event, now int64, out []Alert) []Alert {
	if cfg := &e.cfg.AuthBruteforce; cfg.Enabled && ev.Decision == decisionUnauthenticated {
		if n := c.authFails.add(now / e.authWidth); int(n) >= cfg.Threshold {
			c.authFails.reset()
			out = e.fire(out, now, KindAuthBruteforce, SeverityHigh, "ip:"+ev.ClientIP,
				fmt.Sprintf("%d authentication failures from %s within %s", n, ev.ClientIP, cfg.Window))
		}
	}

	if cfg := &e.cfg.KeyEnumeration; cfg.Enabled && ev.UnknownKeyHash != "" {
		if n := c.keys.add(hashString(ev.UnknownKeyHash), now, int64(cfg.Window), cfg.Threshold); n >= cfg.Threshold {
			c.keys.reset()
			out = e.fire(out, now, KindKeyEnumeration, SeverityHigh, "ip:"+ev.ClientIP,
				fmt.Sprintf("%d distinct unknown API keys presented by %s within %s", n, ev.ClientIP, cfg.Window))
		}
	}

	if cfg := &e.cfg.ScanPaths; cfg.Enabled {
		slot := now / e.scanWidth
		reqs := c.scanReqs.add(slot)
		if isMiss(ev) {
			miss := c.scanMiss.add(slot)
			n := c.scanPaths.add(hashString(ev.Path), now, int64(cfg.Window), cfg.Threshold)
			if n >= cfg.Threshold && float64(miss) >= cfg.MinRatio*float64(reqs) {
				c.scanReqs.reset()
				c.scanMiss.reset()
				c.scanPaths.reset()
				out = e.fire(out, now, KindScanPaths, SeverityMedium, "ip:"+ev.ClientIP,
					fmt.Sprintf("%s was answered 404/405 on %d distinct paths within %s (%d of its %d requests)",
						ev.ClientIP, n, cfg.Window, miss, reqs))
			}
		}
	}

	if cfg := &e.cfg.WAFBurst; cfg.Enabled && isWAF(ev) {
		if n := c.waf.add(now / e.wafWidth); int(n) >= cfg.Threshold {
			c.waf.reset()
			out = e.fire(out, now, KindWAFBurst, SeverityHigh, "ip:"+ev.ClientIP,
				fmt.Sprintf("%d requests from %s reached the WAF threshold within %s", n, ev.ClientIP, cfg.Window))
		}
	}
	return out
}

// observeConsumer runs traffic.surge on the consumer's baseline.
func (e *Engine) observeConsumer(c *consumerState, ev *Event, now int64, out []Alert) []Alert {
	cfg := &e.cfg.TrafficSurge
	interval := max(int64(cfg.Interval), 1)
	if i := (now - c.start) / interval; i > c.interval {
		// Fold the completed interval, then any idle ones as zeros.
		if c.warm {
			c.baseline = cfg.Alpha*float64(c.count) + (1-cfg.Alpha)*c.baseline
		} else {
			c.baseline, c.warm = float64(c.count), true
		}
		if idle := i - c.interval - 1; idle > 0 {
			c.baseline *= math.Pow(1-cfg.Alpha, float64(idle))
		}
		c.interval, c.count, c.fired = i, 0, false
	}
	c.count++
	if c.warm && !c.fired && c.count >= cfg.MinRequests && float64(c.count) > cfg.Factor*c.baseline {
		c.fired = true
		out = e.fire(out, now, KindTrafficSurge, SeverityMedium, "consumer:"+ev.Consumer,
			fmt.Sprintf("%s sent %d requests in under %s against a baseline of %.1f per %s",
				ev.Consumer, c.count, cfg.Interval, c.baseline, cfg.Interval))
	}
	return out
}

// observeRoute runs the per-route detectors: auth.bruteforce across clients
// (credential stuffing), waf.burst, ratelimit.surge and upstream.errors.
func (e *Engine) observeRoute(r *routeState, ev *Event, now int64, out []Alert) []Alert {
	if cfg := &e.cfg.AuthBruteforce; cfg.Enabled {
		slot := now / e.authWidth
		reqs := r.authReqs.add(slot)
		if ev.Decision == decisionUnauthenticated {
			fails := r.authFails.add(slot)
			clients := r.authClients.add(hashString(ev.ClientIP), now, int64(cfg.Window), cfg.RouteMinClients)
			if int(fails) >= cfg.RouteThreshold && clients >= cfg.RouteMinClients &&
				float64(fails) >= cfg.RouteRatio*float64(reqs) {
				r.authReqs.reset()
				r.authFails.reset()
				r.authClients.reset()
				out = e.fire(out, now, KindAuthBruteforce, SeverityCritical, "route:"+ev.Route,
					fmt.Sprintf("%d authentication failures on route %s within %s from %d or more addresses (%d requests)",
						fails, ev.Route, cfg.Window, clients, reqs))
			}
		}
	}

	if cfg := &e.cfg.WAFBurst; cfg.Enabled && isWAF(ev) {
		if n := r.waf.add(now / e.wafWidth); int(n) >= cfg.RouteThreshold {
			r.waf.reset()
			out = e.fire(out, now, KindWAFBurst, SeverityHigh, "route:"+ev.Route,
				fmt.Sprintf("%d requests on route %s reached the WAF threshold within %s", n, ev.Route, cfg.Window))
		}
	}

	if cfg := &e.cfg.RateLimitSurge; cfg.Enabled {
		slot := now / e.rlWidth
		reqs := r.rlReqs.add(slot)
		if ev.Decision == decisionLimited {
			limited := r.rlLimited.add(slot)
			if int(limited) >= cfg.Threshold && float64(limited) >= cfg.MinRatio*float64(reqs) {
				r.rlReqs.reset()
				r.rlLimited.reset()
				out = e.fire(out, now, KindRateLimitSurge, SeverityLow, "route:"+ev.Route,
					fmt.Sprintf("route %s rate-limited %d of %d requests within %s", ev.Route, limited, reqs, cfg.Window))
			}
		}
	}

	if cfg := &e.cfg.UpstreamErrors; cfg.Enabled {
		slot := now / e.upWidth
		reqs := r.upReqs.add(slot)
		if isUpstreamError(ev) {
			errs := r.upErrs.add(slot)
			if int(reqs) >= cfg.MinRequests && float64(errs) >= cfg.Ratio*float64(reqs) {
				r.upReqs.reset()
				r.upErrs.reset()
				out = e.fire(out, now, KindUpstreamErrors, SeverityHigh, "route:"+ev.Route,
					fmt.Sprintf("upstream errors on %d of %d requests to route %s within %s", errs, reqs, ev.Route, cfg.Window))
			}
		}
	}
	return out
}

// isMiss reports a 404 or 405 answer, whether the router or the upstream gave it.
func isMiss(ev *Event) bool {
	return ev.Status == 404 || ev.Status == 405 ||
		ev.Decision == decisionNotFound || ev.Decision == decisionMethodNotAllowed
}

func isWAF(ev *Event) bool {
	return ev.Decision == decisionWAF || ev.WAFMatched
}

// isUpstreamError reports a failure of the upstream: the gateway's 502/504
// (decision upstream_error) or an upstream's own 5xx relayed on an allowed
// request. The gateway's other 5xx (such as 501 for an unknown transfer
// coding) are the client's doing, not the upstream's.
func isUpstreamError(ev *Event) bool {
	return ev.Decision == decisionUpstreamError || (ev.Decision == decisionAllowed && ev.Status >= 500)
}
