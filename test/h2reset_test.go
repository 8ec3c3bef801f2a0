package test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"github.com/portcullis/portcullis/internal/testpki"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHTTP2RapidReset: a connection that opens streams and resets them at
// once, faster than their handlers can finish (CVE-2023-44487), gets GOAWAY
// ENHANCE_YOUR_CALM; another connection is served meanwhile.
func TestHTTP2RapidReset(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	}))
	defer slow.Close()
	ca := testpki.NewCA(t, "e2e CA")
	dir := t.TempDir()
	cert, key := ca.Issue(t, "gateway", "127.0.0.1")
	writeFile(t, filepath.Join(dir, "cert.pem"), string(cert))
	writeFile(t, filepath.Join(dir, "key.pem"), string(key))
	g := startGateway(t, httpsPolicy(slow.URL, fmt.Sprintf("{certFile: %[1]s/cert.pem, keyFile: %[1]s/key.pem}", dir)), "secure")
	addr := g.listeners["secure"]

	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {":path", "/slow"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := hb.Bytes()
	goaway := make(chan http2.ErrCode, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				close(goaway)
				return
			}
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				goaway <- ga.ErrCode
				return
			}
		}
	}()
	for id := uint32(1); id < 2*5000; id += 2 {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			break // the server hung up
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
	}
	select {
	case code, ok := <-goaway:
		if !ok || code != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("the abusive connection ended with %v (GOAWAY received: %v), want GOAWAY ENHANCE_YOUR_CALM", code, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no GOAWAY after 5,000 rapid resets")
	}

	// Another connection is unaffected.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + addr + "/other")
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("another connection: %v %v", err, resp)
	}
	resp.Body.Close()
}
