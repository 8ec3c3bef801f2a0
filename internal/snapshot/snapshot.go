// Package snapshot compiles a validated policy into an immutable Snapshot — the
// listeners, their routers and each route's compiled chain and upstream — and
// holds the active one behind an atomic pointer. A request loads the pointer
// once and uses that snapshot to the end, so a swap never mixes two versions in
// one request and never waits on a lock. All expensive work happens in Compile;
// a policy that fails to compile is never swapped in.
package snapshot

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/ai"
	"github.com/portcullis/portcullis/internal/blocklist"
	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/policy/authn"
	"github.com/portcullis/portcullis/internal/policy/authz"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
	"github.com/portcullis/portcullis/internal/policy/waf"
	"github.com/portcullis/portcullis/internal/proxy"
	"github.com/portcullis/portcullis/internal/router"
	"github.com/portcullis/portcullis/internal/secrets"
)

// DefaultRouteTimeout bounds the time to an upstream's response headers when
// neither the route nor its Service sets a timeout.
const DefaultRouteTimeout = 60 * time.Second

// Snapshot is one compiled policy. It is never modified once active.
type Snapshot struct {
	Policy *config.Policy
	// Version and VersionHash identify the stored policy version it was
	// compiled from (0 and "" for a candidate that is not recorded).
	Version        int64
	VersionHash    string
	Listeners      []*Listener
	TrustedProxies []netip.Prefix
	MaxHeaderBytes int
	MaxHeaderCount int
	// BodyIdleTimeout bounds how long a request body may send nothing.
	BodyIdleTimeout time.Duration
	AccessLog       AccessLog
	CompiledAt      time.Time

	// IPFilter refuses clients before routing (nil: none).
	IPFilter *authz.IPFilter
	// blocks is the node's incident-response list (nil: none), read per
	// request: it changes between snapshots.
	blocks *blocklist.Holder
	// limits holds the rate-limit counters the routes count against.
	limits          ratelimit.Counter
	quotas          ratelimit.QuotaCounter
	onLimitStoreErr func(error)

	byAddr         map[string]*Listener
	upstreams      map[string]*proxy.Upstream      // by upstreamKey
	authenticators map[string]policy.Authenticator // token steps, by provider settings
	wafs           map[string]*waf.WAF             // compiled rule sets, by settings
	aiProviders    map[string]*ai.Provider         // by name, settings and key digest
}

// AccessLog is the access log setting of a snapshot.
type AccessLog struct {
	Enabled bool
	Path    string
}

// Listener is one bound address and the routes it serves.
type Listener struct {
	Name   string
	Addr   string // host:port to bind
	Router *router.Router[*Route]
	// TLS is an HTTPS listener's configuration as compiled (its files
	// read); nil for HTTP. The server reloads it when the files change.
	TLS *certs.Loaded
	// HSTS is the Strict-Transport-Security value every response of the
	// listener carries; "" for none.
	HSTS string
}

// Route is a compiled route: everything a request needs, resolved.
type Route struct {
	Name        string
	Listener    string
	StripPrefix string          // the prefix to remove before forwarding, or ""
	Upstream    *proxy.Upstream // nil on an ai route
	// AI is an ai route's front (nil on a route to a Service).
	AI        *ai.Route
	Timeout   time.Duration
	WebSocket bool
	Metrics   *metrics.Route

	// The policy chain, in its fixed order; nil steps are skipped.
	Authn policy.Authenticator
	Authz []policy.Authorizer
	// IPFilter refuses clients by address before authentication (nil: none).
	IPFilter *authz.IPFilter
	// RateLimit counts requests after authorization (nil: none).
	RateLimit *ratelimit.Limiter
	// Quota counts the requests the rate limit admitted (nil: none).
	Quota *ratelimit.QuotaLimiter
	// MaxBodyBytes is the most a request body may hold (validation's
	// maxBodyBytes or the default): more is refused with 413.
	MaxBodyBytes int64
	// The input steps, run after Decide (see CheckHead, CheckBody).
	inputSteps
	// StripHeader and StripQuery are the credential to remove before the
	// request goes upstream ("" for none).
	StripHeader, StripQuery string
}

