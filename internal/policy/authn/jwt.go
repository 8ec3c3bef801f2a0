package authn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// Defaults of JWTConfig.
const (
	defaultClockSkew       = 30 * time.Second
	defaultMaxTokenBytes   = 8192
	defaultRefetchCooldown = 10 * time.Second
	defaultHTTPTimeout     = 10 * time.Second
	jwksRetryAfterFailure  = time.Minute
)

// DefaultJWTAlgorithms are accepted when a provider names none.
var DefaultJWTAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// jwtAlgorithms are the algorithms a provider may allow: asymmetric
// signatures only. "none" and the HMAC family are absent on purpose: with
// keys from a public JWKS, HMAC would let anyone holding the public key sign.
var jwtAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true, "Ed25519": true,
}

// JWTConfig is a JWT step's settings (an AuthProvider of type jwt or oauth2).
type JWTConfig struct {
	// Issuer is the exact "iss" required of tokens; "" = not checked. When
	// JWKSURL is empty, the keys are found through the issuer's OpenID
	// Connect discovery document.
	Issuer  string
	JWKSURL string
	// Audiences: a token's "aud" must hold at least one of them; empty = no
	// audience check.
	Audiences []string
	// Algorithms is the allowlist; default DefaultJWTAlgorithms. "none" and
	// HS* are refused at construction.
	Algorithms []string
	// ClockSkew is the leeway of exp, nbf and iat; default 30s.
	ClockSkew time.Duration
	// RolesClaim, ScopesClaim and ConsumerClaim are dotted claim paths (e.g.
	// "realm_access.roles"). Defaults: "roles"; "scope" then "scp"; "sub".
	RolesClaim, ScopesClaim, ConsumerClaim string
	// HTTPClient fetches the JWKS and the discovery document; default a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// Consumers maps a consumer name to the roles of its Consumer manifest;
	// a token's consumer gets those roles too.
	Consumers map[string][]string
	// MaxTokenBytes bounds a token; larger ones are refused unparsed.
	// Default 8192.
	MaxTokenBytes int
	// RefetchCooldown is the least time between JWKS fetches caused by an
	// unknown kid; default 10s.
	RefetchCooldown time.Duration
	// Log receives warnings: failed refreshes, plain-http endpoints.
	// Default: discarded.
	Log *slog.Logger
}

// JWT authenticates a request by a bearer JSON Web Token, verified against
// the provider's JWKS. Nothing in a token chooses its key or algorithm: the
// key comes only from the configured JWKS (jku, x5u, jwk and x5c are never
// read), and the algorithm must be both allowed and the key's own.
type JWT struct {
	issuer          string
	jwksURL         string
	audiences       []string
	algorithms      map[string]bool
	skew            time.Duration
	roles, scopes   []string // claim paths, split at dots
	consumer        []string
	scopesFallback  []string // "scp", tried when the default "scope" is absent
	client          *http.Client
	consumers       map[string][]string
	maxTokenBytes   int
	refetchCooldown time.Duration
	log             *slog.Logger

	keys     atomic.Pointer[keySet]
	verified verified // tokens already checked against keys

	fetchMu   sync.Mutex    // single-flight for fetches
	fetchGen  atomic.Uint64 // fetches started
	lastFetch time.Time     // guarded by fetchMu

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// JWT challenges (RFC 6750 §3).
const (
	bearerChallenge        = `Bearer realm="portcullis"`
	invalidTokenChallenge  = `Bearer realm="portcullis", error="invalid_token"`
	publicInvalidToken     = "invalid token"
	publicMissingBearer    = "a bearer token is required"
	maxKeysTriedWithoutKid = 8
)

// NewJWT builds a JWT step. It fetches the JWKS now (discovering its URL
// from the issuer when none is given) and fails when it cannot: a policy must
// not be built on an unreachable provider. The keys are then refreshed in
// the background, as often as the provider's Cache-Control max-age says
// (within 1 min to 24 h; 15 min without one), until Close.
func NewJWT(ctx context.Context, cfg JWTConfig) (*JWT, error) {
	j := &JWT{
		issuer:          cfg.Issuer,
		jwksURL:         cfg.JWKSURL,
		audiences:       cfg.Audiences,
		algorithms:      map[string]bool{},
		skew:            cfg.ClockSkew,
		consumers:       cfg.Consumers,
		client:          cfg.HTTPClient,
		maxTokenBytes:   cfg.MaxTokenBytes,
		refetchCooldown: cfg.RefetchCooldown,
		log:             cfg.Log,
		stop:            make(chan struct{}),
		done:            make(chan struct{}),
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultJWTAlgorithms
	}
	for _, a := range algs {
		if !jwtAlgorithms[a] {
			return nil, fmt.Errorf("JWT algorithm %q is not accepted (asymmetric signatures only: RS*, PS*, ES*, EdDSA)", a)
		}
		j.algorithms[a] = true
	}
	if j.skew <= 0 {
		j.skew = defaultClockSkew
	}
	if j.maxTokenBytes <= 0 {
		j.maxTokenBytes = defaultMaxTokenBytes
	}
	if j.refetchCooldown <= 0 {
		j.refetchCooldown = defaultRefetchCooldown
	}
	if j.client == nil {
		j.client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	j.roles = claimPath(cfg.RolesClaim, "roles")
	j.consumer = claimPath(cfg.ConsumerClaim, "sub")
	j.scopes = claimPath(cfg.ScopesClaim, "scope")
	if cfg.ScopesClaim == "" {
		j.scopesFallback = []string{"scp"}
	}

	if j.jwksURL == "" {
		if j.issuer == "" {
			return nil, errors.New("JWT provider: issuer or jwksURL is required")
		}
		j.warnPlainHTTP(j.issuer)
		u, err := discoverJWKS(ctx, j.client, j.issuer)
		if err != nil {
			return nil, fmt.Errorf("JWT provider %s: %w", j.issuer, err)
		}
		j.jwksURL = u
	}
	j.warnPlainHTTP(j.jwksURL)
	age, err := j.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("JWT provider: cannot fetch its JWKS: %w", err)
	}
	go j.refreshLoop(refreshInterval(age))
	return j, nil
}

// warnPlainHTTP logs a warning for a provider endpoint over plain http,
// unless it is on a loopback address.
func (j *JWT) warnPlainHTTP(raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	j.log.Warn("JWT provider endpoint uses plain http", "url", raw)
}

// Close stops the background refresh.
func (j *JWT) Close() {
	j.once.Do(func() { close(j.stop) })
	<-j.done
}

// Credential says where the token travels: the Authorization header.
func (j *JWT) Credential() (header, query string) { return "Authorization", "" }

// refreshLoop refreshes the keys every interval; a failed refresh keeps the
// last good keys, logs a warning and tries again sooner.
func (j *JWT) refreshLoop(interval time.Duration) {
	defer close(j.done)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), defaultHTTPTimeout)
		next, err := j.refresh(ctx)
		cancel()
		if err != nil {
			j.log.Warn("JWKS refresh failed; keeping the last good keys", "url", j.jwksURL, "err", err)
			next = min(jwksRetryAfterFailure, next)
		}
		t.Reset(next)
	}
}

