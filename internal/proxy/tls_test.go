package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/testpki"
)

// tlsUpstream starts an https upstream with a certificate from ca for
// upstream.test and 127.0.0.1, answering with what it saw of the TLS
// connection; adjust (may be nil) changes its TLS configuration.
func tlsUpstream(t *testing.T, ca *testpki.CA, adjust func(*tls.Config)) *url.URL {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s over %s, ALPN %s, SNI %s, client %s", r.Proto, tls.VersionName(r.TLS.Version),
			r.TLS.NegotiatedProtocol, r.TLS.ServerName, client)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.KeyPair(t, "upstream", "upstream.test", "127.0.0.1")}}
	if adjust != nil {
		adjust(srv.TLS)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return mustURL(t, srv.URL)
}

// tlsGateway forwards to target as Service "secret-svc" with the tls
// settings s.
func tlsGateway(t *testing.T, target *url.URL, s ClientTLS) *gateway {
	t.Helper()
	cfg, _, err := LoadTLS(s)
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUpstream(UpstreamConfig{Name: "secret-svc", Targets: []*url.URL{target}, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return newGateway(t, u, nil)
}

func TestUpstreamTLS(t *testing.T) {
	ca, other := testpki.NewCA(t, "upstream CA"), testpki.NewCA(t, "another CA")
	dir := t.TempDir()
	caFile := testpki.WriteFile(t, dir, "ca.pem", ca.PEM)
	otherCAFile := testpki.WriteFile(t, dir, "other-ca.pem", other.PEM)
	clientCert, clientKey := ca.Issue(t, "gateway")
	certFile := testpki.WriteFile(t, dir, "client.pem", clientCert)
	keyFile := testpki.WriteFile(t, dir, "client.key", clientKey)

	requireClientCert := func(c *tls.Config) { c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, ca.Pool() }
	selfSigned := func(c *tls.Config) {
		c.Certificates = []tls.Certificate{testpki.NewCA(t, "self").KeyPair(t, "self-signed", "127.0.0.1")}
	}
	oldTLS := func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }

	for _, tc := range []struct {
		name     string
		server   func(*tls.Config)
		settings ClientTLS
		want     string // the upstream's answer, or "" for a 502
		cause    any    // a pointer to the error type the 502's cause holds, when one is named
		logged   string // what the 502's cause says in the log; default "connect: tls handshake: "
	}{
		{"verified against caFile", nil, ClientTLS{CAFile: caFile},
			"HTTP/1.1 over TLS 1.3, ALPN http/1.1, SNI , client none", nil, ""},
		{"serverName is the SNI and the name verified", nil, ClientTLS{CAFile: caFile, ServerName: "upstream.test"},
			"HTTP/1.1 over TLS 1.3, ALPN http/1.1, SNI upstream.test, client none", nil, ""},
		{"system roots only without caFile", nil, ClientTLS{}, "", &x509.UnknownAuthorityError{}, ""},
		{"unknown CA", nil, ClientTLS{CAFile: otherCAFile}, "", &x509.UnknownAuthorityError{}, ""},
		{"wrong serverName", nil, ClientTLS{CAFile: caFile, ServerName: "elsewhere.test"}, "", &x509.HostnameError{}, ""},
		{"client certificate presented", requireClientCert, ClientTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile},
			"HTTP/1.1 over TLS 1.3, ALPN http/1.1, SNI , client gateway", nil, ""},
		// TLS 1.3 servers check the client's certificate after the client's
		// handshake is done: the refusal comes with the response.
		{"client certificate required, none", requireClientCert, ClientTLS{CAFile: caFile}, "", nil, "exchange: remote error: tls: certificate required"},
		{"insecureSkipVerify accepts a self-signed certificate", selfSigned, ClientTLS{InsecureSkipVerify: true},
			"HTTP/1.1 over TLS 1.3, ALPN http/1.1, SNI , client none", nil, ""},
		{"self-signed refused without it", selfSigned, ClientTLS{}, "", &x509.UnknownAuthorityError{}, ""},
		{"TLS 1.1 refused", oldTLS, ClientTLS{CAFile: caFile}, "", nil, "connect: tls handshake: remote error: tls: protocol version not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tlsUpstream(t, ca, tc.server)
			g := tlsGateway(t, target, tc.settings)
			resp, body := g.get(t, "/")
			o := g.outcome(t)
			if tc.want != "" {
				if resp.StatusCode != http.StatusOK || body != tc.want {
					t.Fatalf("got %d %q (%v), want %q", resp.StatusCode, body, o.err, tc.want)
				}
				return
			}
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s %q, want a 502 problem", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			for _, secret := range []string{target.Host, target.Hostname(), target.Port(), "secret-svc", "upstream.test", "x509", "tls"} {
				if strings.Contains(body, secret) {
					t.Errorf("the client's answer names %q: %s", secret, body)
				}
			}
			logged := tc.logged
			if logged == "" {
				logged = "connect: tls handshake: "
			}
			var pe *Error
			if !errors.As(o.err, &pe) || pe.Service != "secret-svc" || pe.Addr != target.Host || !strings.Contains(pe.Error(), logged) {
				t.Errorf("cause for the log = %v", o.err)
			}
			if tc.cause != nil && !errors.As(o.err, tc.cause) {
				t.Errorf("cause %v holds no %T", o.err, tc.cause)
			}
		})
	}
}

