package test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// idp is a fake identity provider: a JWKS endpoint and an RFC 7662
// introspection endpoint, with switchable keys and counters.
type idp struct {
	srv            *httptest.Server
	keys           atomic.Pointer[[]byte]
	jwksFetches    atomic.Int64
	introspections atomic.Int64
	down           atomic.Bool
}

func newIdP(t *testing.T) *idp {
	p := &idp{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		switch r.URL.Path {
		case "/jwks":
			p.jwksFetches.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(*p.keys.Load())
		case "/introspect":
			p.introspections.Add(1)
			if id, secret, ok := r.BasicAuth(); !ok || id != "gateway" || secret != "s3cret" {
				http.Error(w, "bad client", http.StatusUnauthorized)
				return
			}
			_ = r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			if r.PostForm.Get("token") == "opaque-good" {
				fmt.Fprintf(w, `{"active": true, "sub": "carol", "scope": "orders:read", "exp": %d}`, time.Now().Add(time.Hour).Unix())
				return
			}
			fmt.Fprint(w, `{"active": false}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// publish makes the JWKS hold the public halves of keys, by kid.
func (p *idp) publish(t *testing.T, keys map[string]*rsa.PrivateKey) {
	t.Helper()
	set := jwk.NewSet()
	for kid, k := range keys {
		pub, err := jwk.Import(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		_ = pub.Set(jwk.KeyIDKey, kid)
		_ = pub.Set(jwk.AlgorithmKey, jwa.RS256())
		_ = set.AddKey(pub)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p.keys.Store(&b)
}

// signed signs claims with key under kid.
func signed(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	out, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func tokenPolicy(upstream, idpURL string) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - name: orders
      match: {pathPrefix: /orders}
      to: backend
      authentication: {type: jwt, provider: idp}
      authorization:
        roles: [reader]
        rule: 'request.method == "GET" || "writer" in roles'
    - name: opaque
      match: {pathPrefix: /opaque}
      to: backend
      authentication: {type: oauth2, provider: introspect}
      authorization: {scopes: ["orders:read"]}
    - name: office
      match: {pathPrefix: /office}
      to: backend
      ipFilter: {allow: [192.0.2.0/24]}
---
apiVersion: gateway/v1
kind: AuthProvider
metadata: {name: idp}
spec:
  type: jwt
  issuer: https://idp.test/
  jwksURL: %[2]s/jwks
  audiences: [orders-api]
---
apiVersion: gateway/v1
kind: AuthProvider
metadata: {name: introspect}
spec:
  type: oauth2
  introspection: {url: %[2]s/introspect, clientID: gateway, clientSecretEnv: E2E_INTROSPECTION_SECRET}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %[1]s}
`, upstream, idpURL)
}

// TestTokenAuthentication drives JWT (with key rotation), introspection
// (with fail-closed), CEL rules, scopes and an IP filter through the binary.
func TestTokenAuthentication(t *testing.T) {
	t.Setenv("E2E_INTROSPECTION_SECRET", "s3cret")
	up, hits := echoUpstream(t)
	p := newIdP(t)
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	p.publish(t, map[string]*rsa.PrivateKey{"k1": k1})
	g := startGateway(t, tokenPolicy(up.URL, p.srv.URL), "public")
	orders := g.url("public") + "/orders/7"
	claims := func(roles ...string) map[string]any {
		return map[string]any{"iss": "https://idp.test/", "aud": "orders-api", "sub": "alice",
			"exp": time.Now().Add(time.Hour).Unix(), "roles": roles}
	}
	call := func(method, url, bearer string) (*http.Response, []byte) {
		req := mustRequest(t, method, url)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return do(t, req)
	}

	good := signed(t, k1, "k1", claims("reader"))
	resp, body := call("GET", orders, good)
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	h := http.Header(decodeEcho(t, body).Headers)
	if h.Get("X-Consumer-Name") != "alice" || h.Get("Authorization") != "" {
		t.Errorf("upstream saw consumer %q, authorization %q", h.Get("X-Consumer-Name"), h.Get("Authorization"))
	}
	// The CEL rule: POST needs the writer role.
	if resp, body := call("POST", orders, good); resp.StatusCode != 403 {
		t.Errorf("POST without writer: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call("POST", orders, signed(t, k1, "k1", claims("reader", "writer"))); resp.StatusCode != 200 {
		t.Errorf("POST with writer: %d", resp.StatusCode)
	}
	// Refusals: no token, missing role, wrong audience, expired, alg none, unknown key.
	before := hits.Load()
	bad := map[string]string{
		"no token":       "",
		"wrong audience": signed(t, k1, "k1", map[string]any{"iss": "https://idp.test/", "aud": "other", "sub": "a", "exp": time.Now().Add(time.Hour).Unix(), "roles": []string{"reader"}}),
		"expired":        signed(t, k1, "k1", map[string]any{"iss": "https://idp.test/", "aud": "orders-api", "sub": "a", "exp": time.Now().Add(-time.Hour).Unix(), "roles": []string{"reader"}}),
		"alg none":       "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ." + strings.Split(good, ".")[1] + ".",
		"unknown key":    signed(t, k2, "k2", claims("reader")),
	}
	for name, tok := range bad {
		resp, body := call("GET", orders, tok)
		assertProblem(t, resp, body, 401)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if resp, body := call("GET", orders, signed(t, k1, "k1", claims("guest"))); resp.StatusCode != 403 {
		t.Errorf("missing role: %d %s", resp.StatusCode, body)
	}
	if hits.Load() != before {
		t.Error("a refused request reached the upstream")
	}

	// Key rotation at the identity provider: k2 is accepted after the refetch an unknown kid causes.
	p.publish(t, map[string]*rsa.PrivateKey{"k1": k1, "k2": k2})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := call("GET", orders, signed(t, k2, "k2", claims("reader")))
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a rotated-in key is still refused: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Introspection: an opaque token with the scope passes; an inactive one is
	// refused; a provider that is down fails closed (503), never open.
	opaque := g.url("public") + "/opaque/x"
	if resp, body := call("GET", opaque, "opaque-good"); resp.StatusCode != 200 {
		t.Fatalf("active opaque token: %d %s", resp.StatusCode, body)
	}
	if resp, body := call("GET", opaque, "opaque-bad"); resp.StatusCode != 401 {
		t.Errorf("inactive token: %d %s", resp.StatusCode, body)
	}
	p.down.Store(true)
	resp, body = call("GET", opaque, "opaque-unseen")
	assertProblem(t, resp, body, 503)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if resp, _ := call("GET", opaque, "opaque-good"); resp.StatusCode != 200 {
		t.Errorf("a cached active token while the provider is down: %d", resp.StatusCode)
	}
	p.down.Store(false)
	if _, metrics := g.adminGet("/metrics"); !strings.Contains(string(metrics), `portcullis_auth_provider_unavailable_total{provider="introspect"} 1`) {
		t.Error("the provider failure is not counted in /metrics")
	}

	// A consumer created in the store lends its roles to tokens of that name.
	if resp, body := g.adminDo("POST", "/admin/v1/consumers", nil, `{"name": "alice", "roles": ["writer"]}`); resp.StatusCode != 201 {
		t.Fatalf("consumer: %d %v", resp.StatusCode, body)
	}
	reader := signed(t, k1, "k1", claims("reader"))
	deadline = time.Now().Add(time.Second)
	for {
		resp, _ := call("POST", orders, reader)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store consumer's writer role was not joined: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The IP filter: loopback is not in 192.0.2.0/24.
	if resp, body := call("GET", g.url("public")+"/office/x", ""); resp.StatusCode != 403 {
		t.Errorf("ipFilter: %d %s", resp.StatusCode, body)
	}
	// No token in any log.
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(g.stdout.String()+g.stderr.String(), strings.Split(good, ".")[2]) {
		t.Error("a log carries a token")
	}
}
