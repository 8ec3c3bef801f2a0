package snapshot

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/policy/authn"
	"github.com/portcullis/portcullis/internal/policy/authz"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
	"github.com/portcullis/portcullis/internal/policy/validate"
	"github.com/portcullis/portcullis/internal/policy/waf"
)

// providerTimeout bounds fetching a provider's keys while a snapshot is built.
const providerTimeout = 15 * time.Second

// chainBuilder builds each route's policy chain. This is the one table from
// route fields to components, in the chain's fixed order: IP filter,
// authentication, authorization (roles, scopes, rule), rate limit, quota,
// then the input steps: validation and the WAF.
type chainBuilder struct {
	snap      *Snapshot
	prev      *Snapshot
	policy    *config.Policy
	deps      Deps
	declared  authn.KeySet
	consumers map[string][]string        // Consumer manifests' roles, joined to token identities
	overrides map[string]ratelimit.Limit // Consumer manifests' rate limits
}

func newChainBuilder(s, prev *Snapshot, p *config.Policy, deps Deps) (*chainBuilder, error) {
	declared, err := declaredKeys(p)
	if err != nil {
		return nil, err
	}
	consumers := map[string][]string{}
	overrides := map[string]ratelimit.Limit{}
	for _, c := range p.Consumers {
		consumers[c.Metadata.Name] = c.Spec.Roles
		if rl := c.Spec.RateLimit; rl != nil {
			overrides[c.Metadata.Name] = ratelimit.Limit{Requests: rl.Requests, Interval: rl.Interval.D(), Burst: rl.Burst}
		}
	}
	return &chainBuilder{snap: s, prev: prev, policy: p, deps: deps, declared: declared, consumers: consumers, overrides: overrides}, nil
}

func (b *chainBuilder) build(r *Route, rc config.Route) error {
	r.MaxBodyBytes = rc.MaxBodyBytes()
	if f := rc.IPFilter; f != nil {
		ipf, err := authz.NewIPFilter(f.Allow, f.Deny)
		if err != nil {
			return fmt.Errorf("ipFilter: %w", err)
		}
		r.IPFilter = ipf
	}
	if a := rc.Authentication; a != nil {
		var err error
		switch a.Type {
		case "", "none":
		case "apiKey":
			cfg := authn.APIKeyConfig{Declared: b.declared, Store: b.deps.Keys}
			if p := b.provider(a.Provider); p != nil {
				cfg.Header, cfg.Query = p.Spec.Header, p.Spec.Query
			}
			r.Authn = authn.NewAPIKey(cfg)
		case "jwt", "oauth2":
			r.Authn, err = b.tokenAuthenticator(b.provider(a.Provider))
		case "mtls":
			r.Authn, err = b.mtls()
		default:
			// config refuses the types not built yet; reaching here is a bug,
			// and failing closed is the answer.
			err = fmt.Errorf("authentication type %q is not implemented", a.Type)
		}
		if err != nil {
			return err
		}
		if r.Authn != nil {
			r.StripHeader, r.StripQuery = r.Authn.Credential()
		}
	}
	if rl := rc.RateLimit; rl != nil {
		r.RateLimit = ratelimit.NewLimiter(r.Name, ratelimit.Limit{Requests: rl.Requests, Interval: rl.Interval.D(), Burst: rl.Burst}, limitBy(rl.By, r), b.overrides, rl.OnStoreFailure == "deny")
	}
	if q := rc.Quota; q != nil {
		r.Quota = ratelimit.NewQuotaLimiter(r.Name, ratelimit.Quota{Requests: q.Requests, Period: ratelimit.Period(q.Period)}, limitBy(q.By, r), q.OnStoreFailure == "deny")
	}
	if v := rc.Validation; v != nil {
		val, err := validate.New(validate.Config{ContentTypes: v.ContentTypes, OpenAPI: v.OpenAPI, JSONSchema: v.JSONSchema, MaxJSONDepth: rc.MaxJSONDepth()})
		if err != nil {
			return fmt.Errorf("validation: %w", err)
		}
		r.Validate = val
	}
	if w := rc.WAF; w != nil && w.Mode != "off" {
		compiled, err := b.waf(w, r.MaxBodyBytes)
		if err != nil {
			return err
		}
		r.WAF, r.wafMode, r.onDetections = compiled, w.Mode, b.wafLogger(r.Name, w.Mode)
	}
	if rc.AI != nil {
		if err := b.aiRoute(r, rc); err != nil {
			return err
		}
	}
	if z := rc.Authorization; z != nil {
		if len(z.Roles) > 0 {
			r.Authz = append(r.Authz, authz.NewRoles(z.Roles))
		}
		if len(z.Scopes) > 0 {
			r.Authz = append(r.Authz, authz.NewScopes(z.Scopes))
		}
		if z.Rule != "" {
			rule, err := authz.NewRule(z.Rule)
			if err != nil {
				return fmt.Errorf("authorization.rule: %w", err)
			}
			r.Authz = append(r.Authz, rule)
		}
	}
	return nil
}

// limitBy is what a route's limit counts by: as configured, or by CONTRACT
// §2's default, consumer on authenticated routes and ip elsewhere.
func limitBy(by string, r *Route) string {
	switch {
	case by != "":
		return by
	case r.Authn != nil:
		return "consumer"
	default:
		return "ip"
	}
}