// Deps are what Compile needs from the running node.
type Deps struct {
	Metrics *metrics.Gateway
	// ListenAddrs overrides listener addresses on this node (run --listen NAME=ADDR).
	ListenAddrs map[string]string
	// Keys are the node's API keys from the store (nil: none).
	Keys *authn.Keys
	// Log receives the components' warnings (provider key refreshes, ...).
	Log *slog.Logger
	// Limits holds the rate-limit counters (in memory, or Redis for a
	// cluster); it outlives snapshots so that a reload never resets them.
	// Nil: a private in-memory store (offline use).
	Limits ratelimit.Counter
	// Quotas holds the quota counters, likewise (nil: private, in memory).
	Quotas ratelimit.QuotaCounter
	// OnLimitStoreError is told when the counter store fails (may be nil).
	OnLimitStoreError func(error)
	// Blocks is the node's incident-response list, kept current from the
	// store; it outlives snapshots, like Keys. Nil: nothing is blocked
	// (offline use: policy tests).
	Blocks *blocklist.Holder
	// Secrets resolves the secrets manifests name (clientSecretEnv, …):
	// the environment, then the store. Nil: the environment only.
	Secrets *secrets.Resolver
}

// Compile builds a Snapshot from a validated policy. Upstreams whose settings
// did not change are taken over from prev (may be nil) so that a reload keeps
// the pooled upstream connections warm.
func Compile(p *config.Policy, deps Deps, prev *Snapshot) (*Snapshot, error) {
	if p.Gateway == nil {
		return nil, errors.New("policy has no Gateway")
	}
	spec := p.Gateway.Spec
	if deps.Limits == nil {
		deps.Limits = ratelimit.NewStore(0)
	}
	if deps.Quotas == nil {
		deps.Quotas = ratelimit.NewQuotaStore(0)
	}
	s := &Snapshot{
		limits:          deps.Limits,
		quotas:          deps.Quotas,
		onLimitStoreErr: deps.OnLimitStoreError,
		blocks:          deps.Blocks,
		Policy:          p,
		CompiledAt:      time.Now(),
		byAddr:          map[string]*Listener{},
		upstreams:       map[string]*proxy.Upstream{},
		authenticators:  map[string]policy.Authenticator{},
		wafs:            map[string]*waf.WAF{},
		aiProviders:     map[string]*ai.Provider{},
	}
	for _, cidr := range spec.TrustedProxies {
		pfx, err := parsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("trustedProxies: %w", err)
		}
		s.TrustedProxies = append(s.TrustedProxies, pfx)
	}
	s.MaxHeaderBytes, s.MaxHeaderCount, s.BodyIdleTimeout = 32768, 100, 30*time.Second
	if l := spec.Limits; l != nil {
		if l.BodyIdleTimeout > 0 {
			s.BodyIdleTimeout = l.BodyIdleTimeout.D()
		}
		if l.MaxHeaderBytes > 0 {
			s.MaxHeaderBytes = l.MaxHeaderBytes
		}
		if l.MaxHeaderCount > 0 {
			s.MaxHeaderCount = l.MaxHeaderCount
		}
	}
	s.AccessLog = AccessLog{Enabled: true, Path: "stdout"}
	if a := spec.AccessLog; a != nil {
		if a.Enabled != nil {
			s.AccessLog.Enabled = *a.Enabled
		}
		if a.Path != "" {
			s.AccessLog.Path = a.Path
		}
	}

	services := map[string]*config.Service{}
	for _, svc := range p.Services {
		services[svc.Metadata.Name] = svc
	}
	chain, err := newChainBuilder(s, prev, p, deps)
	if err != nil {
		return nil, err
	}
	if f := spec.IPFilter; f != nil {
		if s.IPFilter, err = authz.NewIPFilter(f.Allow, f.Deny); err != nil {
			return nil, fmt.Errorf("ipFilter: %w", err)
		}
	}
	for _, ln := range spec.Listeners {
		addr := deps.ListenAddrs[ln.Name]
		if addr == "" {
			host := ln.Address
			if host == "" {
				host = "0.0.0.0"
			}
			addr = net.JoinHostPort(host, strconv.Itoa(ln.Port))
		}
		routes := append(append([]config.Route(nil), ln.Routes...), spec.Routes...)
		specs := make([]router.Spec[*Route], 0, len(routes))
		for _, rc := range routes {
			r, err := s.compileRoute(ln.Name, rc, services, deps, prev)
			if err == nil {
				err = chain.build(r, rc)
			}
			if err != nil {
				s.closeNew(prev)
				return nil, fmt.Errorf("listener %s, route %s: %w", ln.Name, rc.Name, err)
			}
			spec := router.Spec[*Route]{Methods: rc.Methods, Route: r}
			if m := rc.Match; m != nil {
				spec.Host, spec.Path, spec.PathPrefix = m.Host, m.Path, m.PathPrefix
			}
			specs = append(specs, spec)
		}
		rt, err := router.New(specs)
		if err != nil {
			s.closeNew(prev)
			return nil, fmt.Errorf("listener %s: %w", ln.Name, err)
		}
		l := &Listener{Name: ln.Name, Addr: addr, Router: rt}
		if ln.Protocol == "HTTPS" && ln.TLS != nil {
			if l.TLS, err = certs.Load(tlsSource(ln.TLS)); err != nil {
				s.closeNew(prev)
				return nil, fmt.Errorf("listener %s: tls: %w", ln.Name, err)
			}
			l.HSTS = hstsValue(ln.TLS.HSTS)
		}
		if other := s.byAddr[addr]; other != nil {
			s.closeNew(prev)
			return nil, fmt.Errorf("listeners %s and %s both bind %s", other.Name, ln.Name, addr)
		}
		s.byAddr[addr] = l
		s.Listeners = append(s.Listeners, l)
	}
	return s, nil
}