// The transport speaks HTTP/1.1 only: an upstream that prefers h2 still gets
// HTTP/1.1, and connections are pooled as for plain http.
func TestUpstreamTLSNeverNegotiatesH2(t *testing.T) {
	ca := testpki.NewCA(t, "upstream CA")
	target := tlsUpstream(t, ca, func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} })
	g := tlsGateway(t, target, ClientTLS{CAFile: testpki.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)})
	for range 2 {
		if resp, body := g.get(t, "/"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "HTTP/1.1 over TLS 1.3, ALPN http/1.1") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
}

// TLS 1.2 is the minimum even when the configuration given asks for less.
func TestUpstreamTLSMinimumVersion(t *testing.T) {
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{mustURL(t, "https://a.test")},
		TLS: &tls.Config{MinVersion: tls.VersionTLS10, NextProtos: []string{"h2"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	c := u.targets[0].tls
	if c.MinVersion != tls.VersionTLS12 || len(c.NextProtos) != 1 || c.NextProtos[0] != "http/1.1" || c.ServerName != "a.test" {
		t.Errorf("min version %x, ALPN %q, server name %q", c.MinVersion, c.NextProtos, c.ServerName)
	}
}

// The dial timeout bounds the handshake: an upstream that accepts the
// connection and never answers the ClientHello is given up on in time.
func TestUpstreamTLSHandshakeTimeout(t *testing.T) {
	silent := newRawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	target := silent.url()
	target.Scheme = "https"
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{target}, DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	start := time.Now()
	_, err = u.Forward(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://gw/", nil), &Forwarding{Path: "/"})
	if e := httperr.As(err); err == nil || e.Status != http.StatusGatewayTimeout {
		t.Errorf("err = %v, want a 504", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

func TestWebSocketOverTLS(t *testing.T) {
	ca := testpki.NewCA(t, "upstream CA")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.KeyPair(t, "upstream", "127.0.0.1")}}
	heads := make(chan []string, 1)
	echo := echoUpgrade(heads)
	srv := newRawServer(t, func(c net.Conn) { echo(tls.Server(c, serverTLS)) })
	target := srv.url()
	target.Scheme = "https"
	cfg, _, err := LoadTLS(ClientTLS{CAFile: testpki.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)})
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUpstream(UpstreamConfig{Name: "svc", Targets: []*url.URL{target}, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) { f.AllowWebSocket = true })

	c, err := net.Dial("tcp", g.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, wsHandshake)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answer: %v %v", resp, err)
	}
	io.WriteString(c, "over TLS")
	want := "welcome;over TLS"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	if head := <-heads; !hasLine(head, "Upgrade: websocket") {
		t.Errorf("upstream handshake: %q", head)
	}
}

func TestLoadTLS(t *testing.T) {
	ca := testpki.NewCA(t, "CA")
	dir := t.TempDir()
	caFile := testpki.WriteFile(t, dir, "ca.pem", ca.PEM)
	cert, key := ca.Issue(t, "gateway")
	certFile, keyFile := testpki.WriteFile(t, dir, "c.pem", cert), testpki.WriteFile(t, dir, "k.pem", key)
	notPEM := testpki.WriteFile(t, dir, "not.pem", []byte("hello"))
	missing := dir + "/missing.pem"

	for _, tc := range []struct {
		s     ClientTLS
		field string
		msg   string
	}{
		{ClientTLS{CAFile: missing}, "caFile", "tls.caFile: open " + missing + ": no such file or directory"},
		{ClientTLS{CAFile: notPEM}, "caFile", "tls.caFile: " + notPEM + " holds no PEM certificate"},
		{ClientTLS{CertFile: certFile}, "keyFile", "tls.keyFile: not set"},
		{ClientTLS{CertFile: missing, KeyFile: keyFile}, "certFile", "tls.certFile: open " + missing + ": no such file or directory"},
		{ClientTLS{CertFile: certFile, KeyFile: caFile}, "certFile", "tls.certFile: " + certFile + " with key " + caFile + ": tls: found a certificate rather than a key in the PEM for the private key"},
	} {
		_, _, err := LoadTLS(tc.s)
		var fe *TLSFileError
		if !errors.As(err, &fe) || fe.Field != tc.field || err.Error() != tc.msg {
			t.Errorf("LoadTLS(%+v) = %v, want %s: %s", tc.s, err, tc.field, tc.msg)
		}
	}

	full := ClientTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "up.test"}
	cfg, digest, err := LoadTLS(full)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "up.test" || cfg.InsecureSkipVerify {
		t.Errorf("config: %+v", cfg)
	}
	// The digest follows the settings and the files' contents, not their
	// names.
	digestOf := func(s ClientTLS) string {
		t.Helper()
		_, d, err := LoadTLS(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := digestOf(full); d != digest {
		t.Error("the same settings and files gave another digest")
	}
	moved := full
	moved.CAFile = testpki.WriteFile(t, dir, "ca-copy.pem", ca.PEM)
	if d := digestOf(moved); d != digest {
		t.Error("the same CA under another name gave another digest")
	}
	for name, change := range map[string]func(*ClientTLS){
		"serverName":         func(s *ClientTLS) { s.ServerName = "other.test" },
		"insecureSkipVerify": func(s *ClientTLS) { s.InsecureSkipVerify = true },
		"no client cert":     func(s *ClientTLS) { s.CertFile, s.KeyFile = "", "" },
		"no caFile":          func(s *ClientTLS) { s.CAFile = "" },
	} {
		s := full
		change(&s)
		if digestOf(s) == digest {
			t.Errorf("%s changed, the digest did not", name)
		}
	}
	if err := os.WriteFile(caFile, testpki.NewCA(t, "rotated").PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if digestOf(full) == digest {
		t.Error("the CA file's content changed, the digest did not")
	}
}
