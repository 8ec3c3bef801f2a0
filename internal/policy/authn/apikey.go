// Package authn is the first step of a route's policy chain: it finds out who
// is calling, or refuses the request with 401.
package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// DefaultAPIKeyHeader is where an API key is read when the route names no
// AuthProvider (or one without header or query).
const DefaultAPIKeyHeader = "X-API-Key"

// maxKeyLength bounds what is hashed: a key the gateway made is 47
// characters; anything far longer is refused unread.
const maxKeyLength = 512

// APIKeyConfig is an API-key step's settings.
type APIKeyConfig struct {
	Header string // where the key is sent; default X-API-Key
	Query  string // or a query parameter instead
	// Declared are the keys declared in manifests (Consumer apiKeys), by
	// hash; they take precedence over the store's.
	Declared KeySet
	// Store is the node's keys from the store.
	Store *Keys
}

// APIKey authenticates a request by an API key.
type APIKey struct {
	header, query string
	declared      KeySet
	store         *Keys
	challenge     string
}

// NewAPIKey builds an API-key step.
func NewAPIKey(cfg APIKeyConfig) *APIKey {
	name := cfg.Header
	if name == "" && cfg.Query == "" {
		name = DefaultAPIKeyHeader
	}
	a := &APIKey{header: http.CanonicalHeaderKey(name), query: cfg.Query, declared: cfg.Declared, store: cfg.Store}
	where := `header="` + name + `"`
	if a.query != "" {
		where = `query="` + a.query + `"`
	}
	a.challenge = `APIKey realm="portcullis", ` + where
	return a
}

// Credential says where the key travels, so that the gateway can remove it
// before the request goes upstream.
func (a *APIKey) Credential() (header, query string) { return a.header, a.query }

// Authenticate finds the consumer behind the request's key. The key is
// compared by its SHA-256 (a map lookup on a hash reveals nothing through
// timing about any stored key); an unknown, revoked or expired key gets the
// same answer as a missing one, so a caller cannot tell which.
func (a *APIKey) Authenticate(r *http.Request, now time.Time) (policy.Identity, *httperr.Error) {
	var key string
	if a.query != "" {
		key = r.URL.Query().Get(a.query)
	} else {
		key = r.Header.Get(a.header)
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > maxKeyLength {
		return policy.Identity{}, a.refuse("an API key is required", nil)
	}
	hash := sha256.Sum256([]byte(key))
	k, ok := a.declared[hash]
	if !ok && a.store != nil {
		k, ok = a.store.Lookup(hash)
	}
	switch {
	case !ok:
		return policy.Identity{}, a.refuse("the API key is not valid", errUnknownKey(hash))
	case k.Revoked:
		return policy.Identity{}, a.refuse("the API key is not valid", errKey("revoked", k.ID))
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return policy.Identity{}, a.refuse("the API key is not valid", errKey("expired", k.ID))
	}
	return policy.Identity{Consumer: k.Consumer, Roles: k.Roles, KeyID: k.ID}, nil
}

func (a *APIKey) refuse(public string, cause error) *httperr.Error {
	e := httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, public, cause)
	e.Header = http.Header{"Www-Authenticate": {a.challenge}}
	return e
}

// keyError is the logged cause of a refusal: the key's id, or a short prefix
// of an unknown key's hash — never the key.
type keyError struct{ what, id string }

func (e keyError) Error() string { return "API key " + e.id + " " + e.what }

func errKey(what, id string) error { return keyError{what: what, id: id} }

func errUnknownKey(hash [sha256.Size]byte) error {
	return keyError{what: "unknown", id: "sha256:" + hex.EncodeToString(hash[:4]) + "…"}
}
