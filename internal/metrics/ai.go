package metrics

import "github.com/prometheus/client_golang/prometheus"

// AI holds the AI gateway's metrics: calls, provider attempts, tokens and
// spend, per consumer and model.
type AI struct {
	calls    *prometheus.CounterVec
	attempts *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	cost     *prometheus.CounterVec
}

func newAI(reg *prometheus.Registry) *AI {
	a := &AI{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_ai_requests_total",
			Help: "AI calls that reached a provider, by route, provider, model and how they ended (complete, client_disconnect, upstream_error).",
		}, []string{"route", "provider", "model", "ended"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_ai_provider_failures_total",
			Help: "Provider calls that failed before answering, by provider and status (0: no answer); a retryable one moves on to the next candidate.",
		}, []string{"provider", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_ai_tokens_total",
			Help: "Tokens used, by consumer (\"\" when anonymous), provider, model and kind (prompt or completion).",
		}, []string{"consumer", "provider", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_ai_cost_usd_total",
			Help: "Spend in US dollars from the providers' pricing tables, by consumer, provider and model.",
		}, []string{"consumer", "provider", "model"}),
	}
	reg.MustRegister(a.calls, a.attempts, a.tokens, a.cost)
	return a
}

// AI returns the AI gateway's metrics (nil on a nil Gateway: none kept).
func (g *Gateway) AI() *AI {
	if g == nil {
		return nil
	}
	return g.ai
}

// Call counts an AI call's use: its tokens and cost, and how it ended.
func (a *AI) Call(route, consumer, provider, model, ended string, prompt, completion int64, costUSD float64) {
	if a == nil {
		return
	}
	a.calls.WithLabelValues(route, provider, model, ended).Inc()
	a.tokens.WithLabelValues(consumer, provider, model, "prompt").Add(float64(prompt))
	a.tokens.WithLabelValues(consumer, provider, model, "completion").Add(float64(completion))
	a.cost.WithLabelValues(consumer, provider, model).Add(costUSD)
}

// ProviderFailure counts a provider call that failed before answering.
func (a *AI) ProviderFailure(provider string, status int) {
	if a == nil {
		return
	}
	a.attempts.WithLabelValues(provider, statusLabel(status)).Inc()
}
