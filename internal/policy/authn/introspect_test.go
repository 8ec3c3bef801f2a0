package authn

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeIntrospector is an RFC 7662 endpoint that checks the gateway's client
// credentials and counts calls.
type fakeIntrospector struct {
	t      *testing.T
	calls  atomic.Int64
	mu     sync.Mutex
	tokens map[string]map[string]any // token → answer; unknown tokens are inactive
	delay  time.Duration
	srv    *httptest.Server
}

const (
	introspectClientID     = "gate way"
	introspectClientSecret = "s3cr:t&"
)

func newFakeIntrospector(t *testing.T) *fakeIntrospector {
	f := &fakeIntrospector{t: t, tokens: map[string]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		id, secret, ok := r.BasicAuth()
		// client_secret_basic: both are form-url-encoded before Basic.
		if !ok || id != "gate+way" || secret != "s3cr%3At%26" {
			t.Errorf("basic auth = %q %q %v", id, secret, ok)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("request %s %s", r.Method, r.Header.Get("Content-Type"))
		}
		if r.PostFormValue("token_type_hint") != "access_token" {
			t.Errorf("token_type_hint = %q", r.PostFormValue("token_type_hint"))
		}
		if f.delay > 0 {
			time.Sleep(f.delay)
		}
		f.mu.Lock()
		answer, ok := f.tokens[r.PostFormValue("token")]
		f.mu.Unlock()
		if !ok {
			answer = map[string]any{"active": false}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIntrospector) set(token string, answer map[string]any) {
	f.mu.Lock()
	f.tokens[token] = answer
	f.mu.Unlock()
}

func newTestIntrospection(t *testing.T, url string, mod func(*IntrospectionConfig)) *Introspection {
	t.Helper()
	cfg := IntrospectionConfig{URL: url, ClientID: introspectClientID, ClientSecret: introspectClientSecret}
	if mod != nil {
		mod(&cfg)
	}
	i, err := NewIntrospection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func introspectRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

var introspectT0 = time.Unix(1_800_000_000, 0)

func TestIntrospectionActiveAndInactive(t *testing.T) {
	f := newFakeIntrospector(t)
	f.set("good-token", map[string]any{
		"active": true, "sub": "alice", "scope": "orders:read orders:write",
		"exp": float64(introspectT0.Add(time.Hour).Unix()), "realm": map[string]any{"roles": []any{"reader"}},
		"tenant": "t1",
	})
	i := newTestIntrospection(t, f.srv.URL, func(c *IntrospectionConfig) {
		c.RolesClaim = "realm.roles"
		c.Consumers = map[string][]string{"alice": {"admin", "reader"}}
	})
	id, e := i.Authenticate(introspectRequest("good-token"), introspectT0)
	if e != nil {
		t.Fatal(e)
	}
	if id.Consumer != "alice" || !slices.Equal(id.Roles, []string{"reader", "admin"}) ||
		!slices.Equal(id.Scopes, []string{"orders:read", "orders:write"}) || id.Claims["tenant"] != "t1" {
		t.Errorf("identity = %+v", id)
	}
	if h, q := i.Credential(); h != "Authorization" || q != "" {
		t.Errorf("credential = %q %q", h, q)
	}

	_, e = i.Authenticate(introspectRequest("bad-token"), introspectT0)
	if e == nil || e.Status != 401 || e.Decision != "unauthenticated" ||
		e.Header.Get("Www-Authenticate") != `Bearer realm="portcullis", error="invalid_token"` {
		t.Fatalf("inactive: %v %v", e, e.Header)
	}
}

func TestIntrospectionMissingToken(t *testing.T) {
	f := newFakeIntrospector(t)
	i := newTestIntrospection(t, f.srv.URL, nil)
	for _, h := range []string{"", "Basic abc", "Bearer ", "Bearer a b", "Bearer " + strings.Repeat("x", 9000)} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		_, e := i.Authenticate(r, introspectT0)
		if e == nil || e.Status != 401 || e.Header.Get("Www-Authenticate") != `Bearer realm="portcullis"` {
			t.Errorf("%q: %v", h, e)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d calls for missing tokens", n)
	}
	// The scheme is case-insensitive (RFC 7235).
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "bearer tok")
	if _, e := i.Authenticate(r, introspectT0); e == nil || e.Header.Get("Www-Authenticate") != `Bearer realm="portcullis", error="invalid_token"` {
		t.Errorf("lower-case scheme: %v", e)
	}
}

func TestIntrospectionCaching(t *testing.T) {
	f := newFakeIntrospector(t)
	exp := introspectT0.Add(2 * time.Minute)
	f.set("tok", map[string]any{"active": true, "sub": "alice", "exp": float64(exp.Unix())})
	f.set("long", map[string]any{"active": true, "sub": "bob", "exp": float64(introspectT0.Add(time.Hour).Unix())})
	i := newTestIntrospection(t, f.srv.URL, nil)

	for _, at := range []time.Time{introspectT0, introspectT0.Add(time.Minute), exp.Add(-time.Second)} {
		if _, e := i.Authenticate(introspectRequest("tok"), at); e != nil {
			t.Fatal(e)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1 (cached)", n)
	}
	// At exp the cached answer is gone; the provider (still saying active,
	// as a careless one might) is asked again, and the expired exp is refused.
	if _, e := i.Authenticate(introspectRequest("tok"), exp); e == nil || e.Status != 401 {
		t.Fatalf("after exp: %v", e)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}

	// An active answer with a far exp is kept at most 5 minutes.
	i.Authenticate(introspectRequest("long"), introspectT0)
	i.Authenticate(introspectRequest("long"), introspectT0.Add(4*time.Minute))
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
	i.Authenticate(introspectRequest("long"), introspectT0.Add(5*time.Minute))
	if n := f.calls.Load(); n != 4 {
		t.Fatalf("calls = %d, want 4 (5-minute bound)", n)
	}
}

func TestIntrospectionInactiveTTL(t *testing.T) {
	f := newFakeIntrospector(t)
	i := newTestIntrospection(t, f.srv.URL, func(c *IntrospectionConfig) { c.InactiveTTL = 10 * time.Second })
	for _, at := range []time.Time{introspectT0, introspectT0.Add(9 * time.Second)} {
		if _, e := i.Authenticate(introspectRequest("nope"), at); e == nil || e.Status != 401 {
			t.Fatal(e)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
	// The token becomes active at the provider; after the TTL it is seen.
	f.set("nope", map[string]any{"active": true, "sub": "carol"})
	if id, e := i.Authenticate(introspectRequest("nope"), introspectT0.Add(10*time.Second)); e != nil || id.Consumer != "carol" {
		t.Fatalf("%+v %v", id, e)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

func TestIntrospectionCacheBound(t *testing.T) {
	f := newFakeIntrospector(t)
	i := newTestIntrospection(t, f.srv.URL, func(c *IntrospectionConfig) { c.MaxCacheEntries = 3 })
	for n := range 5 {
		i.Authenticate(introspectRequest(fmt.Sprint("t", n)), introspectT0)
	}
	if len(i.cache) != 3 || i.order.Len() != 3 {
		t.Fatalf("cache holds %d/%d", len(i.cache), i.order.Len())
	}
	before := f.calls.Load()
	i.Authenticate(introspectRequest("t4"), introspectT0)           // newest: still cached
	i.Authenticate(introspectRequest("introspectT0"), introspectT0) // oldest: evicted
	if n := f.calls.Load() - before; n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}
}

func TestIntrospectionSingleflight(t *testing.T) {
	f := newFakeIntrospector(t)
	f.delay = 100 * time.Millisecond
	f.set("shared", map[string]any{"active": true, "sub": "alice"})
	i := newTestIntrospection(t, f.srv.URL, nil)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 50 {
		wg.Go(func() {
			if id, e := i.Authenticate(introspectRequest("shared"), introspectT0); e != nil || id.Consumer != "alice" {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 || failed.Load() != 0 {
		t.Fatalf("calls = %d, failures = %d", n, failed.Load())
	}
}

func TestIntrospectionIssuerAudience(t *testing.T) {
	f := newFakeIntrospector(t)
	f.set("ok-str", map[string]any{"active": true, "sub": "a", "iss": "https://idp", "aud": "api"})
	f.set("ok-list", map[string]any{"active": true, "sub": "a", "iss": "https://idp", "aud": []any{"other", "api"}})
	f.set("bad-iss", map[string]any{"active": true, "sub": "a", "iss": "https://evil", "aud": "api"})
	f.set("no-iss", map[string]any{"active": true, "sub": "a", "aud": "api"})
	f.set("bad-aud", map[string]any{"active": true, "sub": "a", "iss": "https://idp", "aud": []any{"other"}})
	f.set("no-aud", map[string]any{"active": true, "sub": "a", "iss": "https://idp"})
	i := newTestIntrospection(t, f.srv.URL, func(c *IntrospectionConfig) {
		c.Issuer = "https://idp"
		c.Audiences = []string{"api", "api2"}
	})
	for tok, ok := range map[string]bool{"ok-str": true, "ok-list": true, "bad-iss": false, "no-iss": false, "bad-aud": false, "no-aud": false} {
		_, e := i.Authenticate(introspectRequest(tok), introspectT0)
		if (e == nil) != ok || (e != nil && e.Status != 401) {
			t.Errorf("%s: %v", tok, e)
		}
	}
}

func TestIntrospectionClaims(t *testing.T) {
	f := newFakeIntrospector(t)
	f.set("sub", map[string]any{"active": true, "sub": "s", "username": "u", "client_id": "c"})
	f.set("username", map[string]any{"active": true, "username": "u", "client_id": "c"})
	f.set("client", map[string]any{"active": true, "client_id": "c", "scope": "  a  b "})
	f.set("nobody", map[string]any{"active": true, "scope": "a"})
	f.set("scope-list", map[string]any{"active": true, "sub": "s", "scope": []any{"x", "y", 3}})
	f.set("bad-exp", map[string]any{"active": true, "sub": "s", "exp": "tomorrow"})
	f.set("active-string", map[string]any{"active": "true", "sub": "s"})
	i := newTestIntrospection(t, f.srv.URL, nil)
	for _, c := range []struct {
		token, consumer string
		scopes          []string
	}{
		{"sub", "s", nil}, {"username", "u", nil}, {"client", "c", []string{"a", "b"}},
		{"nobody", "", nil}, {"scope-list", "s", []string{"x", "y"}}, {"bad-exp", "", nil}, {"active-string", "", nil},
	} {
		id, e := i.Authenticate(introspectRequest(c.token), introspectT0)
		if c.consumer == "" {
			if e == nil || e.Status != 401 {
				t.Errorf("%s: %+v %v", c.token, id, e)
			}
			continue
		}
		if e != nil || id.Consumer != c.consumer || !slices.Equal(id.Scopes, c.scopes) {
			t.Errorf("%s: %+v %v", c.token, id, e)
		}
	}

	// An explicit consumer claim is the only one used.
	f.set("org", map[string]any{"active": true, "sub": "s", "ext": map[string]any{"org": "acme"}})
	j := newTestIntrospection(t, f.srv.URL, func(c *IntrospectionConfig) { c.ConsumerClaim = "ext.org" })
	if id, e := j.Authenticate(introspectRequest("org"), introspectT0); e != nil || id.Consumer != "acme" {
		t.Errorf("org: %+v %v", id, e)
	}
	if _, e := j.Authenticate(introspectRequest("sub"), introspectT0); e == nil {
		t.Error("sub accepted though the consumer claim is ext.org")
	}
}

func TestIntrospectionFailsClosed(t *testing.T) {
	const secretToken = "very-secret-token-value"
	handlers := map[string]http.HandlerFunc{
		"500":     func(w http.ResponseWriter, r *http.Request) { http.Error(w, secretToken, 500) },
		"garbage": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>" + secretToken)) },
		"null":    func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("null")) },
		"401":     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) },
		"slow":    func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) },
	}
	check := func(name string, i *Introspection) {
		t.Helper()
		var failures atomic.Int64
		i.cfg.OnUnavailable = func() { failures.Add(1) }
		for range 2 {
			id, e := i.Authenticate(introspectRequest(secretToken), introspectT0)
			if e == nil || e.Status != 503 || e.Decision != "unauthenticated" ||
				e.Public != "the identity provider is unavailable" || e.Header.Get("Retry-After") != "5" || id.Consumer != "" {
				t.Errorf("%s: %+v %v", name, id, e)
				continue
			}
			if strings.Contains(e.Error(), secretToken) {
				t.Errorf("%s: error names the token: %v", name, e)
			}
		}
		if failures.Load() != 2 { // failures are not cached
			t.Errorf("%s: OnUnavailable called %d times", name, failures.Load())
		}
	}
	for name, h := range handlers {
		srv := httptest.NewServer(h)
		check(name, newTestIntrospection(t, srv.URL, func(c *IntrospectionConfig) {
			c.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
		}))
		srv.Close()
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	check("unreachable", newTestIntrospection(t, url, nil))
}

func TestIntrospectionErrorsNeverNameTheToken(t *testing.T) {
	const secretToken = "another-secret-token"
	f := newFakeIntrospector(t)
	f.set(secretToken+"-expired", map[string]any{"active": true, "sub": "a", "exp": float64(introspectT0.Unix() - 1)})
	i := newTestIntrospection(t, f.srv.URL, func(c *IntrospectionConfig) { c.Issuer = "x" })
	for _, tok := range []string{secretToken, secretToken + "-expired"} {
		_, e := i.Authenticate(introspectRequest(tok), introspectT0)
		if e == nil || strings.Contains(e.Error(), secretToken) || strings.Contains(fmt.Sprint(e.Header), secretToken) {
			t.Errorf("%v", e)
		}
	}
}

func TestNewIntrospectionValidates(t *testing.T) {
	for _, cfg := range []IntrospectionConfig{
		{URL: "", ClientID: "a"}, {URL: "ftp://x", ClientID: "a"}, {URL: "/relative", ClientID: "a"}, {URL: "https://idp/introspect"},
	} {
		if _, err := NewIntrospection(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestIntrospectionWarnsOfPlainHTTP(t *testing.T) {
	for url, warn := range map[string]bool{
		"http://idp.example/introspect":  true,
		"https://idp.example/introspect": false,
		"http://127.0.0.1:9/introspect":  false,
		"http://[::1]:9/introspect":      false,
		"http://localhost:9/introspect":  false,
	} {
		var buf strings.Builder
		_, err := NewIntrospection(IntrospectionConfig{URL: url, ClientID: "a", Log: slog.New(slog.NewTextHandler(&buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "plain http"); got != warn {
			t.Errorf("%s: warned %v: %s", url, got, buf.String())
		}
	}
}

// BenchmarkIntrospectionCached is the request path once a token's answer is
// cached: hash, lookup, identity.
func BenchmarkIntrospectionCached(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"active":true,"sub":"alice","scope":"orders:read"}`))
	}))
	defer srv.Close()
	i, err := NewIntrospection(IntrospectionConfig{URL: srv.URL, ClientID: "a"})
	if err != nil {
		b.Fatal(err)
	}
	r := introspectRequest("an-opaque-token-of-typical-length-0123456789")
	b.ReportAllocs()
	for b.Loop() {
		if _, e := i.Authenticate(r, introspectT0); e != nil {
			b.Fatal(e)
		}
	}
}