// tlsSource is what certs.Load needs of a listener's tls.
func tlsSource(t *config.ListenerTLS) certs.Source {
	src := certs.Source{Pairs: []certs.Pair{{CertFile: t.CertFile, KeyFile: t.KeyFile}}, ClientCAFile: t.ClientCAFile, MinVersion: tls.VersionTLS12}
	for _, p := range t.Certificates {
		src.Pairs = append(src.Pairs, certs.Pair{CertFile: p.CertFile, KeyFile: p.KeyFile})
	}
	if t.MinVersion == "1.3" {
		src.MinVersion = tls.VersionTLS13
	}
	return src
}

// hstsValue renders a Strict-Transport-Security value ("" for none).
func hstsValue(h *config.HSTS) string {
	if h == nil {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(int64(time.Duration(h.MaxAge)/time.Second), 10)
	if h.IncludeSubDomains {
		v += "; includeSubDomains"
	}
	return v
}

func (s *Snapshot) compileRoute(listener string, rc config.Route, services map[string]*config.Service, deps Deps, prev *Snapshot) (*Route, error) {
	if rc.AI != nil {
		// The front is compiled with the chain (chainBuilder.aiRoute):
		// its limits count by what authentication finds.
		r := &Route{Name: rc.Name, Listener: listener, Timeout: rc.Timeout.D(), Metrics: deps.Metrics.Route(rc.Name)}
		return r, nil
	}
	svc := services[rc.To]
	if svc == nil {
		return nil, fmt.Errorf("service %q not found", rc.To)
	}
	up, err := s.upstream(svc, prev, deps.Log)
	if err != nil {
		return nil, err
	}
	r := &Route{
		Name:      rc.Name,
		Listener:  listener,
		Upstream:  up,
		Timeout:   DefaultRouteTimeout,
		WebSocket: rc.WebSocket,
		Metrics:   deps.Metrics.Route(rc.Name),
	}
	switch {
	case rc.Timeout > 0:
		r.Timeout = rc.Timeout.D()
	case svc.Spec.Timeout > 0:
		r.Timeout = svc.Spec.Timeout.D()
	}
	if rc.StripPrefix && rc.Match != nil {
		r.StripPrefix = strings.TrimSuffix(rc.Match.PathPrefix, "/")
	}
	return r, nil
}

// upstream returns the Upstream for svc, reusing prev's when its settings are
// the same. Its tls files are read here, on every compile, and their contents
// are part of the settings: a reload after a CA or a client certificate
// changed gets new connections, never ones made under the old files.
func (s *Snapshot) upstream(svc *config.Service, prev *Snapshot, log *slog.Logger) (*proxy.Upstream, error) {
	name := svc.Metadata.Name
	urls := svc.Spec.URLs
	if svc.Spec.URL != "" {
		urls = append([]string{svc.Spec.URL}, urls...)
	}
	key := name + "\x00" + strings.Join(urls, "\x00")
	cfg := proxy.UpstreamConfig{Name: name}
	if t := svc.Spec.TLS; t != nil {
		var digest string
		var err error
		cfg.TLS, digest, err = proxy.LoadTLS(proxy.ClientTLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
			ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify})
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		key += "\x00" + digest
	}
	if up := s.upstreams[key]; up != nil {
		return up, nil
	}
	if t := svc.Spec.TLS; t != nil && t.InsecureSkipVerify {
		if log == nil {
			log = slog.Default()
		}
		log.Warn("INSECURE: tls.insecureSkipVerify is set: the upstream's certificate is not verified, "+
			"so anyone on the network path can impersonate it and read its traffic", "service", name)
	}
	if prev != nil {
		if up := prev.upstreams[key]; up != nil {
			s.upstreams[key] = up
			return up, nil
		}
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		cfg.Targets = append(cfg.Targets, u)
	}
	up, err := proxy.NewUpstream(cfg)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	s.upstreams[key] = up
	return up, nil
}

