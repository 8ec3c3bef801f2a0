package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ai"
	"github.com/portcullis/portcullis/internal/ai/guard"
	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/providers"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
	"github.com/portcullis/portcullis/internal/proxy"
)

// aiRoute compiles an ai route's front: its providers (shared by the routes
// of a snapshot, and taken over from the previous one when unchanged), its
// aliases, guard, token limit and budget.
func (b *chainBuilder) aiRoute(r *Route, rc config.Route) error {
	a := rc.AI
	cfg := ai.Config{
		Route:     r.Name,
		Timeout:   r.Timeout, // 0: each provider's, else ai.DefaultTimeout
		Counters:  ai.Counters{Tokens: b.snap.limits, Budgets: b.snap.quotas, OnStoreError: b.snap.onLimitStoreErr},
		Metrics:   b.deps.Metrics.AI(),
		Log:       b.deps.Log,
		Injection: "off",
		Aliases:   map[string][]ai.Target{},
	}
	if m := rc.Match; m != nil {
		cfg.Prefix = strings.TrimSuffix(m.PathPrefix, "/")
	}
	for _, name := range a.Providers {
		p, err := b.aiProvider(name)
		if err != nil {
			return err
		}
		cfg.Providers = append(cfg.Providers, p)
	}
	for alias, models := range a.Models {
		for _, model := range models {
			name, m, _ := strings.Cut(model, "/")
			p, err := b.aiProvider(name)
			if err != nil {
				return err
			}
			cfg.Aliases[alias] = append(cfg.Aliases[alias], ai.Target{Provider: p, Model: m})
		}
	}
	if g := a.Guard; g != nil {
		if g.PromptInjection != "" {
			cfg.Injection = g.PromptInjection
		}
		var err error
		cfg.Guard, err = guard.New(guard.Config{RedactPII: g.RedactPII, PromptInjection: cfg.Injection, Deny: g.Deny})
		if err != nil {
			return fmt.Errorf("ai.guard: %w", err)
		}
	}
	if t := a.TokenLimit; t != nil {
		cfg.Tokens = &ai.TokenLimit{Limit: ratelimit.Limit{Requests: t.Tokens, Interval: t.Interval.D()}, By: limitBy(t.By, r)}
	}
	if bu := a.Budget; bu != nil {
		by := bu.By
		if by == "" {
			by = "route"
			if r.Authn != nil {
				by = "consumer"
			}
		}
		cfg.Budget = &ai.Budget{Quota: ratelimit.Quota{Requests: microUSD(bu.USD), Period: ratelimit.Period(bu.Period)}, By: by}
	}
	route, err := ai.NewRoute(cfg)
	if err != nil {
		return err
	}
	r.AI = route
	return nil
}

// microUSD is a budget in whole micro-dollars, the counters' unit.
func microUSD(usd float64) int64 { return int64(usd*1e6 + 0.5) }

// aiProvider returns the compiled AIProvider named name: built once per
// snapshot, and taken over from the previous snapshot when its settings and
// key are the same, so that a reload keeps its connections warm. Its key is
// resolved now (environment, then the encrypted store): a snapshot is never
// built on a provider whose key is missing.
func (b *chainBuilder) aiProvider(name string) (*ai.Provider, error) {
	var m *config.AIProvider
	for _, p := range b.policy.AIProviders {
		if p.Metadata.Name == name {
			m = p
		}
	}
	if m == nil {
		return nil, fmt.Errorf("no AIProvider named %q", name)
	}
	key := ""
	if env := m.Spec.APIKeyEnv; env != "" {
		ctx, cancel := context.WithTimeout(context.Background(), providerTimeout)
		var err error
		key, err = b.deps.Secrets.Lookup(ctx, env)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("AIProvider %s: apiKeyEnv: %w", name, err)
		}
	}
	spec, _ := json.Marshal(m.Spec)
	keySum := sha256.Sum256([]byte(key))
	id := name + "\x00" + string(spec) + "\x00" + hex.EncodeToString(keySum[:])
	if p := b.snap.aiProviders[id]; p != nil {
		return p, nil
	}
	if b.prev != nil {
		if p := b.prev.aiProviders[id]; p != nil {
			b.snap.aiProviders[id] = p
			return p, nil
		}
	}
	client, closeIdle, err := aiClient(providers.BaseURL(m.Spec.Type, m.Spec.BaseURL), name)
	if err != nil {
		return nil, fmt.Errorf("AIProvider %s: %w", name, err)
	}
	api, err := providers.New(m.Spec.Type, llm.ProviderConfig{BaseURL: m.Spec.BaseURL, Key: key, Client: client})
	if err != nil {
		closeIdle()
		return nil, fmt.Errorf("AIProvider %s: %w", name, err)
	}
	p := &ai.Provider{Name: name, Type: m.Spec.Type, API: api, Models: m.Spec.Models, Pricing: map[string]ai.Price{},
		Timeout: m.Spec.Timeout.D(), Created: time.Now().Unix(), OnClose: closeIdle}
	for model, price := range m.Spec.Pricing {
		p.Pricing[model] = ai.Price{InputPerMTok: price.InputPerMTok, OutputPerMTok: price.OutputPerMTok}
	}
	b.snap.aiProviders[id] = p
	return p, nil
}

// aiProxy is the environment's HTTP(S)_PROXY setting (read once, at the
// first call; replaced in tests).
var aiProxy = http.ProxyFromEnvironment

// aiClient is the HTTP client of an AI provider at base: the gateway's own
// pooled transport (internal/proxy), which spares each call net/http's
// connection goroutines — or, when the environment's HTTP(S)_PROXY applies
// to the provider's host, net/http's transport through that proxy. Neither
// follows redirects: a key is never sent where the provider points. It also
// returns what releases its idle connections.
func aiClient(base, name string) (*http.Client, func(), error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, nil, fmt.Errorf("baseURL %q is not an http(s) URL", base)
	}
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if proxyURL, err := aiProxy(&http.Request{URL: u}); err == nil && proxyURL != nil {
		t := &http.Transport{
			Proxy:               aiProxy,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			DisableCompression:  true,
		}
		return &http.Client{Transport: t, CheckRedirect: noRedirects}, t.CloseIdleConnections, nil
	}
	up, err := proxy.NewUpstream(proxy.UpstreamConfig{Name: "AIProvider " + name, Targets: []*url.URL{{Scheme: u.Scheme, Host: u.Host}},
		DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	return &http.Client{Transport: up, CheckRedirect: noRedirects}, up.Close, nil
}
