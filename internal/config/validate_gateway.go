package config

import (
	"fmt"
	"net/netip"
)

// gateway checks a Gateway's spec. It also normalises it: trusted proxies
// become CIDRs, route names are filled in, methods upper-cased and
// de-duplicated, hosts lowercased.
func (c checker) gateway(s *GatewaySpec) {
	if r := s.Review; r != nil && r.ReviewBy.IsZero() {
		c.at("spec.review.reviewBy", "review.reviewBy is required (YYYY-MM-DD)")
	}
	for i, raw := range s.TrustedProxies {
		prefix, err := parseProxy(raw)
		if err != nil {
			c.at(indexPath("spec.trustedProxies", i), "trustedProxies: %v", err)
			continue
		}
		s.TrustedProxies[i] = prefix.String()
	}
	c.ipFilter("spec.ipFilter", s.IPFilter)
	if l := s.Limits; l != nil {
		c.positive("spec.limits.maxHeaderBytes", "limits.maxHeaderBytes", int64(l.MaxHeaderBytes), false)
		c.positive("spec.limits.maxHeaderCount", "limits.maxHeaderCount", int64(l.MaxHeaderCount), false)
	}
	c.listeners(s.Listeners)
	c.routes(s)
}

// ipFilter checks and normalises an IP filter's entries (addresses become
// /32 or /128 CIDRs).
func (c checker) ipFilter(path string, f *IPFilter) {
	if f == nil {
		return
	}
	for _, list := range []struct {
		name    string
		entries []string
	}{{"allow", f.Allow}, {"deny", f.Deny}} {
		for i, raw := range list.entries {
			prefix, err := parseProxy(raw)
			if err != nil {
				c.at(indexPath(path+"."+list.name, i), "ipFilter.%s: %v", list.name, err)
				continue
			}
			list.entries[i] = prefix.String()
		}
	}
	if len(f.Allow) == 0 && len(f.Deny) == 0 {
		c.at(path, "an ipFilter needs allow or deny entries")
	}
}

// parseProxy reads a trusted proxy: a CIDR, or an IP address (which becomes a
// /32 or /128).
func parseProxy(raw string) (netip.Prefix, error) {
	if prefix, err := netip.ParsePrefix(raw); err == nil {
		if prefix != prefix.Masked() {
			return prefix, fmt.Errorf("%q has bits set beyond its prefix length (did you mean %s?)", raw, prefix.Masked())
		}
		return prefix, nil
	}
	addr, err := netip.ParseAddr(raw)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR", raw)
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// listeners checks names, ports, addresses (no two listeners on one address
// and port) and TLS.
func (c checker) listeners(listeners []Listener) {
	if len(listeners) == 0 {
		c.at("spec.listeners", "a Gateway needs at least one listener")
	}
	type binding struct {
		addr netip.Addr
		port int
		name string
		path string
	}
	var bound []binding
	names := map[string]string{} // listener name → path of its name
	for i := range listeners {
		l := &listeners[i]
		path := indexPath("spec.listeners", i)
		switch {
		case l.Name == "":
			c.at(path+".name", "listener name is required")
		case !isName(l.Name):
			c.at(path+".name", "listener name %q is invalid: %s", l.Name, nameRule)
		case names[l.Name] != "":
			c.at(path+".name", "duplicate listener name %q (the first is at %s)", l.Name, c.pos(names[l.Name]))
		default:
			names[l.Name] = path + ".name"
		}

		usable := true
		switch {
		case !c.has(path + ".port"):
			c.at(path+".port", "listener port is required")
			usable = false
		case l.Port < 1 || l.Port > 65535:
			c.at(path+".port", "port %d is out of range (1-65535)", l.Port)
			usable = false
		}
		addr := netip.IPv4Unspecified()
		if l.Address != "" {
			a, err := netip.ParseAddr(l.Address)
			if err != nil || a.Zone() != "" {
				c.at(path+".address", "address %q is not an IP address", l.Address)
				usable = false
			}
			addr = a
		}
		if usable {
			for _, b := range bound {
				if b.port == l.Port && (b.addr == addr || b.addr.IsUnspecified() || addr.IsUnspecified()) {
					c.at(path+".port", "port %d on %s clashes with listener %q on %s (at %s)", l.Port, addr, b.name, b.addr, c.pos(b.path))
					break
				}
			}
			bound = append(bound, binding{addr, l.Port, l.Name, path + ".port"})
		}

		c.listenerTLS(l, path)
	}
}

// listenerTLS checks a listener's protocol and its tls.
func (c checker) listenerTLS(l *Listener, path string) {
	switch l.Protocol {
	case "HTTPS":
		if l.TLS == nil {
			c.at(path+".protocol", "an HTTPS listener needs tls with certFile and keyFile")
		}
	case "", "HTTP":
		if l.TLS != nil {
			c.at(path+".tls", "tls is only for HTTPS listeners (protocol: HTTPS)")
			if l.TLS.HSTS != nil {
				c.at(path+".tls.hsts", "hsts is only for HTTPS listeners")
			}
		}
	default:
		c.oneOf(path+".protocol", "protocol", l.Protocol, false, "HTTP", "HTTPS")
	}
	t := l.TLS
	if t == nil {
		return
	}
	if l.Protocol == "HTTPS" {
		if t.CertFile == "" {
			c.at(path+".tls.certFile", "tls.certFile is required")
		}
		if t.KeyFile == "" {
			c.at(path+".tls.keyFile", "tls.keyFile is required")
		}
	}
	for j, p := range t.Certificates {
		cp := indexPath(path+".tls.certificates", j)
		if p.CertFile == "" {
			c.at(cp+".certFile", "certFile is required")
		}
		if p.KeyFile == "" {
			c.at(cp+".keyFile", "keyFile is required")
		}
	}
	c.oneOf(path+".tls.minVersion", "tls.minVersion", t.MinVersion, false, "1.2", "1.3")
	if t.HSTS != nil {
		c.positive(path+".tls.hsts.maxAge", "tls.hsts.maxAge", int64(t.HSTS.MaxAge), true)
	}
}
