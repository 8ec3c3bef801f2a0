package config

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"regexp"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/policy/authz"
	"github.com/portcullis/portcullis/internal/policy/validate"
)

// routeSite is a route of a Gateway and where it is in the document.
type routeSite struct {
	r        *Route
	path     string    // e.g. "spec.listeners[0].routes[1]"
	listener *Listener // nil for a spec-level route, which is on every listener
	index    int       // in its list
}

// routeSites lists a Gateway's routes: each listener's, then the spec-level ones.
func (s *GatewaySpec) routeSites() []routeSite {
	var sites []routeSite
	for i := range s.Listeners {
		l := &s.Listeners[i]
		for j := range l.Routes {
			sites = append(sites, routeSite{&l.Routes[j], indexPath(indexPath("spec.listeners", i)+".routes", j), l, j})
		}
	}
	for j := range s.Routes {
		sites = append(sites, routeSite{&s.Routes[j], indexPath("spec.routes", j), nil, j})
	}
	return sites
}

// defaultName is the name of a route that has none: route-LISTENER-INDEX, or
// route-INDEX for a spec-level route.
func (site routeSite) defaultName() string {
	if site.listener == nil {
		return fmt.Sprintf("route-%d", site.index)
	}
	return fmt.Sprintf("route-%s-%d", site.listener.Name, site.index)
}

// mtlsListeners checks that a route with authentication type mtls is
// served only where clients must present a certificate: on HTTPS listeners
// with a clientCAFile (every listener, for a spec-level route).
func (c checker) mtlsListeners(s *GatewaySpec, site routeSite) {
	if a := site.r.Authentication; a == nil || a.Type != "mtls" {
		return
	}
	listeners := s.Listeners
	if site.listener != nil {
		listeners = []Listener{*site.listener}
	}
	for _, l := range listeners {
		if l.Protocol != "HTTPS" || l.TLS == nil || l.TLS.ClientCAFile == "" {
			c.at(site.path+".authentication.type", "authentication type mtls needs client certificates: listener %q is not HTTPS with tls.clientCAFile", l.Name)
			return
		}
	}
}

// routes checks every route of a Gateway, names those without a name, and
// checks that names are unique and that no two routes of a listener match the
// same requests.
func (c checker) routes(s *GatewaySpec) {
	sites := s.routeSites()
	explicit := map[*Route]bool{}
	for _, site := range sites {
		if site.r.Name == "" {
			site.r.Name = site.defaultName()
		} else {
			explicit[site.r] = true
			if !isName(site.r.Name) {
				c.at(site.path+".name", "route name %q is invalid: %s", site.r.Name, nameRule)
			}
		}
		c.route(site.r, site.path)
		c.mtlsListeners(s, site)
	}

	// Names, in the order they are written.
	slices.SortStableFunc(sites, func(a, b routeSite) int {
		return comparePositions(c.pos(a.path), c.pos(b.path))
	})
	named := map[string]string{} // route name → path of the route
	for _, site := range sites {
		first, dup := named[site.r.Name]
		switch {
		case !dup:
			named[site.r.Name] = site.path
		case explicit[site.r]:
			c.at(site.path+".name", "duplicate route name %q (the first is at %s)", site.r.Name, c.pos(first))
		default:
			c.at(site.path, "the default name of this route, %q, is taken by the route at %s; name this route", site.r.Name, c.pos(first))
		}
	}

	for i := range s.Listeners {
		c.ambiguous(sites, &s.Listeners[i])
	}
}

// ambiguous reports the routes of a listener that match the same host and path
// as an earlier one, for a method they both allow. sites are in written order.
func (c checker) ambiguous(sites []routeSite, l *Listener) {
	type match struct{ host, path string }
	type claim struct {
		match
		method string // "" for every method
	}
	first := map[match]routeSite{}   // the first route of each match
	claimed := map[claim]routeSite{} // the first route of each match and method
	for _, site := range sites {
		if site.listener != nil && site.listener != l {
			continue
		}
		key := match{path: "prefix /"}
		if m := site.r.Match; m != nil {
			key.host = m.Host
			switch {
			case m.Path != "":
				key.path = "exact " + m.Path
			case m.PathPrefix != "":
				key.path = "prefix " + m.PathPrefix
			}
		}
		other, clash := first[key]
		if len(site.r.Methods) > 0 {
			other, clash = claimed[claim{key, ""}]
			for _, method := range site.r.Methods {
				if !clash {
					other, clash = claimed[claim{key, method}]
				}
			}
		}
		if clash {
			c.at(site.path+".match", "route %q matches the same host, path and methods as route %q (at %s)", site.r.Name, other.r.Name, c.pos(other.path))
			continue
		}
		if _, ok := first[key]; !ok {
			first[key] = site
		}
		methods := site.r.Methods
		if len(methods) == 0 {
			methods = []string{""}
		}
		for _, method := range methods {
			claimed[claim{key, method}] = site
		}
	}
}

