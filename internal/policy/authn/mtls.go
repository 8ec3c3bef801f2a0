package authn

import (
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// MTLS authenticates by the client certificate the TLS handshake verified
// against the listener's clientCAFile: the consumer is the one that declares
// the certificate, by its SHA-256 or by its subject.
type MTLS struct {
	byFingerprint map[[sha256.Size]byte]policy.Identity
	bySubject     map[string]policy.Identity
}

// NewMTLS returns an MTLS authenticator with no certificates declared;
// Declare adds them.
func NewMTLS() *MTLS {
	return &MTLS{byFingerprint: map[[sha256.Size]byte]policy.Identity{}, bySubject: map[string]policy.Identity{}}
}

// DeclareFingerprint makes the certificate whose DER encoding has this
// SHA-256 identify id.
func (m *MTLS) DeclareFingerprint(sum [sha256.Size]byte, id policy.Identity) {
	m.byFingerprint[sum] = id
}

// DeclareSubject makes certificates with this subject (RFC 4514 text, as
// crypto/x509 renders it) identify id.
func (m *MTLS) DeclareSubject(subject string, id policy.Identity) { m.bySubject[subject] = id }

// Authenticate implements policy.Authenticator. A request without a
// verified client certificate — on a connection that has none, which the
// listener's configuration should make impossible — is refused: it fails
// closed.
func (m *MTLS) Authenticate(r *http.Request, _ time.Time) (policy.Identity, *httperr.Error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return policy.Identity{}, httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, "a client certificate is required", nil)
	}
	cert := r.TLS.PeerCertificates[0]
	if id, ok := m.byFingerprint[sha256.Sum256(cert.Raw)]; ok {
		return id, nil
	}
	if id, ok := m.bySubject[cert.Subject.String()]; ok {
		return id, nil
	}
	return policy.Identity{}, httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, "the client certificate identifies no consumer", nil)
}

// Credential implements policy.Authenticator: the certificate travels in
// the handshake, not in the request.
func (m *MTLS) Credential() (header, query string) { return "", "" }
