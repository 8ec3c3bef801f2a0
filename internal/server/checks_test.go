package server

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestDotSegmentWithParams(t *testing.T) {
	for path, want := range map[string]bool{
		"/public/..;/admin":     true,
		"/public/.;x=1/admin":   true,
		"/public/..;x=1":        true,
		"/public/a;b/..x;y":     false,
		"/public/;/x":           false,
		"/public/...;/x":        false,
		"/public/orders;v=2/7":  false,
		"/public/plain/../path": false,
	} {
		if got := dotSegmentWithParams(path); got != want {
			t.Errorf("dotSegmentWithParams(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"":                    true,
		"api.example.com":     true,
		"api.example.com:443": true,
		"10.0.0.1:8080":       true,
		"[::1]:8080":          true,
		"[2001:db8::1]":       true,
		"xn--bcher-kva.ch":    true,
		"a%41b":               true,
		"a b":                 false,
		"evil.com@good.com":   false,
		"a:b:c":               false,
		"a:80x":               false,
		"a:123456":            false,
		":80":                 false,
		"[::1":                false,
		"[1.2.3.4]":           false,
		"[::1]x":              false,
		"a]b":                 false,
		"a%4":                 false,
		"a/b":                 false,
	} {
		if got := validHost(h); got != want {
			t.Errorf("validHost(%q) = %v, want %v", h, got, want)
		}
	}
}

// FuzzClientAddr checks the reading of X-Forwarded-For: a client address is
// the peer or an address parsed from the chain, and a chain is passed on
// only from a trusted peer, exactly as it came.
func FuzzClientAddr(f *testing.F) {
	for _, s := range [][2]string{
		{"10.1.1.1:5000", "6.6.6.6, 203.0.113.7, 10.2.2.2"},
		{"192.0.2.1:5000", "6.6.6.6"},
		{"[::1]:5000", "2001:db8::5, ::ffff:10.0.0.1"},
		{"10.1.1.1:5000", "garbage,,  ,1.2.3.4"},
		{"not-an-address", "1.2.3.4"},
	} {
		f.Add(s[0], s[1])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		}
		client, peer, prior := clientAddr(r, trusted)
		if !strings.Contains(remote, peer) {
			t.Fatalf("peer %q is not from %q", peer, remote)
		}
		if prior != "" {
			ap, err := netip.ParseAddrPort(remote)
			if err != nil || !isTrusted(ap.Addr(), trusted) || prior != strings.Join(r.Header["X-Forwarded-For"], ", ") {
				t.Fatalf("chain %q kept from %q", prior, remote)
			}
		}
		if client != peer {
			if _, err := netip.ParseAddr(client); err != nil || prior == "" {
				t.Fatalf("client %q from peer %q, chain %q", client, peer, prior)
			}
		}
	})
}
