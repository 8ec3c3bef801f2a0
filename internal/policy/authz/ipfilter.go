package authz

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// IPFilter refuses clients by address: a deny list, and an allow list that,
// when not empty, is the only addresses let through. Deny wins.
type IPFilter struct{ allow, deny []netip.Prefix }

var _ policy.Authorizer = (*IPFilter)(nil)

// NewIPFilter builds an IP filter from CIDRs ("10.0.0.0/8") or single
// addresses ("192.0.2.7", "2001:db8::1").
func NewIPFilter(allow, deny []string) (*IPFilter, error) {
	a, err := parsePrefixes(allow)
	if err != nil {
		return nil, fmt.Errorf("allow: %w", err)
	}
	d, err := parsePrefixes(deny)
	if err != nil {
		return nil, fmt.Errorf("deny: %w", err)
	}
	return &IPFilter{allow: a, deny: d}, nil
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, err
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("address %q: zones are not allowed", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Check refuses a call from a client address that CheckIP refuses.
func (f *IPFilter) Check(c *policy.Call) *httperr.Error { return f.CheckIP(c.ClientIP) }

// CheckIP refuses clientIP when it is denied, or when an allow list exists
// and does not contain it. An address that does not parse is refused. It does
// not allocate unless it refuses; it serves the gateway-wide lists too, which
// apply before a route (and a Call) exists.
func (f *IPFilter) CheckIP(clientIP string) *httperr.Error {
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		return refuseIP("client address does not parse", clientIP)
	}
	addr = addr.WithZone("").Unmap()
	for _, p := range f.deny {
		if p.Contains(addr) {
			return refuseIP("client address denied by "+p.String(), clientIP)
		}
	}
	if len(f.allow) == 0 {
		return nil
	}
	for _, p := range f.allow {
		if p.Contains(addr) {
			return nil
		}
	}
	return refuseIP("client address outside the allow list", clientIP)
}

func refuseIP(why, clientIP string) *httperr.Error {
	return httperr.New(http.StatusForbidden, httperr.DecisionForbidden, "not allowed",
		fmt.Errorf("%s: %q", why, clientIP))
}
