package config

import (
	"slices"
	"strings"
)

// validator checks a whole manifest set, reporting every problem at the field
// that causes it. It also normalises what it checks (see checker.gateway).
type validator struct {
	p        *Policy
	probs    *Problems
	complete bool     // every document was decoded with its kind and name
	origin   Position // where problems about the set as a whole are reported

	keyIDs    map[string]Position // consumer API key ids seen so far
	keyHashes map[string]Position // consumer API key hashes seen so far
	// certificates are the consumers' client certificates seen so far, as
	// "sha256:HEX" or "subject:TEXT".
	certificates map[string]Position
}

// validate checks every document, then refuses what this version does not
// implement yet.
func (v *validator) validate(docs []*document) {
	v.keyIDs, v.keyHashes, v.certificates = map[string]Position{}, map[string]Position{}, map[string]Position{}
	v.documents(docs)
	for _, d := range docs {
		c := checker{v, d}
		switch m := d.m.(type) {
		case *Gateway:
			c.gateway(&m.Spec)
		case *Service:
			c.service(&m.Spec)
		case *AuthProvider:
			c.authProvider(&m.Spec)
		case *Consumer:
			c.consumer(&m.Spec)
		case *AIProvider:
			c.aiProvider(&m.Spec)
		case *PolicyTest:
			c.policyTest(&m.Spec)
		case *Monitor:
			c.monitor(&m.Spec)
		}
		c.refuseUnimplemented()
	}
}

// documents checks the set: exactly one Gateway, at most one Monitor, and names
// unique within each kind.
func (v *validator) documents(docs []*document) {
	first := map[string]*document{} // by KIND/NAME, and by KIND for Gateway and Monitor
	for _, d := range docs {
		c := checker{v, d}
		kind, name := d.m.kind(), c.name()
		key := kind + "/" + name
		if kind == KindGateway || kind == KindMonitor {
			key = kind
		}
		f := first[key]
		switch {
		case f == nil:
			first[key] = d
		case kind == KindGateway:
			c.at("kind", "a policy has exactly one Gateway; the first is %q at %s", checker{v, f}.name(), checker{v, f}.pos("kind"))
		case kind == KindMonitor:
			c.at("kind", "a policy has at most one Monitor; the first is at %s", checker{v, f}.pos("kind"))
		case name != "":
			c.at("metadata.name", "duplicate %s %q (the first is at %s)", kind, name, checker{v, f}.pos("metadata.name"))
		}
	}
	if first[KindGateway] == nil && v.complete {
		v.probs.add(v.origin, "a policy needs a Gateway; there is none")
	}
}

// checker checks one document.
type checker struct {
	v *validator
	d *document
}

// at reports a problem at a field, unless that field or one of its parents could
// not be decoded (which has been reported already).
func (c checker) at(path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if c.d.bad[p] {
			return
		}
	}
	c.v.probs.add(c.pos(path), format, args...)
}

// pos is where a field is written, or its nearest written parent.
func (c checker) pos(path string) Position {
	_, src := c.d.m.header()
	return src.Positions.Of(path)
}

// has reports whether a field is written in the document.
func (c checker) has(path string) bool {
	_, src := c.d.m.header()
	_, ok := src.Positions[path]
	return ok
}

// name is the document's metadata.name.
func (c checker) name() string {
	md, _ := c.d.m.header()
	return md.Name
}

// oneOf checks that value is one of allowed (or empty, unless required) and says
// whether it is usable: set and allowed.
func (c checker) oneOf(path, field, value string, required bool, allowed ...string) bool {
	switch {
	case value == "" && required:
		c.at(path, "%s is required (one of %s)", field, strings.Join(allowed, ", "))
	case value == "":
	case !slices.Contains(allowed, value):
		c.at(path, "%s %q is not one of %s%s", field, value, strings.Join(allowed, ", "), suggest(value, allowed))
	default:
		return true
	}
	return false
}

// positive checks that n > 0, when it is written or required.
func (c checker) positive(path, field string, n int64, required bool) {
	if n <= 0 && (required || c.has(path)) {
		c.at(path, "%s must be greater than 0", field)
	}
}

// url checks an absolute http or https URL (see urlProblem).
func (c checker) url(path, field, raw string, allowQuery bool) {
	if msg := urlProblem(field, raw, allowQuery); msg != "" {
		c.at(path, "%s", msg)
	}
}

// ref reports a reference to a document that does not exist; it says nothing
// when part of the set could not be decoded, since the document may be there.
func (c checker) ref(path string, found bool, format string, args ...any) {
	if !found && c.v.complete {
		c.at(path, format, args...)
	}
}

// by checks a rate limit's or quota's "by": one of keys, or header:NAME.
func (c checker) by(path, field, value string) {
	if name, ok := strings.CutPrefix(value, "header:"); ok {
		if !isToken(name) {
			c.at(path, "%s %q does not name a valid header", field, value)
		}
		return
	}
	c.oneOf(path, field, value, false, "consumer", "ip", "route", "header:NAME")
}

// rateLimit checks a route's or a consumer's rate limit.
func (c checker) rateLimit(path string, rl *RateLimit) {
	if rl == nil {
		return
	}
	c.positive(path+".requests", "rateLimit.requests", int64(rl.Requests), true)
	c.positive(path+".interval", "rateLimit.interval", int64(rl.Interval), true)
	c.by(path+".by", "rateLimit.by", rl.By)
	if rl.Burst < 0 {
		c.at(path+".burst", "rateLimit.burst must not be negative")
	}
	c.oneOf(path+".onStoreFailure", "rateLimit.onStoreFailure", rl.OnStoreFailure, false, "allow", "deny")
}