// closeNew closes what a failed Compile created (not what it took from prev).
func (s *Snapshot) closeNew(prev *Snapshot) { s.Release(prev) }

// Release closes the upstreams and authenticators of s that next does not
// use. Requests still in flight on s finish first: an upstream's Close only
// shuts idle connections, an authenticator's only stops its key refresh.
func (s *Snapshot) Release(next *Snapshot) {
	for k, up := range s.upstreams {
		if next == nil || next.upstreams[k] != up {
			up.Close()
		}
	}
	for k, p := range s.aiProviders {
		if next == nil || next.aiProviders[k] != p {
			p.Close()
		}
	}
	for k, a := range s.authenticators {
		if next == nil || next.authenticators[k] != a {
			if c, ok := a.(interface{ Close() }); ok {
				c.Close()
			}
		}
	}
}

// Sandbox returns a copy of s that counts rate limits and quotas in stores of its own,
// for deciding requests that must not touch the real counters (policy tests,
// a shadowed candidate). It shares everything else with s.
func (s *Snapshot) Sandbox() *Snapshot {
	c := *s
	c.limits = ratelimit.NewStore(0)
	c.quotas = ratelimit.NewQuotaStore(0)
	return &c
}

// ListenerByAddr returns the listener bound at addr, or nil.
func (s *Snapshot) ListenerByAddr(addr string) *Listener { return s.byAddr[addr] }

// parsePrefix accepts a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// Holder holds the active Snapshot.
type Holder struct{ p atomic.Pointer[Snapshot] }

// Load returns the active snapshot (nil before the first Store).
func (h *Holder) Load() *Snapshot { return h.p.Load() }

// Swap makes s active and returns the snapshot it replaced.
func (h *Holder) Swap(s *Snapshot) *Snapshot { return h.p.Swap(s) }
