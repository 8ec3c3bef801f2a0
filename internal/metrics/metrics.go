// Package metrics defines the gateway's Prometheus metrics. Every name starts
// with portcullis_. Per-route handles are resolved when a snapshot is built, so
// the request path does no label hashing for its histograms and only a map
// read under a shared lock for its counters.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Unmatched is the route label of requests that matched no route.
const Unmatched = "_unmatched"

// latencyBuckets suit a gateway: most answers take well under a millisecond of
// its own time, upstreams take longer.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Gateway holds every metric of one gateway process.
type Gateway struct {
	registry *prometheus.Registry

	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	upstream        *prometheus.HistogramVec
	reloads         *prometheus.CounterVec
	accessLogDrops  prometheus.Counter
	activeListeners prometheus.Gauge
	policyVersion   prometheus.Gauge
	reviewOverdue   prometheus.Gauge
	providerDown    *prometheus.CounterVec
	limitStoreErrs  prometheus.Counter
	wafDetections   *prometheus.CounterVec
	alerts          *prometheus.CounterVec
	monitorDrops    prometheus.Counter
	auditDrops      prometheus.Counter
	authFailures    *prometheus.CounterVec
	limitRejections *prometheus.CounterVec
	ai              *AI
}

// New registers the gateway's metrics, plus the Go runtime and process collectors.
func New() *Gateway {
	reg := prometheus.NewRegistry()
	g := &Gateway{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_requests_total",
			Help: "Requests answered, by route, status and decision.",
		}, []string{"route", "status", "decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_request_duration_seconds",
			Help:    "Time from the request's arrival to the end of its response, by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_upstream_duration_seconds",
			Help:    "Time from sending a request upstream to its response headers, by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_config_reloads_total",
			Help: "Configuration loads, by result (applied, unchanged, rejected).",
		}, []string{"result"}),
		accessLogDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_access_log_dropped_total",
			Help: "Access log lines dropped because the writer could not keep up.",
		}),
		activeListeners: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_listeners",
			Help: "Listeners currently serving.",
		}),
		policyVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_policy_version",
			Help: "The policy version this node serves.",
		}),
		reviewOverdue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portcullis_policy_review_overdue",
			Help: "1 when the active policy's review.reviewBy date has passed.",
		}),
		providerDown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_auth_provider_unavailable_total",
			Help: "Calls to an identity provider that could not be answered (requests refused with 503), by AuthProvider.",
		}, []string{"provider"}),
		limitStoreErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_ratelimit_store_errors_total",
			Help: "Rate-limit decisions the counter store (Redis) could not make; the route's onStoreFailure decided instead.",
		}),
		wafDetections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_waf_detections_total",
			Help: "Requests that reached the WAF's anomaly threshold, by route, mode (block or detect) and action (blocked or passed).",
		}, []string{"route", "mode", "action"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_alerts_total",
			Help: "Alerts raised by anomaly detection, by kind (a repeat within the cooldown is not counted again).",
		}, []string{"kind"}),
		monitorDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_monitor_events_dropped_total",
			Help: "Requests anomaly detection did not see because its queue was full.",
		}),
		auditDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_audit_dropped_total",
			Help: "Audit records dropped because the audit queue was full (each drop is also logged and alerted).",
		}),
	}
	g.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_auth_failures_total",
		Help: "Requests refused 401 by authentication (no or an invalid credential), by route.",
	}, []string{"route"})
	g.limitRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_ratelimit_rejections_total",
		Help: "Requests refused 429 by a rate limit or quota, by route.",
	}, []string{"route"})
	g.ai = newAI(reg)
	reg.MustRegister(g.authFailures, g.limitRejections, g.alerts, g.monitorDrops, g.auditDrops, g.requests, g.duration, g.upstream, g.reloads, g.accessLogDrops, g.activeListeners,
		g.policyVersion, g.reviewOverdue, g.providerDown, g.limitStoreErrs, g.wafDetections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return g
}

// Handler serves the metrics in the Prometheus text format.
func (g *Gateway) Handler() http.Handler {
	return promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{})
}

// Registry lets later components register their own collectors.
func (g *Gateway) Registry() *prometheus.Registry { return g.registry }

