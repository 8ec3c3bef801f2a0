package detect

import "fmt"

// observeClient runs the per-client-address detectors: auth.bruteforce,
// auth.key_enumeration, scan.paths, waf.burst and, for anonymous AI calls,
// ai.token_burn.
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

	if e.cfg.TokenBurn.Enabled && ev.Tokens > 0 && ev.Consumer == "" && c.tokens.add(now, ev.Tokens, &e.tokenBurn) {
		out = e.fireTokenBurn(out, now, "ip:"+ev.ClientIP, "anonymous client "+ev.ClientIP, &c.tokens)
	}
	return out
}

// observeConsumer runs the per-consumer baselines: traffic.surge on its
// requests, ai.token_burn on its AI calls' tokens.
func (e *Engine) observeConsumer(c *consumerState, ev *Event, now int64, out []Alert) []Alert {
	if cfg := &e.cfg.TrafficSurge; cfg.Enabled && c.requests.add(now, 1, &e.trafficSurge) {
		out = e.fire(out, now, KindTrafficSurge, SeverityMedium, "consumer:"+ev.Consumer,
			fmt.Sprintf("%s sent %d requests in under %s against a baseline of %.1f per %s",
				ev.Consumer, c.requests.count, cfg.Interval, c.requests.baseline, cfg.Interval))
	}
	if e.cfg.TokenBurn.Enabled && ev.Tokens > 0 && c.tokens.add(now, ev.Tokens, &e.tokenBurn) {
		out = e.fireTokenBurn(out, now, "consumer:"+ev.Consumer, ev.Consumer, &c.tokens)
	}
	return out
}

// fireTokenBurn raises ai.token_burn on subject, whose token baseline s has
// just surged.
func (e *Engine) fireTokenBurn(out []Alert, now int64, subject, who string, s *surge) []Alert {
	iv := e.cfg.TokenBurn.Interval
	return e.fire(out, now, KindTokenBurn, SeverityHigh, subject,
		fmt.Sprintf("%s used %d AI tokens in under %s against a baseline of %.0f per %s", who, s.count, iv, s.baseline, iv))
}

// observeInjection runs ai.prompt_injection: every matched prompt is
// reported, on its consumer or, when anonymous, its address (fire folds the
// repeats within the cooldown into one alert).
func (e *Engine) observeInjection(ev *Event, now int64, out []Alert) []Alert {
	subject, who := "consumer:"+ev.Consumer, ev.Consumer
	if ev.Consumer == "" {
		if ev.ClientIP == "" {
			return out // nobody to name
		}
		subject, who = "ip:"+ev.ClientIP, "anonymous client "+ev.ClientIP
	}
	return e.fire(out, now, KindPromptInjection, SeverityHigh, subject,
		fmt.Sprintf("the AI guard's prompt-injection heuristics matched a prompt from %s on route %s (decision %s)",
			who, ev.Route, ev.Decision))
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
