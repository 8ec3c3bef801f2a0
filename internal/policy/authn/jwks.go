package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Bounds of the background JWKS refresh interval: the provider's
// Cache-Control max-age, clamped to [minJWKSRefresh, maxJWKSRefresh], or
// defaultJWKSRefresh when it sends none.
const (
	minJWKSRefresh     = time.Minute
	maxJWKSRefresh     = 24 * time.Hour
	defaultJWKSRefresh = 15 * time.Minute
	// maxJWKSBytes bounds what is read from a JWKS or discovery document.
	maxJWKSBytes = 1 << 20
)

// verifyKey is one usable public key of a JWKS.
type verifyKey struct {
	kid string
	alg string // the JWK's own "alg"; "" when it names none
	raw any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keySet is an immutable snapshot of a provider's JWKS.
type keySet struct {
	byKid map[string][]verifyKey
	all   []verifyKey
}

// lookup returns the keys that may verify a token with kid and alg: those of
// that kid (every key when the token names none) whose type fits alg and
// whose own "alg", when set, is alg.
func (s *keySet) lookup(kid, alg string) []verifyKey {
	candidates := s.all
	if kid != "" {
		candidates = s.byKid[kid]
	}
	var out []verifyKey
	for _, k := range candidates {
		if (k.alg == "" || k.alg == alg) && keyFits(alg, k.raw) {
			out = append(out, k)
		}
	}
	return out
}

// keyFits reports whether a public key's type (and curve) is the one alg
// needs; a JWK can never lend itself to another algorithm family.
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA" || alg == "Ed25519"
	}
	return false
}

// parseJWKS turns a JWKS document into a key set. Only public signature keys
// of the asymmetric families are kept: symmetric ("oct") keys, encryption
// keys (use "enc") and anything unknown are skipped. A document that parses
// but holds no usable key is an error, so a broken provider cannot wipe the
// last good keys.
func parseJWKS(body []byte) (*keySet, error) {
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	ks := &keySet{byKid: map[string][]verifyKey{}}
	for i := range set.Len() {
		key, ok := set.Key(i)
		if !ok {
			continue
		}
		if use, ok := key.KeyUsage(); ok && use != "sig" {
			continue
		}
		if pk, err := jwk.PublicKeyOf(key); err == nil {
			key = pk
		}
		var raw any
		if err := jwk.Export(key, &raw); err != nil {
			continue
		}
		switch raw.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		vk := verifyKey{raw: raw}
		vk.kid, _ = key.KeyID()
		if a, ok := key.Algorithm(); ok {
			vk.alg = a.String()
		}
		ks.all = append(ks.all, vk)
		ks.byKid[vk.kid] = append(ks.byKid[vk.kid], vk)
	}
	if len(ks.all) == 0 {
		return nil, errors.New("JWKS holds no usable signature key")
	}
	return ks, nil
}

// getJSON fetches url with client and returns its body (at most
// maxJWKSBytes) and the response's Cache-Control max-age (0 when absent).
func getJSON(ctx context.Context, client *http.Client, url string) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("GET %s: document larger than %d bytes", url, maxJWKSBytes)
	}
	return body, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads the max-age directive of a Cache-Control header; 0 when
// absent or malformed.
func maxAge(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
		if err != nil || secs < 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxJWKSRefresh/time.Second))) * time.Second
	}
	return 0
}

// refreshInterval is when to refresh next, given the provider's max-age.
func refreshInterval(age time.Duration) time.Duration {
	if age == 0 {
		return defaultJWKSRefresh
	}
	return min(max(age, minJWKSRefresh), maxJWKSRefresh)
}

// discoverJWKS reads the OpenID Connect discovery document of issuer and
// returns its jwks_uri. The document's own issuer must be issuer (OpenID
// Connect Discovery §4.3).
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	body, _, err := getJSON(ctx, client, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("OIDC discovery: the document's issuer %q is not %q", doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("OIDC discovery: the document has no jwks_uri")
	}
	return doc.JWKSURI, nil
}
