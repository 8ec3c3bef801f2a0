package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/internal/policy"
)

var _ policy.Authenticator = (*JWT)(nil)

func TestJWTAcceptsValidTokens(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, nil)
	k := sharedKeys()
	claims := claimsFor(idp.srv.URL, nil)
	for _, tc := range []struct {
		name string
		alg  jwa.SignatureAlgorithm
		key  any
		kid  string
	}{
		{"RS256", jwa.RS256(), k.rsa, "rsa-1"},
		{"ES256", jwa.ES256(), k.ec, "ec-1"},
		{"EdDSA", jwa.EdDSA(), k.ed, "ed-1"},
		{"RS256 without kid", jwa.RS256(), k.rsa, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, herr := j.Authenticate(bearer(sign(t, tc.alg, tc.key, tc.kid, claims, nil)), testNow)
			if herr != nil {
				t.Fatalf("refused: %v", herr)
			}
			if id.Consumer != "alice" {
				t.Errorf("consumer %q", id.Consumer)
			}
			if want := []string{"admin", "reader", "manifest-role"}; !slices.Equal(id.Roles, want) {
				t.Errorf("roles %v, want %v", id.Roles, want)
			}
			if want := []string{"orders:read", "orders:write"}; !slices.Equal(id.Scopes, want) {
				t.Errorf("scopes %v, want %v", id.Scopes, want)
			}
			if id.Claims["iss"] != idp.srv.URL || id.KeyID != "" {
				t.Errorf("claims %v, key id %q", id.Claims, id.KeyID)
			}
		})
	}
}

func TestJWTClaimMapping(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, func(c *JWTConfig) {
		c.RolesClaim, c.ScopesClaim, c.ConsumerClaim = "realm_access.roles", "scp", "azp"
	})
	claims := claimsFor(idp.srv.URL, map[string]any{
		"azp":          "alice",
		"realm_access": map[string]any{"roles": []any{"writer", 7, "writer"}},
		"scp":          []string{"a", "b"},
		"aud":          "billing-api",
	})
	id, herr := j.Authenticate(bearer(sign(t, jwa.ES256(), sharedKeys().ec, "ec-1", claims, nil)), testNow)
	if herr != nil {
		t.Fatal(herr)
	}
	if id.Consumer != "alice" || !slices.Equal(id.Roles, []string{"writer", "reader", "manifest-role"}) || !slices.Equal(id.Scopes, []string{"a", "b"}) {
		t.Errorf("identity %+v", id)
	}

	// The default scopes claim falls back to "scp"; a role string is one
	// role per word; a consumer without a manifest keeps the token's roles.
	j2 := newTestJWT(t, idp, func(c *JWTConfig) { c.Audiences = nil })
	claims = claimsFor(idp.srv.URL, map[string]any{"scope": nil, "scp": []string{"x"}, "roles": "r1 r2", "sub": "bob"})
	id, herr = j2.Authenticate(bearer(sign(t, jwa.RS256(), sharedKeys().rsa, "rsa-1", claims, nil)), testNow)
	if herr != nil {
		t.Fatal(herr)
	}
	if id.Consumer != "bob" || !slices.Equal(id.Roles, []string{"r1", "r2"}) || !slices.Equal(id.Scopes, []string{"x"}) {
		t.Errorf("identity %+v", id)
	}
}

