package authn

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// Introspection defaults.
const (
	defaultIntrospectionTimeout = 5 * time.Second
	defaultInactiveTTL          = 5 * time.Second
	defaultMaxCacheEntries      = 100_000
	// maxActiveTTL bounds how long an active answer is trusted, whatever
	// its exp, so that a revocation at the provider is seen within it.
	maxActiveTTL = 5 * time.Minute
	// maxIntrospectToken bounds what is hashed or sent to the provider.
	maxIntrospectToken = 8192
	// maxIntrospectionBody bounds what is read from the provider.
	maxIntrospectionBody = 1 << 20
	// retryAfterUnavailable is the Retry-After of a 503 when the provider
	// cannot be reached.
	retryAfterUnavailable      = "5"
	introspectChallenge        = `Bearer realm="portcullis"`
	introspectInvalidChallenge = `Bearer realm="portcullis", error="invalid_token"`
)

// IntrospectionConfig is an OAuth2 token introspection (RFC 7662) step's
// settings.
type IntrospectionConfig struct {
	// URL is the provider's introspection endpoint; ClientID and
	// ClientSecret authenticate the gateway to it (client_secret_basic).
	URL, ClientID, ClientSecret string
	// Issuer and Audiences, when set, must match the answer's iss and aud
	// (an answer without them is refused).
	Issuer    string
	Audiences []string
	// RolesClaim, ScopesClaim and ConsumerClaim are dotted paths into the
	// answer. Scopes default to "scope" (a space-separated string, RFC 7662);
	// the consumer defaults to "sub", then "username", then "client_id".
	RolesClaim, ScopesClaim, ConsumerClaim string
	// Consumers are the roles of declared Consumers, joined to a token's.
	Consumers map[string][]string
	// HTTPClient calls the provider; default a client with a 5 s timeout.
	HTTPClient *http.Client
	// InactiveTTL is how long an inactive answer is cached; default 5 s.
	InactiveTTL time.Duration
	// MaxCacheEntries bounds the cache (default 100,000); the oldest entry
	// goes first.
	MaxCacheEntries int
	// OnUnavailable, when set, is called each time the provider cannot
	// answer (for a metric).
	OnUnavailable func()
	// Log receives provider failures and the plain-http warning.
	Log *slog.Logger
}

// Introspection authenticates opaque bearer tokens by asking the provider
// (RFC 7662). Answers are cached by the token's SHA-256; concurrent requests
// with the same token share one call. When the provider cannot answer the
// request is refused with 503 — never let through.
type Introspection struct {
	cfg    IntrospectionConfig
	client *http.Client
	log    *slog.Logger
	flight singleflight.Group

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*list.Element
	order *list.List // of *introspectionEntry, oldest first
}

// introspectionEntry is a cached answer: an identity, or the reason a token
// is refused.
type introspectionEntry struct {
	key     [sha256.Size]byte
	until   time.Time
	id      policy.Identity
	refusal string // the logged cause when the token is refused
}

// NewIntrospection builds an introspection step.
func NewIntrospection(cfg IntrospectionConfig) (*Introspection, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("introspection: url must be an absolute http(s) URL")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("introspection: clientID is required")
	}
	if cfg.ScopesClaim == "" {
		cfg.ScopesClaim = "scope"
	}
	if cfg.InactiveTTL <= 0 {
		cfg.InactiveTTL = defaultInactiveTTL
	}
	if cfg.MaxCacheEntries <= 0 {
		cfg.MaxCacheEntries = defaultMaxCacheEntries
	}
	i := &Introspection{
		cfg:    cfg,
		client: cfg.HTTPClient,
		log:    cfg.Log,
		cache:  make(map[[sha256.Size]byte]*list.Element),
		order:  list.New(),
	}
	if i.client == nil {
		i.client = &http.Client{Timeout: defaultIntrospectionTimeout}
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if u.Scheme == "http" && !introspectLoopback(u.Hostname()) {
		i.log.Warn("token introspection over plain http: tokens and the client secret travel in clear", "host", u.Host)
	}
	return i, nil
}

// Credential says the token travels in the Authorization header.
func (i *Introspection) Credential() (header, query string) { return "Authorization", "" }

// Authenticate finds the identity behind the request's bearer token.
func (i *Introspection) Authenticate(r *http.Request, now time.Time) (policy.Identity, *httperr.Error) {
	token, ok := introspectBearer(r)
	if !ok {
		e := httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, "a bearer token is required", nil)
		e.Header = http.Header{"Www-Authenticate": {introspectChallenge}}
		return policy.Identity{}, e
	}
	key := sha256.Sum256([]byte(token))
	ent := i.lookup(key, now)
	if ent == nil {
		v, err, _ := i.flight.Do(string(key[:]), func() (any, error) {
			if ent := i.lookup(key, now); ent != nil {
				return ent, nil
			}
			ent, err := i.introspect(r.Context(), token, key, now)
			if err != nil {
				// Counted and logged once per failed call, however many
				// requests were waiting on it.
				if i.cfg.OnUnavailable != nil {
					i.cfg.OnUnavailable()
				}
				i.log.Warn("token introspection failed; refusing", "error", err)
				return nil, err
			}
			i.store(ent)
			return ent, nil
		})
		if err != nil {
			e := httperr.New(http.StatusServiceUnavailable, httperr.DecisionUnauthenticated,
				"the identity provider is unavailable", err)
			e.Header = http.Header{"Retry-After": {retryAfterUnavailable}}
			return policy.Identity{}, e
		}
		ent = v.(*introspectionEntry)
	}
	if ent.refusal != "" {
		e := httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, "the token is not valid",
			introspectTokenError{what: ent.refusal, key: key})
		e.Header = http.Header{"Www-Authenticate": {introspectInvalidChallenge}}
		return policy.Identity{}, e
	}
	return ent.id, nil
}

