package server

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		remote, xff    string
		trusted        []netip.Prefix
		wantIP, wantFF string
	}{
		{"192.0.2.1:5000", "6.6.6.6", trusted, "192.0.2.1", ""},
		{"192.0.2.1:5000", "", nil, "192.0.2.1", ""},
		{"10.1.1.1:5000", "", trusted, "10.1.1.1", ""},
		{"10.1.1.1:5000", "203.0.113.7", trusted, "203.0.113.7", "203.0.113.7"},
		// The client is the right-most address that is not a trusted proxy:
		// a spoofed left-most entry is never taken.
		{"10.1.1.1:5000", "6.6.6.6, 203.0.113.7, 10.2.2.2", trusted, "203.0.113.7", "6.6.6.6, 203.0.113.7, 10.2.2.2"},
		{"10.1.1.1:5000", "garbage, 203.0.113.7", trusted, "203.0.113.7", "garbage, 203.0.113.7"},
		{"10.1.1.1:5000", "garbage", trusted, "10.1.1.1", "garbage"},
		{"[::1]:5000", "2001:db8::5", trusted, "2001:db8::5", "2001:db8::5"},
		{"[2001:db8::9]:5000", "1.2.3.4", trusted, "2001:db8::9", ""},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		ip, peer, ff := clientAddr(r, c.trusted)
		if ip != c.wantIP || ff != c.wantFF || !strings.HasPrefix(c.remote, peer) && !strings.HasPrefix(c.remote, "["+peer) {
			t.Errorf("clientAddr(%s, %q) = %q, %q; want %q, %q", c.remote, c.xff, ip, ff, c.wantIP, c.wantFF)
		}
	}
}

func TestServerTiming(t *testing.T) {
	cases := map[time.Duration]string{
		0:                       "gateway;dur=0.000",
		1500 * time.Microsecond: "gateway;dur=1.500",
		42 * time.Microsecond:   "gateway;dur=0.042",
		2 * time.Second:         "gateway;dur=2000.000",
	}
	for d, want := range cases {
		if got := serverTiming(d); got != want {
			t.Errorf("serverTiming(%v) = %q, want %q", d, got, want)
		}
	}
}