func TestJWTMissingToken(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, nil)
	for name, header := range map[string]string{"none": "", "basic": "Basic YWxpY2U6cHc=", "empty bearer": "Bearer ", "scheme only": "Bearer"} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if header != "" {
				r.Header.Set("Authorization", header)
			}
			_, herr := j.Authenticate(r, testNow)
			if herr == nil || herr.Status != http.StatusUnauthorized {
				t.Fatalf("got %v, want 401", herr)
			}
			if got := herr.Header.Get("WWW-Authenticate"); got != `Bearer realm="portcullis"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}
	if h, q := j.Credential(); h != "Authorization" || q != "" {
		t.Errorf("Credential() = %q, %q", h, q)
	}
}

// attack is one entry of TestJWTAttacks.
type attack struct {
	name  string
	token string
}

// jwtAttacks is the known JWT attack list of issue 4, against idp.
func jwtAttacks(t testing.TB, idp *fakeIdP) []attack {
	k := sharedKeys()
	iss := idp.srv.URL
	good := claimsFor(iss, nil)
	valid := sign(t, jwa.RS256(), k.rsa, "rsa-1", good, nil)
	var out []attack
	add := func(name, tok string) { out = append(out, attack{name, tok}) }

	// alg none, every casing, with and without a signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		add("alg "+alg, craft(t, map[string]string{"alg": alg, "typ": "JWT", "kid": "rsa-1"}, good, nil))
		add("alg "+alg+" without kid", craft(t, map[string]string{"alg": alg}, good, nil))
		add("alg "+alg+" with junk signature", craft(t, map[string]string{"alg": alg, "kid": "rsa-1"}, good, func([]byte) []byte { return []byte("x") }))
	}
	// HMAC signed with the RSA public key's bytes.
	pkix, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pkcs1 := x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)
	jwkBytes := jwksJSON(t, jwkKey{"rsa-1", "RS256", &k.rsa.PublicKey})
	secrets := map[string][]byte{
		"PEM":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"DER":       pkix,
		"PKCS1 PEM": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"PKCS1 DER": pkcs1,
		"JWKS JSON": jwkBytes,
	}
	hmacs := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}
	for sname, secret := range secrets {
		for alg, h := range hmacs {
			mac := func(in []byte) []byte { m := hmac.New(h, secret); m.Write(in); return m.Sum(nil) }
			add(alg+" signed with the RSA public key "+sname, craft(t, map[string]string{"alg": alg, "typ": "JWT", "kid": "rsa-1"}, good, mac))
		}
	}
	hs := map[string]string{"alg": "HS256", "typ": "JWT"}
	add("HS256 without kid, RSA public key PEM", craft(t, hs, good, func(in []byte) []byte {
		m := hmac.New(sha256.New, secrets["PEM"])
		m.Write(in)
		return m.Sum(nil)
	}))
	// Tampering.
	h, p, s := segments(valid)
	admin, _ := json.Marshal(claimsFor(iss, map[string]any{"sub": "admin", "roles": []string{"root"}}))
	add("tampered payload", h+"."+base64.RawURLEncoding.EncodeToString(admin)+"."+s)
	sig, _ := base64.RawURLEncoding.DecodeString(s)
	sig[len(sig)/2] ^= 0x01
	add("tampered signature", h+"."+p+"."+base64.RawURLEncoding.EncodeToString(sig))
	add("stripped signature", h+"."+p+".")
	add("stripped signature and dot", h+"."+p)
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "rsa-1"})
	add("header alg swapped after signing", base64.RawURLEncoding.EncodeToString(hdr)+"."+p+"."+s)
	// Keys named by the token itself, signed by the attacker, with the
	// attacker's key actually served or embedded.
	attackerJWK, err := jwk.Import(&k.attacker.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = attackerJWK.Set(jwk.KeyIDKey, "attacker")
	x5c := []string{base64.StdEncoding.EncodeToString(k.attackerCert)}
	for _, kid := range []string{"attacker", "rsa-1"} {
		add("jku to the attacker's JWKS, kid "+kid, sign(t, jwa.RS256(), k.attacker, kid, good, map[string]any{"jku": iss + "/attacker/jwks.json"}))
		add("embedded jwk of the attacker, kid "+kid, sign(t, jwa.RS256(), k.attacker, kid, good, map[string]any{"jwk": attackerJWK}))
		add("x5u to the attacker's certificate, kid "+kid, sign(t, jwa.RS256(), k.attacker, kid, good, map[string]any{"x5u": iss + "/attacker/cert.pem"}))
		add("embedded x5c of the attacker, kid "+kid, craft(t, map[string]any{"alg": "RS256", "kid": kid, "x5c": x5c}, good, func(in []byte) []byte {
			d := sha256.Sum256(in)
			sig, _ := rsa.SignPKCS1v15(rand.Reader, k.attacker, 5 /* crypto.SHA256 */, d[:])
			return sig
		}))
	}
	add("attacker key, no kid", sign(t, jwa.RS256(), k.attacker, "", good, nil))
	// kid injection, signed by the real key.
	for _, kid := range []string{"../../etc/passwd", "' OR 1=1 --", "/dev/null", "rsa-1\x00", "rsa-1' --"} {
		add(fmt.Sprintf("kid %q", kid), sign(t, jwa.RS256(), k.rsa, kid, good, nil))
	}
	// Algorithm and key type confusion.
	add("ES256 token naming the RSA kid", sign(t, jwa.ES256(), k.ec, "rsa-1", good, nil))
	add("RS256 token naming the EC kid", sign(t, jwa.RS256(), k.rsa, "ec-1", good, nil))
	add("PS256 (not allowed) with the real RSA key", sign(t, jwa.PS256(), k.rsa, "rsa-1", good, nil))
	add("RS512 (not allowed) with the real RSA key", sign(t, jwa.RS512(), k.rsa, "rsa-1", good, nil))
	add("unknown alg", craft(t, map[string]string{"alg": "XX999", "kid": "rsa-1"}, good, nil))
	// Claims.
	add("expired", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"exp": testNow.Add(-time.Minute).Unix()}), nil))
	add("not yet valid", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"nbf": testNow.Add(time.Minute).Unix()}), nil))
	add("issued in the future", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"iat": testNow.Add(time.Minute).Unix()}), nil))
	add("no exp", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"exp": nil}), nil))
	add("exp not a number", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"exp": "9999999999"}), nil))
	add("wrong issuer", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"iss": "https://evil.example"}), nil))
	add("issuer with trailing slash", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"iss": iss + "/"}), nil))
	add("no issuer", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"iss": nil}), nil))
	add("wrong audience", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"aud": []string{"other-api"}}), nil))
	add("no audience", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"aud": nil}), nil))
	// Size and shape.
	add("oversized", sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(iss, map[string]any{"pad": strings.Repeat("A", 9000)}), nil))
	add("malformed: garbage", "garbage")
	add("malformed: two segments", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0")
	add("malformed: four segments", valid+".x")
	add("malformed: empty segments", "..")
	add("malformed: bad base64", "!!!.@@@.###")
	add("malformed: padded base64 header", base64.URLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"rsa-1"}`))+"."+p+"."+s)
	add("malformed: header not JSON", base64.RawURLEncoding.EncodeToString([]byte("not json"))+"."+p+"."+s)
	add("malformed: header JSON array", craft(t, []byte(`["RS256"]`), good, nil))
	add("malformed: signed payload is JSON junk", sign(t, jwa.RS256(), k.rsa, "rsa-1", []byte(`{"sub":"alice"`), nil))
	add("malformed: signed payload is an array", sign(t, jwa.RS256(), k.rsa, "rsa-1", []byte(`["alice"]`), nil))
	add("malformed: signed payload with trailing data", sign(t, jwa.RS256(), k.rsa, "rsa-1", []byte(`{"sub":"alice"}{}`), nil))
	add("JSON serialization", `{"payload":"`+p+`","protected":"`+h+`","signature":"`+s+`"}`)
	return out
}

