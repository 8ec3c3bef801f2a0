package config

// Defaults of CONTRACT §2.
const (
	defaultAccessLogPath  = "stdout"
	defaultMaxHeaderBytes = 32768
	defaultMaxHeaderCount = 100
	defaultAddress        = "0.0.0.0"
	defaultProtocol       = "HTTP"
)

// applyDefaults fills in what a valid policy leaves out. Route names are filled
// in by validation, which needs them; a route without authentication keeps a nil
// Authentication, which means none.
func applyDefaults(p *Policy) {
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