// route checks one route, upper-casing and de-duplicating its methods and
// lowercasing its host.
func (c checker) route(r *Route, path string) {
	switch {
	case r.To != "" && r.AI != nil:
		c.at(path+".ai", "a route sends to a Service (to) or to AI providers (ai), not both")
	case r.To == "" && r.AI == nil && !c.d.bad[path+".ai"]:
		c.at(path+".to", "a route needs to (a Service) or ai (AI providers)")
	case r.To != "":
		c.ref(path+".to", c.v.p.ServiceByName(r.To) != nil, "no Service named %q", r.To)
	}

	var methods []string
	for i, m := range r.Methods {
		if !isToken(m) {
			c.at(indexPath(path+".methods", i), "%q is not an HTTP method", m)
			continue
		}
		if m = strings.ToUpper(m); !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	r.Methods = methods

	if m := r.Match; m != nil {
		if m.Path != "" && m.PathPrefix != "" {
			c.at(path+".match.path", "set match.path or match.pathPrefix, not both")
		}
		c.matchPath(path+".match.pathPrefix", "match.pathPrefix", m.PathPrefix)
		c.matchPath(path+".match.path", "match.path", m.Path)
		if m.Host != "" {
			if m.Host = strings.ToLower(m.Host); !isHostPattern(m.Host) {
				c.at(path+".match.host", `match.host %q is not a hostname (a leading "*." wildcard is allowed)`, m.Host)
			}
		}
	}

	c.ipFilter(path+".ipFilter", r.IPFilter)
	c.authentication(r.Authentication, path+".authentication")
	if r.Authorization != nil && (r.Authentication == nil || r.Authentication.Type == "none") {
		c.at(path+".authorization", "authorization needs authentication: without it no caller has roles or scopes")
	}
	if z := r.Authorization; z != nil && z.Rule != "" {
		c.rule(path+".authorization.rule", z.Rule)
	}
	c.rateLimit(path+".rateLimit", r.RateLimit)
	if q := r.Quota; q != nil {
		c.positive(path+".quota.requests", "quota.requests", q.Requests, true)
		c.oneOf(path+".quota.period", "quota.period", q.Period, true, "hour", "day", "month")
		c.by(path+".quota.by", "quota.by", q.By)
		c.oneOf(path+".quota.onStoreFailure", "quota.onStoreFailure", q.OnStoreFailure, false, "allow", "deny")
	}
	if v := r.Validation; v != nil {
		if v.MaxBodyBytes != nil {
			c.positive(path+".validation.maxBodyBytes", "validation.maxBodyBytes", *v.MaxBodyBytes, true)
		}
		c.positive(path+".validation.maxJSONDepth", "validation.maxJSONDepth", int64(v.MaxJSONDepth), false)
		for i, ct := range v.ContentTypes {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(mt, "/") {
				c.at(indexPath(path+".validation.contentTypes", i), "%q is not a media type (type/subtype)", ct)
			}
		}
		// The documents are compiled here too, so that `validate` reports a
		// broken one with its own location, not only a reload.
		if v.OpenAPI != "" {
			if err := validate.CheckOpenAPI(v.OpenAPI); err != nil {
				c.at(path+".validation.openapi", "%v", err)
			}
		}
		if v.JSONSchema != "" {
			if err := validate.CheckJSONSchema(v.JSONSchema); err != nil {
				c.at(path+".validation.jsonSchema", "%v", err)
			}
		}
	}
	if w := r.WAF; w != nil {
		c.oneOf(path+".waf.mode", "waf.mode", w.Mode, true, "block", "detect", "off")
		if c.has(path+".waf.paranoiaLevel") && (w.ParanoiaLevel < 1 || w.ParanoiaLevel > 4) {
			c.at(path+".waf.paranoiaLevel", "waf.paranoiaLevel must be 1, 2, 3 or 4")
		}
		c.positive(path+".waf.anomalyThreshold", "waf.anomalyThreshold", int64(w.AnomalyThreshold), false)
	}
	c.ai(r.AI, path+".ai")
}

// rule compiles an authorization rule (CEL) and reports each of its problems
// at its place in the expression: on the rule's own line when it is written
// inline, with the column inside it.
func (c checker) rule(path, expr string) {
	_, err := authz.NewRule(expr)
	var re *authz.RuleError
	if !errors.As(err, &re) {
		if err != nil {
			c.at(path, "authorization.rule: %v", err)
		}
		return
	}
	at := c.pos(path)
	for _, issue := range re.Issues {
		c.v.probs.add(at, "authorization.rule: %s (at rule line %d, column %d)", issue.Message, issue.Line, issue.Column)
	}
}

// matchPath checks match.path or match.pathPrefix: a normalised absolute path,
// since requests are normalised before routing and another could never match.
func (c checker) matchPath(path, field, value string) {
	switch {
	case value == "":
	case !strings.HasPrefix(value, "/"):
		c.at(path, "%s %q must start with \"/\"", field, value)
	case strings.ContainsAny(value, "?# \t\r\n") || strings.Contains(value, "//") || hasDotSegment(value):
		c.at(path, `%s %q must be a normalised path (no "//", "." or ".." segments, "?", "#" or spaces)`, field, value)
	}
}

func hasDotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// authentication checks a route's authentication type and its provider.
func (c checker) authentication(a *Authentication, path string) {
	if a == nil || !c.oneOf(path+".type", "authentication.type", a.Type, true, "oauth2", "jwt", "apiKey", "mtls", "none") {
		return
	}
	if a.Type == "mtls" || a.Type == "none" {
		if a.Provider != "" {
			c.at(path+".provider", "authentication type %q takes no provider", a.Type)
		}
		return
	}
	if a.Provider == "" {
		if a.Type == "jwt" || a.Type == "oauth2" {
			c.at(path+".provider", "authentication type %q needs a provider: an AuthProvider of type jwt or oauth2", a.Type)
		}
		return
	}
	p := byName(c.v.p.AuthProviders, a.Provider)
	c.ref(path+".provider", p != nil, "no AuthProvider named %q", a.Provider)
	if p != nil && p.Spec.Type != "" && (a.Type == "apiKey") != (p.Spec.Type == "apiKey") {
		c.at(path+".provider", "authentication type %q cannot use AuthProvider %q, which is of type %q", a.Type, a.Provider, p.Spec.Type)
	}
}

// ai checks an AI route: its providers, models and limits.
func (c checker) ai(ai *AIRoute, path string) {
	if ai == nil {
		return
	}
	if len(ai.Providers) == 0 && len(ai.Models) == 0 {
		c.at(path, "ai needs providers or models")
	}
	for i, name := range ai.Providers {
		c.ref(indexPath(path+".providers", i), byName(c.v.p.AIProviders, name) != nil, "no AIProvider named %q", name)
	}
	for _, alias := range slices.Sorted(maps.Keys(ai.Models)) {
		for i, model := range ai.Models[alias] {
			at := indexPath(keyPath(path+".models", alias), i)
			provider, name, _ := strings.Cut(model, "/")
			if provider == "" || name == "" {
				c.at(at, "model %q must be written PROVIDER/MODEL", model)
				continue
			}
			c.ref(at, byName(c.v.p.AIProviders, provider) != nil, "model %q: no AIProvider named %q", model, provider)
		}
	}
	if t := ai.TokenLimit; t != nil {
		c.positive(path+".tokenLimit.tokens", "tokenLimit.tokens", int64(t.Tokens), true)
		c.positive(path+".tokenLimit.interval", "tokenLimit.interval", int64(t.Interval), true)
		c.oneOf(path+".tokenLimit.by", "tokenLimit.by", t.By, false, "consumer", "key", "route", "ip")
	}
	if b := ai.Budget; b != nil {
		if b.USD <= 0 {
			c.at(path+".budget.usd", "budget.usd must be greater than 0")
		}
		c.oneOf(path+".budget.period", "budget.period", b.Period, true, "hour", "day", "month")
		c.oneOf(path+".budget.by", "budget.by", b.By, false, "consumer", "key", "route", "ip")
		c.priced(ai, path)
	}
	if g := ai.Guard; g != nil {
		c.oneOf(path+".guard.promptInjection", "guard.promptInjection", g.PromptInjection, false, "block", "detect", "off")
		for i, pattern := range g.Deny {
			if _, err := regexp.Compile(pattern); err != nil {
				c.at(indexPath(path+".guard.deny", i), "not a regular expression: %v", err)
			}
		}
	}
}

// priced checks that a route with a budget can price every model it may
// call: each model its providers list and each its aliases name. A model
// without a price could be called without being counted.
func (c checker) priced(ai *AIRoute, path string) {
	for i, name := range ai.Providers {
		p := byName(c.v.p.AIProviders, name)
		if p == nil {
			continue
		}
		if len(p.Spec.Models) == 0 {
			c.at(indexPath(path+".providers", i), "AIProvider %q lists no models, so the route's budget could not price every call; list its models with their pricing", name)
		}
		for _, m := range p.Spec.Models {
			if _, ok := p.Spec.Pricing[m]; !ok {
				c.at(indexPath(path+".providers", i), "AIProvider %q has no pricing for model %q, which the route's budget needs", name, m)
			}
		}
	}
	for _, alias := range slices.Sorted(maps.Keys(ai.Models)) {
		for i, model := range ai.Models[alias] {
			provider, name, _ := strings.Cut(model, "/")
			if p := byName(c.v.p.AIProviders, provider); p != nil {
				if _, ok := p.Spec.Pricing[name]; !ok {
					c.at(indexPath(keyPath(path+".models", alias), i), "AIProvider %q has no pricing for model %q, which the route's budget needs", provider, name)
				}
			}
		}
	}
}
