package reqpath

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		in, want string
		err      error
	}{
		{"/", "/", nil},
		{"/orders", "/orders", nil},
		{"/orders/", "/orders/", nil},
		{"/a/.b/..c", "/a/.b/..c", nil},
		{"/public/../admin", "/admin", nil},
		{"/public/./admin", "/public/admin", nil},
		{"/public/%2e%2e/admin", "/admin", nil},
		{"/public/%2E%2e/admin", "/admin", nil},
		{"/public/.%2e/admin", "/admin", nil},
		{"/public/%2e/admin", "/public/admin", nil},
		{"//admin", "/admin", nil},
		{"/public//..//admin", "/admin", nil},
		{"/../../etc/passwd", "/etc/passwd", nil},
		{"/a/b/..", "/a/", nil},
		{"/a/b/.", "/a/b/", nil},
		{"/a/%2e%2E", "/", nil},
		{"/%7Euser/%41b", "/~user/Ab", nil},
		{"/x%20y", "/x%20y", nil},
		{"/x%c3%a9", "/x%C3%A9", nil},
		{"/public/..%2fadmin", "", ErrEncodedSlash},
		{"/public/%2F..%2Fadmin", "", ErrEncodedSlash},
		{"/a%5c..%5cadmin", "", ErrEncodedSlash},
		{"/a\\..\\admin", "", ErrBackslash},
		{"/a%00b", "", ErrControlOrSpace},
		{"/a b", "", ErrControlOrSpace},
		{"/a%zz", "", ErrBadEscape},
		{"/a%2", "", ErrBadEscape},
		{"admin", "", ErrNotAbsolute},
		{"", "", ErrNotAbsolute},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestNormalizeCleanPathDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Normalize("/api/v1/orders/123"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("clean path allocated %v times", allocs)
	}
}

// FuzzNormalize checks the properties routing depends on: the result is
// absolute, canonical (normalizing it again changes nothing) and has no dot
// segment, empty segment or encoded dot an upstream could resolve differently.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/", "//x//y/", "/a%2Fb", "/%7e", "/a/./b/."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		if err != nil {
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("Normalize(%q) = %q: not absolute", in, out)
		}
		again, err := Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", in, out, out, again, err)
		}
		for _, seg := range strings.Split(out[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Normalize(%q) = %q keeps a dot segment", in, out)
			}
		}
		if strings.Contains(out, "//") || strings.Contains(strings.ToLower(out), "%2e") || strings.Contains(out, "\\") {
			t.Fatalf("Normalize(%q) = %q is not canonical", in, out)
		}
	})
}

func BenchmarkNormalizeClean(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Normalize("/api/v1/orders/123")
	}
}