// waf compiles the rule set of a route's WAF settings, or takes it over from
// this snapshot or the previous one: compiling the CRS takes hundreds of
// milliseconds, and routes (and versions) with the same settings share it.
func (b *chainBuilder) waf(w *config.WAF, maxBodyBytes int64) (*waf.WAF, error) {
	cfg := waf.Config{Mode: w.Mode, ParanoiaLevel: w.ParanoiaLevel, AnomalyThreshold: w.AnomalyThreshold, Exclusions: w.Exclusions, MaxBodyBytes: maxBodyBytes}
	key := cfg.Key()
	if compiled := b.snap.wafs[key]; compiled != nil {
		return compiled, nil
	}
	if b.prev != nil {
		if compiled := b.prev.wafs[key]; compiled != nil {
			b.snap.wafs[key] = compiled
			return compiled, nil
		}
	}
	compiled, err := waf.New(cfg)
	if err != nil {
		return nil, err // it says "waf: …"
	}
	b.snap.wafs[key] = compiled
	return compiled, nil
}

func (b *chainBuilder) provider(name string) *config.AuthProvider {
	for _, p := range b.policy.AuthProviders {
		if p.Metadata.Name == name {
			return p
		}
	}
	return nil
}

// tokenAuthenticator builds (or takes over from the previous snapshot, when
// the provider's settings did not change) the bearer-token step of an oauth2
// or jwt provider: its keys are fetched now, so that a snapshot is never
// built on a provider it cannot reach.
func (b *chainBuilder) tokenAuthenticator(p *config.AuthProvider) (policy.Authenticator, error) {
	if p == nil {
		return nil, fmt.Errorf("no AuthProvider for token authentication")
	}
	spec, _ := json.Marshal(p.Spec)
	consumers, _ := json.Marshal(b.consumers)
	key := p.Metadata.Name + "\x00" + string(spec) + "\x00" + string(consumers)
	if a := b.snap.authenticators[key]; a != nil {
		return a, nil
	}
	if b.prev != nil {
		if a := b.prev.authenticators[key]; a != nil {
			b.snap.authenticators[key] = a
			return a, nil
		}
	}
	s := p.Spec
	client, err := providerClient(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("AuthProvider %s: %w", p.Metadata.Name, err)
	}
	var claims config.ClaimPaths
	if s.Claims != nil {
		claims = *s.Claims
	}
	bearer := &authn.Bearer{Store: b.deps.Keys}
	if s.JWKSURL != "" || s.Issuer != "" && (s.Type == "jwt" || s.Introspection == nil) {
		ctx, cancel := context.WithTimeout(context.Background(), providerTimeout)
		defer cancel()
		bearer.JWT, err = authn.NewJWT(ctx, authn.JWTConfig{
			Issuer: s.Issuer, JWKSURL: s.JWKSURL, Audiences: s.Audiences, Algorithms: s.Algorithms,
			ClockSkew: s.ClockSkew.D(), RolesClaim: claims.Roles, ScopesClaim: claims.Scopes, ConsumerClaim: claims.Consumer,
			HTTPClient: client, Consumers: b.consumers, Log: b.deps.Log,
		})
		if err != nil {
			return nil, fmt.Errorf("AuthProvider %s: %w", p.Metadata.Name, err)
		}
	}
	if in := s.Introspection; in != nil && s.Type == "oauth2" {
		ctx, cancel := context.WithTimeout(context.Background(), providerTimeout)
		secret, err := b.deps.Secrets.Lookup(ctx, in.ClientSecretEnv)
		cancel()
		if err != nil {
			bearer.Close()
			return nil, fmt.Errorf("AuthProvider %s: introspection.clientSecretEnv: %w", p.Metadata.Name, err)
		}
		bearer.Introspection, err = authn.NewIntrospection(authn.IntrospectionConfig{
			URL: in.URL, ClientID: in.ClientID, ClientSecret: secret, Issuer: s.Issuer, Audiences: s.Audiences,
			RolesClaim: claims.Roles, ScopesClaim: claims.Scopes, ConsumerClaim: claims.Consumer,
			Consumers: b.consumers, HTTPClient: client, Log: b.deps.Log,
			OnUnavailable: b.deps.Metrics.ProviderUnavailable(p.Metadata.Name),
		})
		if err != nil {
			bearer.Close()
			return nil, fmt.Errorf("AuthProvider %s: %w", p.Metadata.Name, err)
		}
	}
	b.snap.authenticators[key] = bearer
	return bearer, nil
}

// providerClient is the HTTP client for a provider's endpoints: verified
// against caFile only when one is given, else the system roots.
func providerClient(caFile string) (*http.Client, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	if caFile == "" {
		return client, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caFile %s holds no PEM certificate", caFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client.Transport = t
	return client, nil
}

// mtls is the authenticator of mtls routes: the client certificates the
// Consumer manifests declare. One is built per route, as cheap as a map.
func (b *chainBuilder) mtls() (*authn.MTLS, error) {
	m := authn.NewMTLS()
	for _, c := range b.policy.Consumers {
		id := policy.Identity{Consumer: c.Metadata.Name, Roles: c.Spec.Roles}
		for _, cert := range c.Spec.Certificates {
			if cert.Subject != "" {
				m.DeclareSubject(cert.Subject, id)
				continue
			}
			raw, err := hex.DecodeString(cert.SHA256)
			if err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("consumer %s: certificate sha256 is not 64 hex digits", c.Metadata.Name)
			}
			m.DeclareFingerprint([sha256.Size]byte(raw), id)
		}
	}
	return m, nil
}

// declaredKeys indexes the API keys declared in Consumer manifests by hash.
func declaredKeys(p *config.Policy) (authn.KeySet, error) {
	set := authn.KeySet{}
	for _, c := range p.Consumers {
		for _, k := range c.Spec.APIKeys {
			raw, err := hex.DecodeString(k.SHA256)
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("consumer %s: key %s: sha256 is not 64 hex digits", c.Metadata.Name, k.ID)
			}
			set[[32]byte(raw)] = authn.Key{ID: k.ID, Consumer: c.Metadata.Name, Roles: c.Spec.Roles}
		}
	}
	return set, nil
}
