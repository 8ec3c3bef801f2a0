// Package router matches a request's host, normalized path and method to a
// route. It is built once per snapshot and only read on the request path: a
// match is a handful of map lookups (one per path segment) and never allocates.
//
// Precedence: an exact host beats a wildcard host (`*.example.com`), which
// beats a route with no host; within a host, an exact path beats a prefix, and
// a longer prefix beats a shorter one. Prefixes match whole segments: `/orders`
// matches `/orders` and `/orders/1`, never `/ordersx`. When the best path match
// has no route for the method, the answer is 405 with the methods it does have.
package router

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Spec is what the router needs to know about one route.
type Spec[T any] struct {
	Host       string   // "" = any; "api.example.com"; "*.example.com"
	Path       string   // exact path, or ""
	PathPrefix string   // whole-segment prefix, or ""; both empty = every path
	Methods    []string // upper case; empty = every method
	Route      T
}

// Router finds the route for a request.
type Router[T any] struct {
	exact    map[string]*hostTable[T] // by lower-case host
	wildcard map[string]*hostTable[T] // by the suffix after "*", e.g. ".example.com"
	anyHost  *hostTable[T]
}

type hostTable[T any] struct {
	exact  map[string]*methodSet[T] // by exact path
	prefix map[string]*methodSet[T] // by prefix without trailing slash ("" = root)
}

// methodSet holds the routes that share one host and path match, by method.
type methodSet[T any] struct {
	byMethod map[string]T
	all      *T     // route for every method, if any
	allow    string // the Allow header: the methods this match serves
}

// Result is the outcome of a lookup.
type Result[T any] struct {
	Route T
	Found bool
	// Allow is set when a path matched but the method did not (405).
	Allow string
}

// New builds a router. Two specs with the same host and path that both serve a
// method are an error (the config validator reports them with positions first).
func New[T any](specs []Spec[T]) (*Router[T], error) {
	r := &Router[T]{exact: map[string]*hostTable[T]{}, wildcard: map[string]*hostTable[T]{}}
	for _, s := range specs {
		t := r.table(strings.ToLower(s.Host))
		var byPath map[string]*methodSet[T]
		key := s.Path
		if s.Path != "" {
			byPath = t.exact
		} else {
			byPath = t.prefix
			key = strings.TrimSuffix(s.PathPrefix, "/")
		}
		ms := byPath[key]
		if ms == nil {
			ms = &methodSet[T]{byMethod: map[string]T{}}
			byPath[key] = ms
		}
		if err := ms.add(s); err != nil {
			return nil, err
		}
	}
	for _, t := range r.tables() {
		for _, ms := range t.exact {
			ms.finish()
		}
		for _, ms := range t.prefix {
			ms.finish()
		}
	}
	return r, nil
}

func (r *Router[T]) table(host string) *hostTable[T] {
	newTable := func() *hostTable[T] {
		return &hostTable[T]{exact: map[string]*methodSet[T]{}, prefix: map[string]*methodSet[T]{}}
	}
	switch {
	case host == "":
		if r.anyHost == nil {
			r.anyHost = newTable()
		}
		return r.anyHost
	case strings.HasPrefix(host, "*."):
		suffix := host[1:]
		if r.wildcard[suffix] == nil {
			r.wildcard[suffix] = newTable()
		}
		return r.wildcard[suffix]
	default:
		if r.exact[host] == nil {
			r.exact[host] = newTable()
		}
		return r.exact[host]
	}
}

func (r *Router[T]) tables() []*hostTable[T] {
	var ts []*hostTable[T]
	for _, t := range r.exact {
		ts = append(ts, t)
	}
	for _, t := range r.wildcard {
		ts = append(ts, t)
	}
	if r.anyHost != nil {
		ts = append(ts, r.anyHost)
	}
	return ts
}

func (ms *methodSet[T]) add(s Spec[T]) error {
	if len(s.Methods) == 0 {
		if ms.all != nil || len(ms.byMethod) > 0 {
			return fmt.Errorf("two routes match host %q path %q for the same methods", s.Host, s.Path+s.PathPrefix)
		}
		route := s.Route
		ms.all = &route
		return nil
	}
	if ms.all != nil {
		return fmt.Errorf("two routes match host %q path %q for the same methods", s.Host, s.Path+s.PathPrefix)
	}
	for _, m := range s.Methods {
		if _, dup := ms.byMethod[m]; dup {
			return fmt.Errorf("two routes match host %q path %q for method %s", s.Host, s.Path+s.PathPrefix, m)
		}
		ms.byMethod[m] = s.Route
	}
	return nil
}

// finish computes the Allow header. HEAD is allowed wherever GET is, as HTTP
// requires, unless a route claims HEAD itself.
func (ms *methodSet[T]) finish() {
	if ms.all != nil {
		return
	}
	if get, ok := ms.byMethod[http.MethodGet]; ok {
		if _, ok := ms.byMethod[http.MethodHead]; !ok {
			ms.byMethod[http.MethodHead] = get
		}
	}
	methods := make([]string, 0, len(ms.byMethod))
	for m := range ms.byMethod {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	ms.allow = strings.Join(methods, ", ")
}

// Match finds the route for host (as sent, port allowed), a normalized path
// and a method.
func (r *Router[T]) Match(host, path, method string) Result[T] {
	host = stripPort(host)
	if len(r.exact) > 0 {
		if t := r.exact[lowerHost(host)]; t != nil {
			if res, ok := t.match(path, method); ok {
				return res
			}
		}
	}
	if len(r.wildcard) > 0 {
		h := lowerHost(host)
		for i := strings.IndexByte(h, '.'); i >= 0; {
			if t := r.wildcard[h[i:]]; t != nil {
				if res, ok := t.match(path, method); ok {
					return res
				}
			}
			j := strings.IndexByte(h[i+1:], '.')
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	if r.anyHost != nil {
		if res, ok := r.anyHost.match(path, method); ok {
			return res
		}
	}
	return Result[T]{}
}

// match tries the exact path, then every whole-segment prefix from the longest.
func (t *hostTable[T]) match(path, method string) (Result[T], bool) {
	if ms := t.exact[path]; ms != nil {
		return ms.pick(method), true
	}
	p := strings.TrimSuffix(path, "/")
	for {
		if ms := t.prefix[p]; ms != nil {
			return ms.pick(method), true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return Result[T]{}, false
		}
		p = p[:i]
	}
}

func (ms *methodSet[T]) pick(method string) Result[T] {
	if ms.all != nil {
		return Result[T]{Route: *ms.all, Found: true}
	}
	if route, ok := ms.byMethod[method]; ok {
		return Result[T]{Route: route, Found: true}
	}
	return Result[T]{Allow: ms.allow}
}

// stripPort removes a port from a Host header value, IPv6 literals included.
func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// lowerHost lower-cases host, allocating only when it has upper-case letters.
func lowerHost(host string) string {
	for i := 0; i < len(host); i++ {
		if 'A' <= host[i] && host[i] <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