// refresh fetches the keys and returns when to refresh next.
func (j *JWT) refresh(ctx context.Context) (time.Duration, error) {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	age, err := j.fetch(ctx)
	return refreshInterval(age), err
}

// fetch fetches the JWKS and installs it; on failure the last good keys
// stay. Callers other than NewJWT hold fetchMu.
func (j *JWT) fetch(ctx context.Context) (time.Duration, error) {
	j.lastFetch = time.Now()
	j.fetchGen.Add(1)
	body, age, err := getJSON(ctx, j.client, j.jwksURL)
	if err != nil {
		return 0, err
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return 0, err
	}
	j.keys.Store(ks)
	return age, nil
}

// refetch fetches the JWKS again because a token named a kid it does not
// hold. Concurrent callers share one fetch (those that waited on another's
// fetch do not fetch again), and fetches are at least RefetchCooldown apart,
// so a flood of unknown kids cannot hammer the provider.
func (j *JWT) refetch() {
	gen := j.fetchGen.Load()
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	if j.fetchGen.Load() != gen || time.Since(j.lastFetch) < j.refetchCooldown {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultHTTPTimeout)
	defer cancel()
	if _, err := j.fetch(ctx); err != nil {
		j.log.Warn("JWKS refetch for an unknown kid failed; keeping the last good keys", "url", j.jwksURL, "err", err)
	}
}

// Authenticate verifies the request's bearer token and returns the identity
// it carries. Every refusal is 401 with an RFC 6750 challenge; the client is
// told only "invalid token", the logged cause says which check failed
// (never the token).
func (j *JWT) Authenticate(r *http.Request, now time.Time) (policy.Identity, *httperr.Error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return policy.Identity{}, refuseBearer(publicMissingBearer, bearerChallenge, errors.New("no bearer token"))
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if len(values) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") {
		return policy.Identity{}, refuseBearer(publicMissingBearer, bearerChallenge, errors.New("no bearer token in Authorization"))
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return policy.Identity{}, refuseBearer(publicMissingBearer, bearerChallenge, errors.New("empty bearer token"))
	}
	if len(token) > j.maxTokenBytes {
		return policy.Identity{}, refuseBearer(publicInvalidToken, invalidTokenChallenge,
			fmt.Errorf("token of %d bytes exceeds the %d-byte limit", len(token), j.maxTokenBytes))
	}
	hash := sha256.Sum256([]byte(token))
	keys := j.keys.Load()
	if id, ok := j.verified.get(hash, keys, now); ok {
		return id, nil
	}
	claims, err := j.verify(token, now)
	if err != nil {
		return policy.Identity{}, refuseBearer(publicInvalidToken, invalidTokenChallenge, err)
	}
	id := j.identity(claims)
	if exp, ok, _ := numericDate(claims, "exp"); ok {
		j.verified.put(hash, verifiedToken{keys: keys, expires: exp.Add(j.skew), identity: id})
	}
	return id, nil
}

