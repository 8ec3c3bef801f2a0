package router

import (
	"strconv"
	"testing"
)

func TestMatch(t *testing.T) {
	r, err := New([]Spec[string]{
		{PathPrefix: "/orders", Methods: []string{"GET", "POST"}, Route: "orders"},
		{PathPrefix: "/orders/admin", Methods: []string{"GET"}, Route: "orders-admin"},
		{Path: "/orders/export", Route: "export"},
		{Host: "api.example.com", PathPrefix: "/orders", Route: "api-orders"},
		{Host: "*.example.com", PathPrefix: "/", Route: "wild"},
		{PathPrefix: "/static", Methods: []string{"HEAD"}, Route: "static-head"},
		{PathPrefix: "/static", Methods: []string{"GET"}, Route: "static-get"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host, path, method string
		want               string
		allow              string
	}{
		{"gw", "/orders", "GET", "orders", ""},
		{"gw", "/orders/", "GET", "orders", ""},
		{"gw", "/orders/1", "POST", "orders", ""},
		{"gw", "/ordersx", "GET", "", ""},
		{"gw", "/orders/admin/x", "GET", "orders-admin", ""},
		{"gw", "/orders/admin", "POST", "", "GET, HEAD"},
		{"gw", "/orders/1", "DELETE", "", "GET, HEAD, POST"},
		{"gw", "/orders/export", "DELETE", "export", ""},
		{"gw", "/orders/export/x", "GET", "orders", ""},
		{"API.Example.com:8080", "/orders/1", "DELETE", "api-orders", ""},
		{"api.example.com", "/other", "GET", "wild", ""},
		{"x.y.example.com", "/anything", "PUT", "wild", ""},
		{"example.com", "/anything", "GET", "", ""},
		{"gw", "/static/a", "HEAD", "static-head", ""},
		{"[::1]:80", "/orders", "GET", "orders", ""},
		{"gw", "/", "GET", "", ""},
	}
	for _, c := range cases {
		res := r.Match(c.host, c.path, c.method)
		if res.Route != c.want || res.Found != (c.want != "") || res.Allow != c.allow {
			t.Errorf("Match(%q, %q, %q) = %+v; want %q allow %q", c.host, c.path, c.method, res, c.want, c.allow)
		}
	}
}

func TestCatchAll(t *testing.T) {
	r, err := New([]Spec[string]{{Route: "all"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/x", "/x/y/"} {
		if res := r.Match("h", p, "PATCH"); res.Route != "all" {
			t.Errorf("%s: %+v", p, res)
		}
	}
}

func TestConflicts(t *testing.T) {
	for _, specs := range [][]Spec[string]{
		{{PathPrefix: "/a", Methods: []string{"GET"}}, {PathPrefix: "/a/", Methods: []string{"GET"}}},
		{{PathPrefix: "/a"}, {PathPrefix: "/a", Methods: []string{"GET"}}},
		{{PathPrefix: "/a", Methods: []string{"GET"}}, {PathPrefix: "/a"}},
	} {
		if _, err := New(specs); err == nil {
			t.Errorf("no error for %+v", specs)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	r, _ := New([]Spec[int]{{PathPrefix: "/api/v1", Methods: []string{"GET"}, Route: 1}, {Host: "*.example.com", Route: 2}})
	allocs := testing.AllocsPerRun(100, func() {
		if res := r.Match("gw.local:8080", "/api/v1/orders/123", "GET"); res.Route != 1 {
			t.Fatal(res)
		}
	})
	if allocs != 0 {
		t.Fatalf("Match allocated %v times", allocs)
	}
}

func BenchmarkMatch1000Routes(b *testing.B) {
	var specs []Spec[int]
	for i := range 1000 {
		specs = append(specs, Spec[int]{PathPrefix: "/svc" + string(rune('a'+i%26)) + "/" + strconv.Itoa(i), Methods: []string{"GET"}, Route: i})
	}
	r, err := New(specs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Match("gw", "/svcq/900/orders/123/items", "GET")
	}
}
