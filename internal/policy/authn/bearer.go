package authn

import (
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// Bearer is an oauth2 or jwt provider's authentication step: a JWT-shaped
// bearer token is verified locally against the provider's keys when it has a
// JWKS; any other token (or every token, without a JWKS) is introspected when
// the provider has an introspection endpoint. A token neither can judge is
// refused.
type Bearer struct {
	JWT           *JWT           // nil: no local verification
	Introspection *Introspection // nil: no introspection
	// Store, when set, joins the roles of the token's consumer in the
	// store (Consumer manifests' roles are joined by JWT and Introspection).
	Store *Keys
}

// Authenticate implements policy.Authenticator.
func (b *Bearer) Authenticate(r *http.Request, now time.Time) (policy.Identity, *httperr.Error) {
	var id policy.Identity
	var err *httperr.Error
	switch {
	case b.JWT != nil && (b.Introspection == nil || looksLikeJWT(r.Header.Get("Authorization"))):
		id, err = b.JWT.Authenticate(r, now)
	case b.Introspection != nil:
		id, err = b.Introspection.Authenticate(r, now)
	}
	if b.JWT != nil || b.Introspection != nil {
		if err == nil && b.Store != nil {
			id = b.Store.JoinRoles(id)
		}
		return id, err
	}
	e := httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, "invalid token", nil)
	e.Header = http.Header{"Www-Authenticate": {`Bearer realm="portcullis", error="invalid_token"`}}
	return policy.Identity{}, e
}

// Credential implements policy.Authenticator: the Authorization header.
func (b *Bearer) Credential() (header, query string) { return "Authorization", "" }

// Close stops the JWT step's key refresh.
func (b *Bearer) Close() {
	if b.JWT != nil {
		b.JWT.Close()
	}
}

// looksLikeJWT reports whether an Authorization value carries a compact JWS:
// three base64url segments.
func looksLikeJWT(authorization string) bool {
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	return ok && strings.Count(token, ".") == 2
}