// Reload counts a configuration load with its result.
func (g *Gateway) Reload(result string) { g.reloads.WithLabelValues(result).Inc() }

// AuditDropped counts a dropped audit record.
func (g *Gateway) AuditDropped() { g.auditDrops.Inc() }

// AuditQueueDepth publishes depth, read at each scrape, as the gauge
// portcullis_audit_queue_depth: the audit records waiting to be written.
// Call it once.
func (g *Gateway) AuditQueueDepth(depth func() int) {
	g.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portcullis_audit_queue_depth",
		Help: "Audit records waiting to be written to the store.",
	}, func() float64 { return float64(depth()) }))
}

// AccessLogDropped counts a dropped access log line.
func (g *Gateway) AccessLogDropped() { g.accessLogDrops.Inc() }

// SetListeners records how many listeners serve.
func (g *Gateway) SetListeners(n int) { g.activeListeners.Set(float64(n)) }

// SetPolicyVersion records the version this node serves.
func (g *Gateway) SetPolicyVersion(n int64) { g.policyVersion.Set(float64(n)) }

// SetReviewOverdue records whether the active policy's review is overdue.
func (g *Gateway) SetReviewOverdue(overdue bool) {
	v := 0.0
	if overdue {
		v = 1
	}
	g.reviewOverdue.Set(v)
}

// LimitStoreError counts a rate-limit decision the counter store failed.
func (g *Gateway) LimitStoreError() { g.limitStoreErrs.Inc() }

// WAFDetection counts one request that reached the WAF's anomaly threshold
// on route: in mode block it was blocked, in detect it passed.
func (g *Gateway) WAFDetection(route, mode string, blocked bool) {
	action := "passed"
	if blocked {
		action = "blocked"
	}
	g.wafDetections.WithLabelValues(route, mode, action).Inc()
}

// Alert counts one new alert of kind.
func (g *Gateway) Alert(kind string) { g.alerts.WithLabelValues(kind).Inc() }

// MonitorEventDropped counts a request anomaly detection could not queue.
func (g *Gateway) MonitorEventDropped() { g.monitorDrops.Inc() }

// ProviderUnavailable returns a function that counts a failed call to the
// AuthProvider named provider.
func (g *Gateway) ProviderUnavailable(provider string) func() {
	c := g.providerDown.WithLabelValues(provider)
	return c.Inc
}

// Route returns the handles for one route's metrics.
func (g *Gateway) Route(name string) *Route {
	return &Route{
		name:     name,
		requests: g.requests,
		duration: g.duration.WithLabelValues(name),
		upstream: g.upstream.WithLabelValues(name),
		counters: map[counterKey]prometheus.Counter{},

		authFailures: g.authFailures.WithLabelValues(name),
		rejections:   g.limitRejections.WithLabelValues(name),
	}
}

// Route is one route's metrics, resolved once per snapshot.
type Route struct {
	name     string
	requests *prometheus.CounterVec
	duration prometheus.Observer
	upstream prometheus.Observer

	mu       sync.RWMutex
	counters map[counterKey]prometheus.Counter

	authFailures, rejections prometheus.Counter
}

type counterKey struct {
	status   int
	decision string
}

// Observe records one answered request. upstream is zero when the request
// never reached an upstream.
func (r *Route) Observe(status int, decision string, total, upstream time.Duration) {
	r.counter(status, decision).Inc()
	switch decision { // CONTRACT §4's vocabulary
	case "unauthenticated":
		r.authFailures.Inc()
	case "limited":
		r.rejections.Inc()
	}
	r.duration.Observe(total.Seconds())
	if upstream > 0 {
		r.upstream.Observe(upstream.Seconds())
	}
}

func (r *Route) counter(status int, decision string) prometheus.Counter {
	k := counterKey{status, decision}
	r.mu.RLock()
	c, ok := r.counters[k]
	r.mu.RUnlock()
	if ok {
		return c
	}
	c = r.requests.WithLabelValues(r.name, statusLabel(status), decision)
	r.mu.Lock()
	r.counters[k] = c
	r.mu.Unlock()
	return c
}

func statusLabel(status int) string {
	if status < 100 || status > 999 {
		return "0"
	}
	return string([]byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)})
}
