package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// testKeys are the identity provider's signing keys and an attacker's.
type testKeys struct {
	rsa, rsa2, attacker *rsa.PrivateKey
	ec                  *ecdsa.PrivateKey
	ed                  ed25519.PrivateKey
	attackerCert        []byte // a self-signed certificate of attacker, DER
}

var sharedKeys = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	var err error
	must := func(e error) {
		if e != nil {
			panic(e)
		}
	}
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.attacker, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	k.attackerCert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.attacker.PublicKey, k.attacker)
	must(err)
	return k
})

// jwkKey is a public key to publish in a JWKS.
type jwkKey struct {
	kid, alg string
	pub      crypto.PublicKey
}

// jwksJSON renders keys as a JWKS document.
func jwksJSON(t testing.TB, keys ...jwkKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		key, err := jwk.Import(k.pub)
		if err != nil {
			t.Fatal(err)
		}
		_ = key.Set(jwk.KeyIDKey, k.kid)
		if k.alg != "" {
			_ = key.Set(jwk.AlgorithmKey, k.alg)
		}
		_ = key.Set(jwk.KeyUsageKey, "sig")
		if err := set.AddKey(key); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeIdP is an identity provider serving a switchable JWKS, an OpenID
// Connect discovery document and, for the attacks, an attacker's keys; it
// counts JWKS fetches.
type fakeIdP struct {
	srv      *httptest.Server
	fetches  atomic.Int64
	down     atomic.Bool
	mu       sync.Mutex
	jwks     []byte
	maxAge   string
	attacker []byte // the attacker's JWKS
}

func newFakeIdP(t testing.TB, jwks []byte) *fakeIdP {
	t.Helper()
	idp := &fakeIdP{jwks: jwks}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		idp.fetches.Add(1)
		if idp.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		idp.mu.Lock()
		body, age := idp.jwks, idp.maxAge
		idp.mu.Unlock()
		if age != "" {
			w.Header().Set("Cache-Control", "max-age="+age)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": idp.srv.URL, "jwks_uri": idp.srv.URL + "/jwks.json"})
	})
	mux.HandleFunc("/attacker/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the attacker's JWKS (jku) was fetched")
		_, _ = w.Write(idp.attacker)
	})
	mux.HandleFunc("/attacker/cert.pem", func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the attacker's certificate (x5u) was fetched")
		_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: sharedKeys().attackerCert})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *fakeIdP) setJWKS(b []byte) {
	idp.mu.Lock()
	idp.jwks = b
	idp.mu.Unlock()
}

// standardJWKS is the provider's usual key set: RSA, EC and Ed25519.
func standardJWKS(t testing.TB) []byte {
	k := sharedKeys()
	return jwksJSON(t,
		jwkKey{"rsa-1", "RS256", &k.rsa.PublicKey},
		jwkKey{"ec-1", "ES256", &k.ec.PublicKey},
		jwkKey{"ed-1", "EdDSA", k.ed.Public()},
	)
}

// newTestJWT builds a JWT step against idp with the test defaults.
func newTestJWT(t testing.TB, idp *fakeIdP, mod func(*JWTConfig)) *JWT {
	t.Helper()
	cfg := JWTConfig{
		Issuer:          idp.srv.URL,
		JWKSURL:         idp.srv.URL + "/jwks.json",
		Audiences:       []string{"orders-api", "billing-api"},
		RefetchCooldown: 50 * time.Millisecond,
		Consumers:       map[string][]string{"alice": {"reader", "manifest-role"}},
	}
	if mod != nil {
		mod(&cfg)
	}
	j, err := NewJWT(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	return j
}

// testNow is the time tokens are checked at in most tests.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// claimsFor are valid claims for idp at testNow, with extra merged in (a
// nil value deletes a claim).
func claimsFor(issuer string, extra map[string]any) map[string]any {
	c := map[string]any{
		"iss":   issuer,
		"sub":   "alice",
		"aud":   []string{"orders-api"},
		"exp":   testNow.Add(time.Hour).Unix(),
		"nbf":   testNow.Add(-time.Minute).Unix(),
		"iat":   testNow.Add(-time.Minute).Unix(),
		"scope": "orders:read orders:write",
		"roles": []string{"admin"},
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign signs claims with jwx: alg, key and kid, plus extra protected
// headers.
func sign(t testing.TB, alg jwa.SignatureAlgorithm, key any, kid string, claims any, extra map[string]any) string {
	t.Helper()
	payload, ok := claims.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	h := jws.NewHeaders()
	_ = h.Set("typ", "JWT")
	if kid != "" {
		_ = h.Set(jws.KeyIDKey, kid)
	}
	for k, v := range extra {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// craft assembles a compact token by hand from a header, claims and a
// signature function over the signing input (nil = empty signature).
func craft(t testing.TB, header, claims any, sigf func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, ok := v.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sigf != nil {
		sig = sigf([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// bearer is a request carrying token.
func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// segments splits a compact token.
func segments(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}
