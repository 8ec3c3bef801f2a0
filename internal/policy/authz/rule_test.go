package authz

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// ruleCall is a call by alice, a reader holding orders:read, from tenant t1
// at 10:30 UTC.
func ruleCall(method, target string, mod func(*policy.Call)) *policy.Call {
	r := httptest.NewRequest(method, target, nil)
	r.Host = "api.example.com"
	r.Header.Set("X-Tenant", "t1")
	r.Header.Add("X-Tenant", "t2")
	c := &policy.Call{
		Request:  r,
		ClientIP: "10.1.2.3",
		Now:      time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC),
		Identity: policy.Identity{
			Consumer: "alice", Roles: []string{"reader"}, Scopes: []string{"orders:read"},
			Claims: map[string]any{"tenant": "t1", "level": float64(4), "groups": []any{"eng", "ops"}},
		},
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestRuleDecisions(t *testing.T) {
	admin := func(c *policy.Call) { c.Identity.Roles = []string{"admin"} }
	late := func(c *policy.Call) { c.Now = c.Now.Add(12 * time.Hour) }
	otherTenant := func(c *policy.Call) { c.Request.Header.Set("X-Tenant", "t9") }
	apiKey := func(c *policy.Call) { c.Identity.Claims = nil }
	for _, c := range []struct {
		expr   string
		method string
		target string
		mod    func(*policy.Call)
		ok     bool
	}{
		{`request.method == "GET" || "admin" in roles`, "GET", "/orders", nil, true},
		{`request.method == "GET" || "admin" in roles`, "DELETE", "/orders", nil, false},
		{`request.method == "GET" || "admin" in roles`, "DELETE", "/orders", admin, true},
		{`claims.tenant == request.headers["x-tenant"]`, "GET", "/", nil, true},
		{`claims.tenant == request.headers["x-tenant"]`, "GET", "/", otherTenant, false},
		{`now.getHours() < 22`, "GET", "/", nil, true},
		{`now.getHours() < 22`, "GET", "/", late, false},
		{`consumer == "alice" && "orders:read" in scopes`, "GET", "/", nil, true},
		{`request.path.startsWith("/orders/") && request.query["id"] == "7"`, "GET", "/orders/x?id=7&id=8", nil, true},
		{`request.host == "api.example.com" && request.clientIP == "10.1.2.3"`, "GET", "/", nil, true},
		{`claims.level > 3`, "GET", "/", nil, true}, // a JSON number against an int
		{`"ops" in claims.groups`, "GET", "/", nil, true},
		{`request.headers["x-tenant"].lowerAscii() == "t1"`, "GET", "/", nil, true},
		{`claims.size() == 0`, "GET", "/", apiKey, true},
		{`false`, "GET", "/", nil, false},
	} {
		z, err := NewRule(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		e := z.Check(ruleCall(c.method, c.target, c.mod))
		if c.ok != (e == nil) || (e != nil && (e.Status != 403 || e.Decision != "forbidden")) {
			t.Errorf("%s (%s %s): %v", c.expr, c.method, c.target, e)
		}
	}
}

func TestRuleCompileErrors(t *testing.T) {
	for _, c := range []struct {
		expr         string
		line, column int
		says         string
	}{
		{`request.method == `, 1, 19, "Syntax error"},
		{`nosuch == 1`, 1, 1, "undeclared reference to 'nosuch'"},
		{"consumer == \"a\" &&\n  roles.size() == \"x\"", 2, 16, "no matching overload"},
		{`request.method`, 1, 1, "must be a bool expression"},
		{`claims.tenant`, 1, 1, "must be a bool expression"},
		{`roles`, 1, 1, "must be a bool expression"},
	} {
		_, err := NewRule(c.expr)
		var re *RuleError
		if !errors.As(err, &re) || len(re.Issues) == 0 {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if re.Issues[0].Line != c.line || re.Issues[0].Column != c.column || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %+v: %v", c.expr, re.Issues, err)
		}
	}
}

func TestRuleFailsClosed(t *testing.T) {
	for _, c := range []struct{ expr, cause string }{
		{`claims.missing == "x"`, "no such key"},
		{`request.headers["x-absent"] == "x"`, "no such key"},
		{`1 / (size(roles) - 1) == 1`, "division by zero"},
		{`claims.tenant > 3`, "no such overload"},
		{`int(claims.tenant) == 1`, "type conversion error"},
	} {
		z, err := NewRule(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		e := z.Check(ruleCall("GET", "/", nil))
		if e == nil || e.Status != 403 || e.Public != "not allowed" || !strings.Contains(e.Error(), c.cause) {
			t.Errorf("%s: %v", c.expr, e)
		}
	}
}

func TestRuleCostLimit(t *testing.T) {
	big := make([]any, 1000)
	for i := range big {
		big[i] = float64(i)
	}
	withBig := func(c *policy.Call) { c.Identity.Claims["items"] = big }
	z, err := NewRule(`claims.items.all(a, claims.items.all(b, a == b || a != b))`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e := z.Check(ruleCall("GET", "/", withBig))
	if e == nil || e.Status != 403 || !strings.Contains(e.Error(), "cost limit") {
		t.Fatalf("%v", e)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("stopped after %v", d)
	}
	// A modest list passes.
	small := func(c *policy.Call) { c.Identity.Claims["items"] = big[:10] }
	if e := z.Check(ruleCall("GET", "/", small)); e != nil {
		t.Errorf("small list: %v", e)
	}
}

func TestRuleHonoursCancellation(t *testing.T) {
	z, err := NewRule(`claims.groups.all(g, g != "")`)
	if err != nil {
		t.Fatal(err)
	}
	c := ruleCall("GET", "/", nil)
	many := make([]any, 5000)
	for i := range many {
		many[i] = "g"
	}
	c.Identity.Claims["groups"] = many
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Request = c.Request.WithContext(ctx)
	if e := z.Check(c); e == nil || !strings.Contains(e.Error(), "interrupt") {
		t.Errorf("%v", e)
	}
}

func BenchmarkRule(b *testing.B) {
	for _, expr := range []string{
		`"admin" in roles || consumer == "alice"`,
		`request.method == "GET" || "admin" in roles`,
		`claims.tenant == request.headers["x-tenant"] && now.getHours() < 22`,
	} {
		z, err := NewRule(expr)
		if err != nil {
			b.Fatal(err)
		}
		c := ruleCall(http.MethodGet, "/orders?id=7", nil)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if e := z.Check(c); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}