// TestJWTAttacks runs the known JWT attack list of issue 4 against a fake
// identity provider: every token is refused with 401, an RFC 6750
// invalid_token challenge and nothing more specific than "invalid token".
func TestJWTAttacks(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	idp.attacker = jwksJSON(t, jwkKey{"attacker", "RS256", &sharedKeys().attacker.PublicKey})
	j := newTestJWT(t, idp, nil)

	// The same provider accepts the untampered token, so each refusal is
	// the attack's doing.
	if _, herr := j.Authenticate(bearer(sign(t, jwa.RS256(), sharedKeys().rsa, "rsa-1", claimsFor(idp.srv.URL, nil), nil)), testNow); herr != nil {
		t.Fatalf("a valid token is refused: %v", herr)
	}
	for _, a := range jwtAttacks(t, idp) {
		t.Run(a.name, func(t *testing.T) {
			id, herr := j.Authenticate(bearer(a.token), testNow)
			if herr == nil {
				t.Fatalf("accepted as %+v", id)
			}
			if herr.Status != http.StatusUnauthorized || herr.Public != "invalid token" {
				t.Errorf("got %d %q", herr.Status, herr.Public)
			}
			if got := herr.Header.Get("WWW-Authenticate"); got != `Bearer realm="portcullis", error="invalid_token"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if herr.Cause == nil || strings.Contains(herr.Error(), a.token) {
				t.Errorf("cause %v (must exist and not hold the token)", herr.Cause)
			}
			t.Logf("cause: %v", herr.Cause)
		})
	}
}

func TestNewJWTRefusesUnsafeAlgorithms(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	for _, alg := range []string{"none", "None", "NONE", "HS256", "HS384", "HS512", "rs256", "XX1"} {
		_, err := NewJWT(context.Background(), JWTConfig{JWKSURL: idp.srv.URL + "/jwks.json", Algorithms: []string{"RS256", alg}})
		if err == nil {
			t.Errorf("algorithm %q accepted", alg)
		}
	}
	if _, err := NewJWT(context.Background(), JWTConfig{}); err == nil {
		t.Error("a provider without issuer nor jwksURL was accepted")
	}
}

// TestJWTAlgorithmMustMatchTheKey: an allowed algorithm still fails with a
// key whose own alg or type is another's.
func TestJWTAlgorithmMustMatchTheKey(t *testing.T) {
	k := sharedKeys()
	idp := newFakeIdP(t, jwksJSON(t,
		jwkKey{"rsa-rs256", "RS256", &k.rsa.PublicKey},
		jwkKey{"rsa-any", "", &k.rsa2.PublicKey},
	))
	j := newTestJWT(t, idp, func(c *JWTConfig) { c.Algorithms = []string{"RS256", "PS256", "ES256"} })
	claims := claimsFor(idp.srv.URL, nil)
	for name, tc := range map[string]struct {
		tok  string
		want bool
	}{
		"RS256 with the RS256 key":            {sign(t, jwa.RS256(), k.rsa, "rsa-rs256", claims, nil), true},
		"PS256 with the RS256 key":            {sign(t, jwa.PS256(), k.rsa, "rsa-rs256", claims, nil), false},
		"PS256 with an RSA key without alg":   {sign(t, jwa.PS256(), k.rsa2, "rsa-any", claims, nil), true},
		"ES256 naming an RSA key without alg": {sign(t, jwa.ES256(), k.ec, "rsa-any", claims, nil), false},
	} {
		_, herr := j.Authenticate(bearer(tc.tok), testNow)
		if (herr == nil) != tc.want {
			t.Errorf("%s: accepted=%v, want %v (%v)", name, herr == nil, tc.want, herr)
		}
	}
}

func TestJWTTimesWithinSkew(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, func(c *JWTConfig) { c.ClockSkew = 30 * time.Second })
	k := sharedKeys()
	for name, extra := range map[string]map[string]any{
		"expired 20s ago":        {"exp": testNow.Add(-20 * time.Second).Unix()},
		"valid in 20s":           {"nbf": testNow.Add(20 * time.Second).Unix()},
		"issued 20s from now":    {"iat": testNow.Add(20 * time.Second).Unix()},
		"fractional NumericDate": {"exp": float64(testNow.Add(time.Hour).Unix()) + 0.5},
	} {
		if _, herr := j.Authenticate(bearer(sign(t, jwa.RS256(), k.rsa, "rsa-1", claimsFor(idp.srv.URL, extra), nil)), testNow); herr != nil {
			t.Errorf("%s: refused: %v", name, herr)
		}
	}
}

// TestJWTKidFlood: 1,000 tokens with random kids, concurrent and then
// sequential, cause only a handful of JWKS fetches: one per cooldown at
// most, shared by every request waiting on it.
func TestJWTKidFlood(t *testing.T) {
	const cooldown = 100 * time.Millisecond
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, func(c *JWTConfig) { c.RefetchCooldown = cooldown })
	k := sharedKeys()
	claims := claimsFor(idp.srv.URL, nil)
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = sign(t, jwa.ES256(), k.ec, rand.Text(), claims, nil)
	}
	time.Sleep(cooldown) // past the cooldown of the initial fetch
	before := idp.fetches.Load()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan string)
	for range 50 {
		wg.Go(func() {
			for tok := range work {
				if _, herr := j.Authenticate(bearer(tok), testNow); herr == nil {
					t.Error("a token with a random kid was accepted")
				}
			}
		})
	}
	for _, tok := range tokens {
		work <- tok
	}
	close(work)
	wg.Wait()
	concurrent := idp.fetches.Load() - before
	// Then sequentially, spread over half a second.
	for i, tok := range tokens {
		if i%100 == 0 {
			time.Sleep(50 * time.Millisecond)
		}
		_, _ = j.Authenticate(bearer(tok), testNow)
	}
	total := idp.fetches.Load() - before
	elapsed := time.Since(start)
	limit := int64(elapsed/cooldown) + 1
	t.Logf("1,000 concurrent random kids: %d JWKS fetch(es); 2,000 in all over %v (cooldown %v): %d", concurrent, elapsed.Round(time.Millisecond), cooldown, total)
	if concurrent < 1 || concurrent > int64(time.Since(start)/cooldown)+1 {
		t.Errorf("%d JWKS fetches for 1,000 concurrent unknown kids", concurrent)
	}
	if total > limit {
		t.Errorf("%d JWKS fetches for 2,000 unknown kids in %v (limit %d)", total, elapsed, limit)
	}
}

// TestJWTKidInjection: kids made of paths or SQL are unknown kids: refused,
// with at most one refetch.
func TestJWTKidInjection(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, func(c *JWTConfig) { c.RefetchCooldown = time.Hour })
	before := idp.fetches.Load()
	for _, kid := range []string{"../../etc/passwd", "' OR 1=1 --", "..\\..\\windows\\win.ini", "%2e%2e%2f", "rsa-1\"; DROP TABLE keys; --"} {
		if _, herr := j.Authenticate(bearer(sign(t, jwa.RS256(), sharedKeys().rsa, kid, claimsFor(idp.srv.URL, nil), nil)), testNow); herr == nil {
			t.Errorf("kid %q accepted", kid)
		}
	}
	if n := idp.fetches.Load() - before; n > 1 {
		t.Errorf("%d refetches, want at most 1", n)
	}
}

// TestJWTKeyRotation: a key the provider adds is used after the refetch its
// unknown kid causes, without restart; a key it removes stops working at the
// next refresh.
func TestJWTKeyRotation(t *testing.T) {
	k := sharedKeys()
	idp := newFakeIdP(t, jwksJSON(t, jwkKey{"old", "RS256", &k.rsa.PublicKey}))
	j := newTestJWT(t, idp, nil)
	claims := claimsFor(idp.srv.URL, nil)
	oldTok := sign(t, jwa.RS256(), k.rsa, "old", claims, nil)
	newTok := sign(t, jwa.RS256(), k.rsa2, "new", claims, nil)
	if _, herr := j.Authenticate(bearer(oldTok), testNow); herr != nil {
		t.Fatal(herr)
	}
	if _, herr := j.Authenticate(bearer(newTok), testNow); herr == nil {
		t.Fatal("a token of a key not yet published was accepted")
	}

	idp.setJWKS(jwksJSON(t, jwkKey{"old", "RS256", &k.rsa.PublicKey}, jwkKey{"new", "RS256", &k.rsa2.PublicKey}))
	time.Sleep(60 * time.Millisecond) // the refetch cooldown
	if _, herr := j.Authenticate(bearer(newTok), testNow); herr != nil {
		t.Fatalf("the rotated-in key is refused: %v", herr)
	}
	if _, herr := j.Authenticate(bearer(oldTok), testNow); herr != nil {
		t.Fatalf("the old key stopped working before its removal: %v", herr)
	}

	idp.setJWKS(jwksJSON(t, jwkKey{"new", "RS256", &k.rsa2.PublicKey}))
	if _, err := j.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, herr := j.Authenticate(bearer(oldTok), testNow); herr == nil {
		t.Fatal("a removed key still works after the refresh")
	}
	if _, herr := j.Authenticate(bearer(newTok), testNow); herr != nil {
		t.Fatal(herr)
	}
}

// TestJWTProviderDown: a provider down at refresh keeps the last good keys;
// one never reached fails construction.
func TestJWTProviderDown(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, nil)
	tok := sign(t, jwa.RS256(), sharedKeys().rsa, "rsa-1", claimsFor(idp.srv.URL, nil), nil)

	idp.down.Store(true)
	if _, err := j.refresh(context.Background()); err == nil {
		t.Error("a refresh from a provider that is down succeeded")
	}
	if _, herr := j.Authenticate(bearer(tok), testNow); herr != nil {
		t.Fatalf("the last good keys were dropped: %v", herr)
	}
	// A JWKS without a usable key does not replace good keys either.
	idp.down.Store(false)
	idp.setJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"rsa-1","alg":"HS256"}]}`))
	if _, err := j.refresh(context.Background()); err == nil {
		t.Error("a JWKS with only a symmetric key was installed")
	}
	if _, herr := j.Authenticate(bearer(tok), testNow); herr != nil {
		t.Fatalf("the last good keys were dropped: %v", herr)
	}

	idp.down.Store(true)
	if _, err := NewJWT(context.Background(), JWTConfig{JWKSURL: idp.srv.URL + "/jwks.json"}); err == nil || !strings.Contains(err.Error(), "cannot fetch its JWKS") {
		t.Errorf("NewJWT on a provider that is down: %v", err)
	}
	unreachable := httptest.NewServer(http.NotFoundHandler())
	unreachable.Close()
	if _, err := NewJWT(context.Background(), JWTConfig{JWKSURL: unreachable.URL + "/jwks.json"}); err == nil {
		t.Error("NewJWT on an unreachable provider succeeded")
	}
}

func TestJWTDiscovery(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, func(c *JWTConfig) { c.JWKSURL = "" })
	if j.jwksURL != idp.srv.URL+"/jwks.json" {
		t.Errorf("discovered %q", j.jwksURL)
	}
	if _, herr := j.Authenticate(bearer(sign(t, jwa.EdDSA(), sharedKeys().ed, "ed-1", claimsFor(idp.srv.URL, nil), nil)), testNow); herr != nil {
		t.Fatal(herr)
	}
	// A discovery document for another issuer is refused.
	if _, err := NewJWT(context.Background(), JWTConfig{Issuer: idp.srv.URL + "/realms/other"}); err == nil {
		t.Error("discovery through a mismatched issuer succeeded")
	}
}