// introspectBearer reads an RFC 6750 bearer token from the Authorization header.
func introspectBearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > maxIntrospectToken || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// introspectTokenError is the logged cause of a refused token: a short prefix of its
// hash, never the token.
type introspectTokenError struct {
	what string
	key  [sha256.Size]byte
}

func (e introspectTokenError) Error() string {
	return "token sha256:" + hex.EncodeToString(e.key[:4]) + "… " + e.what
}

func (i *Introspection) lookup(key [sha256.Size]byte, now time.Time) *introspectionEntry {
	i.mu.Lock()
	defer i.mu.Unlock()
	el, ok := i.cache[key]
	if !ok {
		return nil
	}
	ent := el.Value.(*introspectionEntry)
	if !now.Before(ent.until) {
		i.order.Remove(el)
		delete(i.cache, key)
		return nil
	}
	return ent
}

func (i *Introspection) store(ent *introspectionEntry) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if el, ok := i.cache[ent.key]; ok {
		i.order.Remove(el)
	}
	i.cache[ent.key] = i.order.PushBack(ent)
	for i.order.Len() > i.cfg.MaxCacheEntries {
		oldest := i.order.Front()
		i.order.Remove(oldest)
		delete(i.cache, oldest.Value.(*introspectionEntry).key)
	}
}

// introspect asks the provider about token and turns its answer into a cache
// entry. An error means the provider could not answer.
func (i *Introspection) introspect(ctx context.Context, token string, key [sha256.Size]byte, now time.Time) (*introspectionEntry, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	// The call is shared by every request waiting on this token: one
	// client hanging up must not fail the others. The timeout holds even
	// with a configured HTTPClient that has none.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultIntrospectionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(i.cfg.ClientID), url.QueryEscape(i.cfg.ClientSecret))
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxIntrospectionBody))
		return nil, fmt.Errorf("introspection: provider answered %d", resp.StatusCode)
	}
	var claims map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxIntrospectionBody)).Decode(&claims); err != nil {
		return nil, fmt.Errorf("introspection: the answer is not a JSON object: %w", err)
	}
	if claims == nil {
		return nil, errors.New("introspection: the answer is not a JSON object")
	}
	return i.entry(claims, key, now), nil
}

// entry judges an introspection answer.
func (i *Introspection) entry(claims map[string]any, key [sha256.Size]byte, now time.Time) *introspectionEntry {
	ent := &introspectionEntry{key: key, until: now.Add(i.cfg.InactiveTTL)}
	if active, _ := claims["active"].(bool); !active {
		ent.refusal = "inactive"
		return ent
	}
	until := now.Add(maxActiveTTL)
	if v, ok := claims["exp"]; ok {
		f, ok := v.(float64)
		if !ok {
			ent.refusal = "has a malformed exp"
			return ent
		}
		exp := time.Unix(int64(f), 0)
		if !now.Before(exp) {
			ent.refusal = "expired"
			return ent
		}
		if exp.Before(until) {
			until = exp
		}
	}
	if i.cfg.Issuer != "" {
		if iss, _ := claims["iss"].(string); iss != i.cfg.Issuer {
			ent.refusal = "has the wrong issuer"
			return ent
		}
	}
	if len(i.cfg.Audiences) > 0 && !slices.ContainsFunc(introspectStrings(claims["aud"]), func(a string) bool {
		return slices.Contains(i.cfg.Audiences, a)
	}) {
		ent.refusal = "has the wrong audience"
		return ent
	}
	consumer := i.consumer(claims)
	if consumer == "" {
		ent.refusal = "names no consumer"
		return ent
	}
	var roles []string
	if i.cfg.RolesClaim != "" {
		roles = introspectStrings(introspectClaim(claims, i.cfg.RolesClaim))
	}
	for _, r := range i.cfg.Consumers[consumer] {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	ent.until = until
	// The identity is shared by every request with this token until it
	// leaves the cache: clip the slices so that no one appends into them.
	ent.id = policy.Identity{
		Consumer: consumer,
		Roles:    slices.Clip(roles),
		Scopes:   introspectStrings(introspectClaim(claims, i.cfg.ScopesClaim)),
		Claims:   claims,
	}
	return ent
}

// consumer is the consumer an answer names.
func (i *Introspection) consumer(claims map[string]any) string {
	if i.cfg.ConsumerClaim != "" {
		s, _ := introspectClaim(claims, i.cfg.ConsumerClaim).(string)
		return s
	}
	for _, name := range []string{"sub", "username", "client_id"} {
		if s, _ := claims[name].(string); s != "" {
			return s
		}
	}
	return ""
}

// introspectClaim follows a dotted path ("realm_access.roles") into claims; nil
// when some step is missing.
func introspectClaim(claims map[string]any, path string) any {
	var v any = claims
	for name := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[name]
	}
	return v
}

// introspectStrings reads a claim as a list of strings: a JSON array of strings,
// or a space-separated string (as RFC 7662's scope).
func introspectStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// introspectLoopback says whether host is localhost or a loopback address.
func introspectLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
