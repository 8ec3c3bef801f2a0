package test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/portcullis/portcullis/internal/testpki"
)

// httpsUpstream is an https echo upstream whose certificate, for 127.0.0.1,
// ca signed; clientCA (may be nil) makes it require a client certificate
// from that CA. It answers with the path and the client certificate's name.
func httpsUpstream(t *testing.T, ca, clientCA *testpki.CA) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s from %s", r.URL.Path, client)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.KeyPair(t, "upstream", "127.0.0.1")}}
	if clientCA != nil {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.Pool()
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestUpstreamTLS: an https Service verified against its caFile, presenting
// a client certificate, is proxied; one whose upstream's certificate comes
// from a CA its caFile does not hold answers 502 problem+json naming neither
// the Service nor its address, the cause logged at WARN; once its caFile
// holds the right CA, SIGHUP (the manifests unchanged) puts it right.
// It runs on the embedded store and on PostgreSQL, where SIGHUP re-reads the
// shared store rather than the file: the same version is compiled again.
func TestUpstreamTLS(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testUpstreamTLS(t, "") })
	t.Run("postgres", func(t *testing.T) { testUpstreamTLS(t, freshDatabase(t)) })
}

func testUpstreamTLS(t *testing.T, storeURL string) {
	ca, otherCA := testpki.NewCA(t, "billing CA"), testpki.NewCA(t, "ledger CA")
	billing := httpsUpstream(t, ca, ca)
	ledger := httpsUpstream(t, otherCA, nil)
	dir := t.TempDir()
	caFile := testpki.WriteFile(t, dir, "ca.pem", ca.PEM)
	ledgerCAFile := testpki.WriteFile(t, dir, "ledger-ca.pem", ca.PEM) // the wrong CA, for now
	cert, key := ca.Issue(t, "portcullis")
	certFile, keyFile := testpki.WriteFile(t, dir, "client.pem", cert), testpki.WriteFile(t, dir, "client.key", key)

	g := startGatewayOn(t, storeURL, fmt.Sprintf(`
apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: billing, match: {pathPrefix: /billing}, to: billing-internal}
    - {name: ledger, match: {pathPrefix: /ledger}, to: ledger-internal}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: billing-internal}
spec:
  url: %s
  tls: {caFile: %s, certFile: %s, keyFile: %s}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: ledger-internal}
spec:
  url: %s
  tls: {caFile: %s}
`, billing.URL, caFile, certFile, keyFile, ledger.URL, ledgerCAFile), "public")

	resp, body := get(t, g.url("public")+"/billing/x")
	if resp.StatusCode != http.StatusOK || string(body) != "/billing/x from portcullis" {
		t.Fatalf("billing: %d %q", resp.StatusCode, body)
	}

	resp, body = get(t, g.url("public")+"/ledger/x")
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("ledger with the wrong CA: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	host := strings.TrimPrefix(ledger.URL, "https://")
	for _, secret := range []string{"ledger-internal", host, "127.0.0.1", "certificate", "x509"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the 502 names %q: %s", secret, body)
		}
	}
	// The log line follows the answer.
	g.waitLog("request failed", 1)
	logged := false
	for _, rec := range g.logRecords() {
		cause, _ := rec["cause"].(string)
		if rec["level"] == "WARN" && rec["msg"] == "request failed" && strings.Contains(cause, "ledger-internal") &&
			strings.Contains(cause, host) && strings.Contains(cause, "tls handshake") && strings.Contains(cause, "unknown authority") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no WARN with the cause; log:\n%s", g.stderr.String())
	}

	writeFile(t, ledgerCAFile, string(otherCA.PEM))
	g.signal(syscall.SIGHUP)
	g.waitLog("policy reloaded", 1)
	resp, body = get(t, g.url("public")+"/ledger/x")
	if resp.StatusCode != http.StatusOK || string(body) != "/ledger/x from none" {
		t.Fatalf("ledger after its CA was fixed and SIGHUP: %d %q", resp.StatusCode, body)
	}
}