func TestJWTRefreshInterval(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                        defaultJWKSRefresh,
		"no-cache":                defaultJWKSRefresh,
		"public, max-age=5":       minJWKSRefresh,
		"max-age=3600, public":    time.Hour,
		"MAX-AGE=600":             10 * time.Minute,
		"max-age=99999999999":     maxJWKSRefresh,
		"max-age=-1":              defaultJWKSRefresh,
		`max-age="120"`:           2 * time.Minute,
		"max-age=1e3":             defaultJWKSRefresh,
		"s-maxage=10, max-age=90": 90 * time.Second,
	} {
		if got := refreshInterval(maxAge(cc)); got != want {
			t.Errorf("Cache-Control %q: %v, want %v", cc, got, want)
		}
	}
}

// TestJWTCloseIsIdempotent: Close stops the background refresh, and may be
// called again.
func TestJWTCloseIsIdempotent(t *testing.T) {
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, nil)
	j.Close()
	j.Close() // idempotent
}

func BenchmarkJWTAuthenticate(b *testing.B) {
	idp := newFakeIdP(b, standardJWKS(b))
	j := newTestJWT(b, idp, nil)
	k := sharedKeys()
	claims := claimsFor(idp.srv.URL, nil)
	for _, bc := range []struct {
		name string
		alg  jwa.SignatureAlgorithm
		key  any
		kid  string
	}{
		{"RS256", jwa.RS256(), k.rsa, "rsa-1"},
		{"ES256", jwa.ES256(), k.ec, "ec-1"},
		{"EdDSA", jwa.EdDSA(), k.ed, "ed-1"},
	} {
		tok := sign(b, bc.alg, bc.key, bc.kid, claims, nil)
		// A token seen before: the verified-token cache answers.
		b.Run(bc.name+"/cached", func(b *testing.B) {
			r := bearer(tok)
			b.ReportAllocs()
			for b.Loop() {
				if _, herr := j.Authenticate(r, testNow); herr != nil {
					b.Fatal(herr)
				}
			}
		})
		// A token never seen: the signature and claims are checked.
		b.Run(bc.name+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.verify(tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestJWTWarnsAboutPlainHTTP(t *testing.T) {
	for u, want := range map[string]bool{
		"http://idp.example/jwks.json":  true,
		"http://127.0.0.1:8080/jwks":    false,
		"http://[::1]/jwks":             false,
		"http://localhost/jwks":         false,
		"https://idp.example/jwks.json": false,
	} {
		var buf strings.Builder
		j := &JWT{log: slog.New(slog.NewTextHandler(&buf, nil))}
		j.warnPlainHTTP(u)
		if got := strings.Contains(buf.String(), "plain http"); got != want {
			t.Errorf("%s: warned=%v, want %v", u, got, want)
		}
	}
}

// TestJWTVerifiedCache: a token verified once is served from the cache, but
// never past its exp (plus the skew).
func TestJWTVerifiedCache(t *testing.T) {
	k := sharedKeys()
	idp := newFakeIdP(t, standardJWKS(t))
	j := newTestJWT(t, idp, nil)
	claims := claimsFor(idp.srv.URL, nil)
	tok := sign(t, jwa.RS256(), k.rsa, "rsa-1", claims, nil)
	for range 3 {
		if _, herr := j.Authenticate(bearer(tok), testNow); herr != nil {
			t.Fatal(herr)
		}
	}
	if n := len(j.verified.entries); n != 1 {
		t.Fatalf("%d cached tokens, want 1", n)
	}
	exp := testNow.Add(time.Hour) // claimsFor's exp
	if _, herr := j.Authenticate(bearer(tok), exp.Add(j.skew+time.Second)); herr == nil {
		t.Fatal("a cached token was accepted after its exp")
	}
}
