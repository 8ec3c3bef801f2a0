// Package policy holds what a route's policy chain establishes about a
// request: the caller's identity. The components live in subpackages, one per
// step of the chain, in its fixed order: authn (who is calling), authz (may
// they), then rate limits, validation and the WAF as they land.
package policy

import (
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
)

// Authenticator is an authentication step: it finds the Identity behind a
// request or refuses it (401).
type Authenticator interface {
	Authenticate(r *http.Request, now time.Time) (Identity, *httperr.Error)
	// Credential names where the credential travels (a header or a query
	// parameter), so that it is removed before the request goes upstream.
	Credential() (header, query string)
}

// Authorizer is an authorization step: it refuses (403) a call that may not
// be made.
type Authorizer interface {
	Check(c *Call) *httperr.Error
}

// Call is one request as the authorization steps see it.
type Call struct {
	Request  *http.Request
	ClientIP string // as the gateway determined it (trusted proxies only)
	Identity Identity
	Now      time.Time
}

// Identity is who the authentication step found behind a request.
type Identity struct {
	Consumer string         // the consumer's name; "" when anonymous
	Roles    []string       // the consumer's (or token's) roles
	Scopes   []string       // the token's scopes, if any
	KeyID    string         // the API key used, if any
	Claims   map[string]any // a token's claims, for authorization rules; nil for API keys
}
