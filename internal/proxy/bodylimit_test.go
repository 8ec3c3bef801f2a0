package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
)

// TestForwardAbortsABodyOverItsLimit: a chunked body that crosses its limit
// while it streams ends the exchange. The upstream has received part of the
// request but never its last chunk, its connection is closed and not
// pooled, and the client is answered 413 with its own connection closed.
func TestForwardAbortsABodyOverItsLimit(t *testing.T) {
	received := make(chan []byte, 2)
	srv := newRawServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c) // until the gateway closes
		received <- b
	})
	u := newUpstream(t, srv.url())
	body := bytes.Repeat([]byte("x"), 64<<10)
	r := httptest.NewRequest(http.MethodPost, "http://gw/upload", io.MultiReader(bytes.NewReader(body)))
	r.ContentLength = -1 // sent chunked: nobody declared a length
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 40<<10)

	_, err := u.Forward(httptest.NewRecorder(), r, &Forwarding{Path: "/upload", Timeout: 5 * time.Second})
	e := httperr.As(err)
	if err == nil || e.Status != http.StatusRequestEntityTooLarge || e.Header.Get("Connection") != "close" {
		t.Fatalf("err = %v, header %v", err, e.Header)
	}
	var got []byte
	select {
	case got = <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection was not closed")
	}
	if !bytes.HasPrefix(got, []byte("POST /upload HTTP/1.1\r\n")) || !bytes.Contains(got, []byte("Transfer-Encoding: chunked\r\n")) {
		t.Fatalf("the upstream received %.200q", got)
	}
	if bytes.HasSuffix(got, []byte("\r\n0\r\n\r\n")) || len(got) > 41<<10+1024 {
		t.Errorf("the upstream received a whole request (%d bytes)", len(got))
	}
	if n := len(u.targets[0].idle); n != 0 {
		t.Errorf("%d connections pooled after an aborted request", n)
	}
}
