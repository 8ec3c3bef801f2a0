package authn

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/testpki"
)

// TestMTLS: the fingerprint wins over the subject; a request without a
// verified certificate, or with one nobody declares, is refused.
func TestMTLS(t *testing.T) {
	ca := testpki.NewCA(t, "clients")
	pair := ca.KeyPair(t, "alice")
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	other, _ := x509.ParseCertificate(ca.KeyPair(t, "alice").Certificate[0]) // same subject, another key
	stranger, _ := x509.ParseCertificate(ca.KeyPair(t, "mallory").Certificate[0])

	m := NewMTLS()
	m.DeclareSubject("CN=alice", policy.Identity{Consumer: "alice-by-subject"})
	m.DeclareFingerprint(sha256.Sum256(cert.Raw), policy.Identity{Consumer: "alice-by-fingerprint"})
	request := func(c *x509.Certificate, verified bool) (string, int) {
		r := httptest.NewRequest("GET", "/", nil)
		if c != nil {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
			if verified {
				r.TLS.VerifiedChains = [][]*x509.Certificate{{c, ca.Cert}}
			}
		}
		id, herr := m.Authenticate(r, time.Now())
		if herr != nil {
			return "", herr.Status
		}
		return id.Consumer, 200
	}
	for _, tc := range []struct {
		name     string
		cert     *x509.Certificate
		verified bool
		want     string
		status   int
	}{
		{"declared fingerprint", cert, true, "alice-by-fingerprint", 200},
		{"declared subject", other, true, "alice-by-subject", 200},
		{"undeclared", stranger, true, "", 401},
		{"not verified", cert, false, "", 401},
		{"no certificate", nil, false, "", 401},
	} {
		if got, status := request(tc.cert, tc.verified); got != tc.want || status != tc.status {
			t.Errorf("%s: %q %d, want %q %d", tc.name, got, status, tc.want, tc.status)
		}
	}
}