// tokenHeader is what is read of a token's protected header: only the
// algorithm and the key id. jku, x5u, jwk and x5c are never read.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// verify checks token's signature and claims and returns its claims.
func (j *JWT) verify(token string, now time.Time) (map[string]any, error) {
	if len(token) > j.maxTokenBytes {
		return nil, fmt.Errorf("token of %d bytes exceeds the %d-byte limit", len(token), j.maxTokenBytes)
	}
	if strings.Count(token, ".") != 2 {
		return nil, errors.New("malformed token: not a compact JWS")
	}
	encHeader, _, _ := strings.Cut(token, ".")
	rawHeader, err := base64.RawURLEncoding.Strict().DecodeString(encHeader)
	if err != nil {
		return nil, errors.New("malformed token: header is not base64url")
	}
	var h tokenHeader
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		return nil, errors.New("malformed token: header is not a JSON object")
	}
	if !j.algorithms[h.Alg] {
		return nil, fmt.Errorf("token algorithm %q is not allowed", truncate(h.Alg))
	}
	alg, ok := jwa.LookupSignatureAlgorithm(h.Alg)
	if !ok {
		return nil, fmt.Errorf("token algorithm %q is unknown", truncate(h.Alg))
	}
	keys := j.keys.Load().lookup(h.Kid, h.Alg)
	if len(keys) == 0 {
		j.refetch()
		keys = j.keys.Load().lookup(h.Kid, h.Alg)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key in the JWKS for kid %q and alg %s", truncate(h.Kid), h.Alg)
	}
	var payload []byte
	err = errors.New("signature does not verify")
	for _, k := range keys[:min(len(keys), maxKeysTriedWithoutKid)] {
		if payload, err = jws.VerifyCompactFast(k.raw, []byte(token), alg); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", truncate(h.Kid), err)
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	return claims, j.checkClaims(claims, now)
}

// decodeClaims decodes a verified payload, which must be a JSON object.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil || dec.More() {
		return nil, errors.New("malformed token: claims are not a JSON object")
	}
	return claims, nil
}

// checkClaims checks exp (required), nbf, iat, iss and aud.
func (j *JWT) checkClaims(c map[string]any, now time.Time) error {
	exp, ok, err := numericDate(c, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return errors.New("token has no exp")
	case !now.Before(exp.Add(j.skew)):
		return fmt.Errorf("token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	nbf, ok, err := numericDate(c, "nbf")
	if err != nil {
		return err
	}
	if ok && now.Add(j.skew).Before(nbf) {
		return fmt.Errorf("token not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	iat, ok, err := numericDate(c, "iat")
	if err != nil {
		return err
	}
	if ok && iat.After(now.Add(j.skew)) {
		return fmt.Errorf("token issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	if j.issuer != "" {
		if iss, _ := c["iss"].(string); iss != j.issuer {
			return fmt.Errorf("token issuer %q is not %q", truncate(iss), j.issuer)
		}
	}
	if len(j.audiences) > 0 && !slices.ContainsFunc(stringList(c["aud"], false), func(a string) bool {
		return slices.Contains(j.audiences, a)
	}) {
		return errors.New("token audience is not one of the provider's audiences")
	}
	return nil
}

// numericDate reads the NumericDate claim name: ok is false when absent, err
// set when present but not a number.
func numericDate(c map[string]any, name string) (t time.Time, ok bool, err error) {
	v, present := c[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f > 1<<53 {
		return time.Time{}, false, fmt.Errorf("token claim %s is not a NumericDate", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// identity maps verified claims to an identity.
func (j *JWT) identity(c map[string]any) policy.Identity {
	id := policy.Identity{Claims: c}
	id.Consumer, _ = lookupClaim(c, j.consumer).(string)
	id.Roles = stringList(lookupClaim(c, j.roles), true)
	for _, r := range j.consumers[id.Consumer] {
		if id.Consumer != "" && !slices.Contains(id.Roles, r) {
			id.Roles = append(id.Roles, r)
		}
	}
	scopes := lookupClaim(c, j.scopes)
	if scopes == nil && j.scopesFallback != nil {
		scopes = lookupClaim(c, j.scopesFallback)
	}
	id.Scopes = stringList(scopes, true)
	return id
}

// claimPath splits a dotted claim path, or def when path is empty.
func claimPath(path, def string) []string {
	if path == "" {
		path = def
	}
	return strings.Split(path, ".")
}

// lookupClaim follows path through nested objects; nil when absent.
func lookupClaim(c map[string]any, path []string) any {
	var v any = c
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// stringList reads a claim that is a string or an array of strings (other
// elements are ignored). With split, a string is a space-separated list
// (like OAuth2 "scope"); otherwise it is one value (like "aud").
func stringList(v any, split bool) []string {
	switch v := v.(type) {
	case string:
		if split {
			return strings.Fields(v)
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// truncate bounds a token-supplied string before it goes into a log line.
func truncate(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

func refuseBearer(public, challenge string, cause error) *httperr.Error {
	e := httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, public, cause)
	e.Header = http.Header{"Www-Authenticate": {challenge}}
	return e
}
