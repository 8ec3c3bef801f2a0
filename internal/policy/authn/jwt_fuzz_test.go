package authn

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// fuzzKey is the fuzz provider's key: derived from a fixed seed, so that
// the seed corpus in testdata/fuzz can hold tokens it signed.
var fuzzKey = ed25519.NewKeyFromSeed([]byte("portcullis-jwt-fuzz-seed-32bytes"))

// fuzzIssuer is the issuer of the fuzz corpus's tokens; the fake provider's
// address changes each run, so the fuzz step checks no issuer.
const fuzzIssuer = "https://idp.example"

// FuzzJWTAuthenticate: no input panics, and none is accepted unless it
// verifies under a key of the JWKS.
func FuzzJWTAuthenticate(f *testing.F) {
	idp := newFakeIdP(f, jwksJSON(f, jwkKey{"fuzz", "EdDSA", fuzzKey.Public()}))
	idp.attacker = jwksJSON(f, jwkKey{"attacker", "RS256", &sharedKeys().attacker.PublicKey})
	j := newTestJWT(f, idp, func(c *JWTConfig) {
		c.Issuer, c.Audiences = fuzzIssuer, nil
		c.RefetchCooldown = time.Hour
	})
	valid := sign(f, jwa.EdDSA(), fuzzKey, "fuzz", claimsFor(fuzzIssuer, nil), nil)
	if _, herr := j.Authenticate(bearer(valid), testNow); herr != nil {
		f.Fatalf("the valid seed is refused: %v", herr)
	}
	f.Add(valid)
	for _, a := range jwtAttacks(f, idp) {
		f.Add(a.token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, herr := j.Authenticate(bearer(token), testNow)
		if herr != nil {
			if herr.Status != 401 || herr.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("refusal %d without a challenge", herr.Status)
			}
			return
		}
		if _, err := jws.Verify([]byte(token), jws.WithKey(jwa.EdDSA(), fuzzKey.Public())); err != nil {
			t.Fatalf("accepted a token the JWKS key did not sign (%+v): %v", id, err)
		}
	})
}
