package config

import "time"

// Defaults of CONTRACT §2.
const (
	defaultAccessLogPath  = "stdout"
	defaultMaxHeaderBytes = 32768
	defaultMaxHeaderCount = 100
	defaultBodyIdle       = Duration(30 * time.Second)
	defaultAddress        = "0.0.0.0"
	defaultProtocol       = "HTTP"
)

// Defaults of a route's input limits (CONTRACT §2), exported for the
// components that enforce them and the rules that judge changes to them.
const (
	// DefaultMaxBodyBytes is validation.maxBodyBytes when unset — also on a
	// route without a validation block: every route has a body limit.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxJSONDepth is validation.maxJSONDepth when unset (an
	// extension): how deeply a JSON body may nest arrays and objects.
	DefaultMaxJSONDepth = 64
)

// MaxBodyBytes is a route's body limit: validation.maxBodyBytes, or the
// default.
func (r *Route) MaxBodyBytes() int64 {
	if v := r.Validation; v != nil && v.MaxBodyBytes != nil {
		return *v.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// ApplyDefaults fills in what a valid policy leaves out; Parse calls it, and
// tools that build a Policy without parsing can too. Route names are filled in
// by validation, which needs them; a route without authentication keeps a nil
// Authentication, which means none.
func ApplyDefaults(p *Policy) {
	s := &p.Gateway.Spec
	if s.AccessLog == nil {
		s.AccessLog = &AccessLog{}
	}
	if s.AccessLog.Enabled == nil {
		enabled := true
		s.AccessLog.Enabled = &enabled
	}
	if s.AccessLog.Path == "" {
		s.AccessLog.Path = defaultAccessLogPath
	}
	if s.Limits == nil {
		s.Limits = &Limits{}
	}
	if s.Limits.MaxHeaderBytes == 0 {
		s.Limits.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if s.Limits.MaxHeaderCount == 0 {
		s.Limits.MaxHeaderCount = defaultMaxHeaderCount
	}
	if s.Limits.BodyIdleTimeout == 0 {
		s.Limits.BodyIdleTimeout = defaultBodyIdle
	}
	for i := range s.Listeners {
		l := &s.Listeners[i]
		if l.Address == "" {
			l.Address = defaultAddress
		}
		if l.Protocol == "" {
			l.Protocol = defaultProtocol
		}
	}
}

// MaxJSONDepth is a route's JSON nesting limit: validation.maxJSONDepth, or
// the default.
func (r *Route) MaxJSONDepth() int {
	if v := r.Validation; v != nil && v.MaxJSONDepth > 0 {
		return v.MaxJSONDepth
	}
	return DefaultMaxJSONDepth
}
