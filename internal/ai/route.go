// Package ai is the AI gateway's front: an ai route's OpenAI-compatible
// endpoints ({prefix}/v1/chat/completions, /v1/embeddings, /v1/models) in
// front of the route's providers. It resolves the model a client names to
// candidates, guards the prompt, reserves the call's tokens and cost against
// the route's token limit and budget, calls the candidates in order until
// one answers (before the first byte reaches the client), relays the answer
// — a stream chunk by chunk — and settles the reservation with the usage
// the provider reported (or, when it never came, the gateway's estimate).
//
// The provider packages (internal/ai/providers/…) translate each vendor's
// API; this package sees only llm.Provider.
package ai

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ai/guard"
	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
)

// DefaultMaxTokens is the completion a call reserves when it sets no
// max_tokens (or max_completion_tokens) on a route with a token limit or a
// budget; the gateway then sends it as max_tokens, so that the provider
// cannot produce more than was reserved.
const DefaultMaxTokens = 4096

// DefaultTimeout bounds a provider's time to its answer (to its first chunk
// on a stream) when neither the AIProvider nor the route sets a timeout.
const DefaultTimeout = 60 * time.Second

// Provider is one AIProvider as the routes use it.
type Provider struct {
	Name    string
	Type    string
	API     llm.Provider
	Models  []string // the models it serves ("" list: any it is asked for)
	Pricing map[string]Price
	Timeout time.Duration // 0: the route's
	Created int64         // unix seconds, for /v1/models
	// OnClose releases its idle connections (may be nil).
	OnClose func()
}

// Close releases the provider's idle connections once no snapshot uses it;
// calls in flight finish.
func (p *Provider) Close() {
	if p.OnClose != nil {
		p.OnClose()
	}
}

// Price is a model's price in US dollars per million tokens.
type Price struct{ InputPerMTok, OutputPerMTok float64 }

// Serves reports whether p lists model (or lists none).
func (p *Provider) Serves(model string) bool {
	return len(p.Models) == 0 || slices.Contains(p.Models, model)
}

// price returns model's price and whether p has one.
func (p *Provider) price(model string) (Price, bool) {
	pr, ok := p.Pricing[model]
	return pr, ok
}

// Target is one candidate: a provider and the model it is asked for.
type Target struct {
	Provider *Provider
	Model    string
}

// Name is the target as clients see it: PROVIDER/MODEL.
func (t Target) Name() string { return t.Provider.Name + "/" + t.Model }

// TokenLimit is a route's token limit, GCRA like a rate limit.
type TokenLimit struct {
	Limit ratelimit.Limit // Requests is tokens per Interval
	By    string          // consumer | key | route | ip
}

// Budget is a route's spend limit in micro-dollars per calendar period.
type Budget struct {
	Quota ratelimit.Quota // Requests is micro-dollars
	By    string
}

// Config is a compiled ai route.
type Config struct {
	Route string
	// Prefix is the route's path prefix ("" for none): the endpoints are
	// Prefix + "/v1/…".
	Prefix    string
	Providers []*Provider         // the route's providers, in order
	Aliases   map[string][]Target // ai.models
	Timeout   time.Duration       // the route's timeout (0: DefaultTimeout)
	Guard     *guard.Guard        // nil: no guard
	Injection string              // block | detect | off
	Tokens    *TokenLimit         // nil: none
	Budget    *Budget             // nil: none
	Counters  Counters
	Metrics   *metrics.AI
	Log       *slog.Logger
	// SettleTimeout is how long a stream whose client hung up is read on
	// for the provider's usage (0: DefaultSettleTimeout).
	SettleTimeout time.Duration
}

// Counters are where token limits and budgets count: in memory on one node,
// in Redis for a cluster.
type Counters struct {
	Tokens  ratelimit.Counter
	Budgets ratelimit.QuotaCounter
	// OnStoreError is told when a counter store fails (may be nil): the
	// call is refused with 503, never let through uncounted.
	OnStoreError func(error)
}

// Route is a compiled ai route, ready to serve.
type Route struct {
	cfg Config
	// known are the providers clients may name (the route's and its
	// aliases'), by name.
	known map[string]*Provider
}

// NewRoute checks cfg and returns its Route.
func NewRoute(cfg Config) (*Route, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SettleTimeout <= 0 {
		cfg.SettleTimeout = DefaultSettleTimeout
	}
	r := &Route{cfg: cfg, known: map[string]*Provider{}}
	for _, p := range cfg.Providers {
		r.known[p.Name] = p
	}
	for alias, targets := range cfg.Aliases {
		if len(targets) == 0 {
			return nil, fmt.Errorf("model alias %q has no targets", alias)
		}
		for _, t := range targets {
			r.known[t.Provider.Name] = t.Provider
		}
	}
	if len(r.known) == 0 {
		return nil, fmt.Errorf("ai route %s has no providers", cfg.Route)
	}
	return r, nil
}

// Resolve returns the candidates for the model a client named, in the order
// they are tried (CONTRACT §2): an alias's list; PROVIDER/MODEL, that
// provider alone; a bare MODEL, the route's providers that list it. A model
// the route does not serve returns none.
func (r *Route) Resolve(model string) []Target {
	if targets, ok := r.cfg.Aliases[model]; ok {
		return targets
	}
	if name, m, ok := strings.Cut(model, "/"); ok && m != "" {
		if p := r.known[name]; p != nil && p.Serves(m) {
			return []Target{{Provider: p, Model: m}}
		}
	}
	var out []Target
	for _, p := range r.cfg.Providers {
		if len(p.Models) > 0 && slices.Contains(p.Models, model) {
			out = append(out, Target{Provider: p, Model: model})
		}
	}
	return out
}

// Models lists what clients may name, for /v1/models: every PROVIDER/MODEL
// the route's providers list, then the aliases.
func (r *Route) Models() []llm.Model {
	var out []llm.Model
	seen := map[string]bool{}
	add := func(m llm.Model) {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range r.known {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		p := r.known[n]
		for _, m := range p.Models {
			add(llm.Model{ID: p.Name + "/" + m, Object: "model", Created: p.Created, OwnedBy: p.Name})
		}
	}
	aliases := slices.Sorted(func(yield func(string) bool) {
		for a := range r.cfg.Aliases {
			if !yield(a) {
				return
			}
		}
	})
	for _, a := range aliases {
		add(llm.Model{ID: a, Object: "model", Created: r.cfg.Aliases[a][0].Provider.Created, OwnedBy: "portcullis"})
	}
	return out
}
