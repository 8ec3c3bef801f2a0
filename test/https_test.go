package test

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testpki"
)

// httpsPolicy is an HTTPS listener "secure" in front of upstream, with the
// tls block given (certificate paths relative to the config folder).
func httpsPolicy(upstream, tlsBlock string) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners:
    - name: secure
      port: 8443
      protocol: HTTPS
      tls: %s
  routes:
    - {name: open, match: {pathPrefix: /}, to: backend}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
`, tlsBlock, upstream)
}

// TestHTTPSListener: TLS 1.0 and 1.1 are refused, 1.2 (AEAD suites only)
// and 1.3 accepted; h2 and HTTP/1.1 are both negotiated and proxied; SNI
// picks among several certificates; HSTS is on every response, errors
// included; the upstream hears X-Forwarded-Proto https; and HTTP/1.1 over
// TLS gets the same framing checks as cleartext.
func TestHTTPSListener(t *testing.T) {
	ca := testpki.NewCA(t, "e2e CA")
	up, _ := echoUpstream(t)
	dir := t.TempDir()
	cert, key := ca.Issue(t, "gateway", "localhost", "127.0.0.1")
	otherCert, otherKey := ca.Issue(t, "other", "other.example")
	for name, b := range map[string][]byte{"cert.pem": cert, "key.pem": key, "other.pem": otherCert, "other.key": otherKey} {
		writeFile(t, filepath.Join(dir, name), string(b))
	}
	g := startGateway(t, httpsPolicy(up.URL, fmt.Sprintf(`{certFile: %[1]s/cert.pem, keyFile: %[1]s/key.pem,
        certificates: [{certFile: %[1]s/other.pem, keyFile: %[1]s/other.key}], hsts: {maxAge: 8760h, includeSubDomains: true}}`, dir)), "secure")
	addr := g.listeners["secure"]

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v}); err == nil {
			c.Close()
			t.Errorf("TLS version %x accepted", v)
		}
	}
	// TLS 1.2 with only CBC suites on offer: no suite in common.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}); err == nil {
		c.Close()
		t.Error("a CBC suite was accepted")
	}

	for _, tc := range []struct {
		name      string
		version   uint16
		h2        bool
		wantProto string
	}{
		{"TLS 1.2, HTTP/1.1", tls.VersionTLS12, false, "HTTP/1.1"},
		{"TLS 1.3, HTTP/1.1", tls.VersionTLS13, false, "HTTP/1.1"},
		{"TLS 1.2, h2", tls.VersionTLS12, true, "HTTP/2.0"},
		{"TLS 1.3, h2", tls.VersionTLS13, true, "HTTP/2.0"},
	} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tc.version, MaxVersion: tc.version}, ForceAttemptHTTP2: tc.h2}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := client.Get("https://" + addr + "/hello")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		echo := decodeEcho(t, body)
		if resp.StatusCode != 200 || resp.Proto != tc.wantProto || resp.TLS.Version != tc.version {
			t.Errorf("%s: %d %s TLS %x", tc.name, resp.StatusCode, resp.Proto, resp.TLS.Version)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
			t.Errorf("%s: HSTS %q", tc.name, got)
		}
		if got := echo.Headers["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "https" {
			t.Errorf("%s: X-Forwarded-Proto %v", tc.name, got)
		}
		tr.CloseIdleConnections()
	}

	// SNI: the other certificate for its name, the first for any other.
	for sni, want := range map[string]string{"other.example": "other", "localhost": "gateway", "": "gateway"} {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Errorf("SNI %q: %v", sni, err)
			continue
		}
		if got := c.ConnectionState().PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %q: served %q, want %q", sni, got, want)
		}
		c.Close()
	}

	// The gateway's own errors carry HSTS too, and ambiguous framing over
	// TLS is refused as in cleartext.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("ambiguous framing over TLS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestHTTPSCertificateReload: a certificate replaced on disk is served to
// new connections within 2 s while an open connection goes on; a broken
// replacement is logged and the loaded certificate keeps serving.
func TestHTTPSCertificateReload(t *testing.T) {
	ca := testpki.NewCA(t, "e2e CA")
	up, _ := echoUpstream(t)
	dir := t.TempDir()
	cert, key := ca.Issue(t, "first", "127.0.0.1")
	writeFile(t, filepath.Join(dir, "cert.pem"), string(cert))
	writeFile(t, filepath.Join(dir, "key.pem"), string(key))
	g := startGateway(t, httpsPolicy(up.URL, fmt.Sprintf("{certFile: %[1]s/cert.pem, keyFile: %[1]s/key.pem}", dir)), "secure")
	addr := g.listeners["secure"]

	served := func() string {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + addr + "/before")
	if err != nil || served() != "first" {
		t.Fatalf("before: %v", err)
	}
	resp.Body.Close()
	first := resp.TLS.PeerCertificates[0].SerialNumber

	cert2, key2 := ca.Issue(t, "second", "127.0.0.1")
	writeFile(t, filepath.Join(dir, "key.pem"), string(key2))
	writeFile(t, filepath.Join(dir, "cert.pem"), string(cert2))
	deadline := time.Now().Add(3 * time.Second)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was not served within 3 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The open connection was not dropped: the same one serves on.
	resp, err = client.Get("https://" + addr + "/after")
	if err != nil || resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(first) != 0 {
		t.Errorf("the open connection: %v", err)
	} else {
		resp.Body.Close()
	}

	writeFile(t, filepath.Join(dir, "cert.pem"), "not a certificate")
	g.waitLog("certificates not reloaded; the loaded ones keep serving", 1)
	if got := served(); got != "second" {
		t.Errorf("after a broken replacement: served %q", got)
	}
}

// TestMTLSListener: with clientCAFile, a client without a certificate, or
// with one from another CA, is refused at the handshake; one with a
// certificate of the CA is served.
func TestMTLSListener(t *testing.T) {
	ca, clients, stranger := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "client CA"), testpki.NewCA(t, "other CA")
	up, _ := echoUpstream(t)
	dir := t.TempDir()
	cert, key := ca.Issue(t, "gateway", "127.0.0.1")
	writeFile(t, filepath.Join(dir, "cert.pem"), string(cert))
	writeFile(t, filepath.Join(dir, "key.pem"), string(key))
	writeFile(t, filepath.Join(dir, "clients.pem"), string(clients.PEM))
	g := startGateway(t, httpsPolicy(up.URL, fmt.Sprintf("{certFile: %[1]s/cert.pem, keyFile: %[1]s/key.pem, clientCAFile: %[1]s/clients.pem}", dir)), "secure")

	request := func(client *testpki.CA) error {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		if client != nil {
			cp, kp := client.Issue(t, "alice")
			pair, err := tls.X509KeyPair(cp, kp)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
		resp, err := c.Get("https://" + g.listeners["secure"] + "/x")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := request(nil); err == nil {
		t.Error("no client certificate: served")
	}
	if err := request(stranger); err == nil {
		t.Error("a client certificate of another CA: served")
	}
	if err := request(clients); err != nil {
		t.Errorf("a client certificate of the CA: %v", err)
	}
}

// TestAdminTLS: with --admin-tls-cert, --admin-tls-key and
// --admin-client-ca the admin API answers only over TLS and only to a client
// with a certificate of the CA; the CLI reaches it with PORTCULLIS_ADMIN_URL
// https://…, PORTCULLIS_ADMIN_CA and a client certificate.
func TestAdminTLS(t *testing.T) {
	ca, clients := testpki.NewCA(t, "admin CA"), testpki.NewCA(t, "operators")
	up, _ := echoUpstream(t)
	dir := t.TempDir()
	cert, key := ca.Issue(t, "admin", "127.0.0.1")
	ccert, ckey := clients.Issue(t, "operator")
	for name, b := range map[string][]byte{"cert.pem": cert, "key.pem": key, "ca.pem": ca.PEM, "clients.pem": clients.PEM,
		"client.pem": ccert, "client.key": ckey} {
		writeFile(t, filepath.Join(dir, name), string(b))
	}
	g := startGatewayWith(t, "", []string{"--admin-tls-cert", filepath.Join(dir, "cert.pem"), "--admin-tls-key", filepath.Join(dir, "key.pem"),
		"--admin-client-ca", filepath.Join(dir, "clients.pem")}, monitorPolicy(up.URL, ""), "public")

	if resp, err := http.Get("http://" + g.admin + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("the admin API answered over cleartext HTTP")
		}
	}
	env := []string{"PORTCULLIS_ADMIN_URL=https://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken, "PORTCULLIS_ADMIN_CA=" + filepath.Join(dir, "ca.pem")}
	if code, _, _ := runWith(t, env, "block", "list"); code == 0 {
		t.Error("the CLI got in without a client certificate")
	}
	env = append(env, "PORTCULLIS_ADMIN_CLIENT_CERT="+filepath.Join(dir, "client.pem"), "PORTCULLIS_ADMIN_CLIENT_KEY="+filepath.Join(dir, "client.key"))
	if code, out, errOut := runWith(t, env, "block", "list"); code != 0 {
		t.Errorf("the CLI with a client certificate: exit %d\n%s%s", code, out, errOut)
	}
}

// TestMTLSIdentity: on a route with authentication type mtls the consumer
// is the one that declares the client certificate — by subject or by
// SHA-256 fingerprint — with its roles; a certificate of the CA that no
// consumer declares is refused 401.
func TestMTLSIdentity(t *testing.T) {
	ca, clients := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "client CA")
	up, _ := echoUpstream(t)
	dir := t.TempDir()
	cert, key := ca.Issue(t, "gateway", "127.0.0.1")
	writeFile(t, filepath.Join(dir, "cert.pem"), string(cert))
	writeFile(t, filepath.Join(dir, "key.pem"), string(key))
	writeFile(t, filepath.Join(dir, "clients.pem"), string(clients.PEM))
	alice, bob, carol := clients.KeyPair(t, "alice"), clients.KeyPair(t, "bob"), clients.KeyPair(t, "carol")
	bobSum := sha256.Sum256(bob.Certificate[0])
	g := startGateway(t, fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners:
    - name: secure
      port: 8443
      protocol: HTTPS
      tls: {certFile: %[1]s/cert.pem, keyFile: %[1]s/key.pem, clientCAFile: %[1]s/clients.pem}
  routes:
    - {name: api, match: {pathPrefix: /api}, to: backend, authentication: {type: mtls}, authorization: {roles: [reader]}}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %[2]s}
---
apiVersion: gateway/v1
kind: Consumer
metadata: {name: alice}
spec: {roles: [reader], certificates: [{subject: "CN=alice"}]}
---
apiVersion: gateway/v1
kind: Consumer
metadata: {name: bob}
spec: {roles: [writer], certificates: [{sha256: %[3]x}]}
`, dir, up.URL, bobSum), "secure")

	call := func(pair tls.Certificate) (int, echoed) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}}}, Timeout: 10 * time.Second}
		resp, err := c.Get("https://" + g.listeners["secure"] + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e echoed
		if resp.StatusCode == 200 {
			e = decodeEcho(t, body)
		}
		return resp.StatusCode, e
	}
	if status, echo := call(alice); status != 200 || fmt.Sprint(echo.Headers["X-Consumer-Name"]) != "[alice]" {
		t.Errorf("alice (by subject): %d, X-Consumer-Name %v", status, echo.Headers["X-Consumer-Name"])
	}
	if status, _ := call(bob); status != 403 {
		t.Errorf("bob (by fingerprint, without the role): %d, want 403", status)
	}
	if status, _ := call(carol); status != 401 {
		t.Errorf("carol (a certificate of the CA no consumer declares): %d, want 401", status)
	}
	var consumers []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(consumers) < 2; time.Sleep(50 * time.Millisecond) {
		consumers = nil
		for _, rec := range g.accessLog() {
			if c, _ := rec["consumer"].(string); c != "" {
				consumers = append(consumers, c)
			}
		}
	}
	if fmt.Sprint(consumers) != "[alice bob]" {
		t.Errorf("access log consumers %v, want alice then bob", consumers)
	}
}
