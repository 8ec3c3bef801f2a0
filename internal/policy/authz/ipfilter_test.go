package authz

import (
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

func TestIPFilter(t *testing.T) {
	for _, c := range []struct {
		name        string
		allow, deny []string
		ip          string
		ok          bool
	}{
		{"no lists", nil, nil, "203.0.113.9", true},
		{"no lists, v6", nil, nil, "2001:db8::1", true},
		{"unparsable", nil, nil, "not-an-ip", false},
		{"empty", nil, nil, "", false},
		{"with port", nil, nil, "203.0.113.9:443", false},
		{"in allow", []string{"10.0.0.0/8"}, nil, "10.1.2.3", true},
		{"outside allow", []string{"10.0.0.0/8"}, nil, "11.0.0.1", false},
		{"single allowed", []string{"192.0.2.7"}, nil, "192.0.2.7", true},
		{"single, neighbour", []string{"192.0.2.7"}, nil, "192.0.2.8", false},
		{"denied", nil, []string{"192.0.2.0/24"}, "192.0.2.200", false},
		{"not denied", nil, []string{"192.0.2.0/24"}, "192.0.3.1", true},
		{"deny wins over allow", []string{"10.0.0.0/8"}, []string{"10.9.0.0/16"}, "10.9.1.1", false},
		{"allowed beside deny", []string{"10.0.0.0/8"}, []string{"10.9.0.0/16"}, "10.8.1.1", true},
		{"v4-mapped client, v4 deny", nil, []string{"192.0.2.0/24"}, "::ffff:192.0.2.1", false},
		{"v4-mapped client, v4 allow", []string{"192.0.2.0/24"}, nil, "::ffff:192.0.2.1", true},
		{"v4-mapped deny entry", nil, []string{"::ffff:192.0.2.0/120"}, "192.0.2.1", false},
		{"v6 allow", []string{"2001:db8::/32"}, nil, "2001:db8:1::5", true},
		{"v6 outside allow", []string{"2001:db8::/32"}, nil, "2001:db9::5", false},
		{"v4 client, v6 allow", []string{"2001:db8::/32"}, nil, "10.0.0.1", false},
		{"zoned client", []string{"fe80::/10"}, nil, "fe80::1%eth0", true},
		{"unmasked cidr", []string{"10.1.2.3/8"}, nil, "10.200.0.1", true},
	} {
		f, err := NewIPFilter(c.allow, c.deny)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := f.Check(&policy.Call{ClientIP: c.ip})
		if c.ok != (e == nil) || (e != nil && (e.Status != 403 || e.Decision != "forbidden")) {
			t.Errorf("%s: %s → %v", c.name, c.ip, e)
		}
	}
}

func TestIPFilterRefusesBadLists(t *testing.T) {
	for _, c := range []struct{ allow, deny []string }{
		{[]string{"10.0.0.0/33"}, nil}, {nil, []string{"nope"}}, {[]string{"10.0.0/8"}, nil},
		{[]string{"fe80::1%eth0"}, nil}, {nil, []string{""}},
	} {
		if _, err := NewIPFilter(c.allow, c.deny); err == nil {
			t.Errorf("%q %q accepted", c.allow, c.deny)
		}
	}
}

func TestIPFilterDoesNotAllocate(t *testing.T) {
	f, err := NewIPFilter([]string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.1.2.3", "2001:db8::1"} {
		if n := testing.AllocsPerRun(100, func() { f.CheckIP(ip) }); n != 0 {
			t.Errorf("%s: %v allocations", ip, n)
		}
	}
}

func BenchmarkIPFilter(b *testing.B) {
	allow := []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32"}
	deny := []string{"10.9.0.0/16", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"}
	f, err := NewIPFilter(allow, deny)
	if err != nil {
		b.Fatal(err)
	}
	for _, ip := range []string{"192.168.7.9", "2001:db8::1"} {
		b.Run(ip, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if e := f.CheckIP(ip); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}
