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
