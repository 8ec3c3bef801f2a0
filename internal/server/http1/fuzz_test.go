package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// FuzzParseHead pins that parseHead never panics, and that a head it
// returns keeps its invariants (see checkHeadInvariants). The input is
// passed as it is: the server always hands parseHead LF-terminated heads,
// but parseHead must not rely on it. The seed corpus is in
// testdata/fuzz/FuzzParseHead.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\n",
		"POST /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-type: text/plain\r\nAccept: a\r\naccept: b\r\n",
		"POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\x00\x7f\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, pe := parseHead(s)
		if pe != nil {
			if h != nil {
				t.Fatalf("both a head and an error %q", pe.detail)
			}
			if pe.status != http.StatusBadRequest || pe.detail == "" {
				t.Fatalf("error with status %d, detail %q", pe.status, pe.detail)
			}
			return
		}
		if h == nil {
			t.Fatal("neither a head nor an error")
		}
		checkHeadInvariants(t, h)
	})
}

// checkHeadInvariants checks what must hold of any head parseHead
// returns, whatever its input.
func checkHeadInvariants(t *testing.T, h *head) {
	t.Helper()
	if !httpsyntax.ValidToken(h.method) {
		t.Errorf("method %q is not a token", h.method)
	}
	if h.target == "" || strings.ContainsFunc(h.target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		t.Errorf("target %q is empty or holds a space or control character", h.target)
	}
	if h.minor != 0 && h.minor != 1 {
		t.Errorf("minor version %d", h.minor)
	}
	if h.fields == nil {
		t.Fatal("nil fields")
	}
	for _, key := range []string{"Host", "Transfer-Encoding"} {
		if _, ok := h.fields[key]; ok {
			t.Errorf("%s left in the fields: %q", key, h.fields[key])
		}
	}
	for k, vs := range h.fields {
		if !httpsyntax.ValidToken(k) {
			t.Errorf("field name %q is not a token", k)
		}
		if canonicalKey(k) != k || http.CanonicalHeaderKey(k) != k {
			t.Errorf("field name %q is not canonical", k)
		}
		if len(vs) == 0 {
			t.Errorf("field %q without values", k)
		}
		for _, v := range vs {
			if !httpsyntax.ValidFieldValue(v) {
				t.Errorf("field %q value %q holds a control character", k, v)
			}
			if v != httpsyntax.TrimOWS(v) {
				t.Errorf("field %q value %q not trimmed", k, v)
			}
		}
	}
	if !httpsyntax.ValidFieldValue(h.host) || h.host != httpsyntax.TrimOWS(h.host) {
		t.Errorf("host %q holds a control character or OWS", h.host)
	}
	if h.chunked && h.contentLength >= 0 {
		t.Errorf("both chunked and Content-Length %d", h.contentLength)
	}
	if h.chunked && h.minor != 1 {
		t.Error("chunked in HTTP/1.0")
	}
	if h.contentLength < -1 {
		t.Errorf("contentLength %d", h.contentLength)
	}
	if h.contentLength >= 0 {
		vs := h.fields["Content-Length"]
		if n, ok := httpsyntax.ParseLength(strings.Join(vs, ",")); len(vs) != 1 || !ok || n != h.contentLength {
			t.Errorf("contentLength %d from Content-Length %q", h.contentLength, vs)
		}
	}
	if h.expectContinue && h.minor != 1 {
		t.Error("100-continue expected in HTTP/1.0")
	}
	if h.minor == 0 && h.fields["Connection"] == nil && !h.close {
		t.Error("HTTP/1.0 without Connection does not close")
	}
	if r := h.refusal; r != nil {
		switch r.Status {
		case http.StatusBadRequest, http.StatusExpectationFailed, http.StatusNotImplemented:
		default:
			t.Errorf("refusal with status %d", r.Status)
		}
		if r.Detail == "" {
			t.Error("refusal without detail")
		}
	}
}

// FuzzChunkedBody pins that the chunked decoder, fed arbitrary bytes as a
// request body, never panics, never returns more data than its input
// holds, keeps its end and its errors (EOF stays EOF, an error is
// sticky), does not depend on how large the reads are, and, when it and
// net/http's decoder both take a body, decodes the same data. The seed
// corpus is in testdata/fuzz/FuzzChunkedBody.
func FuzzChunkedBody(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=b\r\nhello\r\n6;c\r\n world\r\n0;last\r\nX-Trailer: t\r\n\r\n",
		"5\nhello\r\n0\n\n",
		"zz\r\nhello\r\n0\r\n\r\n",
		"5\r\nhelloXX0\r\n\r\n",
		"fffffffffffffffff\r\n",
		"1;" + strings.Repeat("x", 100) + "\r\na\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		small, smallErr := decodeChunked(t, data, 1)
		large, largeErr := decodeChunked(t, data, 8<<10)
		if !bytes.Equal(small, large) || smallErr != largeErr {
			t.Fatalf("1-byte reads: %q, %v; 8 KiB reads: %q, %v", small, smallErr, large, largeErr)
		}
		if largeErr != io.EOF {
			return
		}
		ref, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data)))
		if err == nil && !bytes.Equal(ref, large) {
			t.Fatalf("decoded %q, net/http decodes %q", large, ref)
		}
	})
}

// decodeChunked reads data as a chunked request body through the body
// type, readSize bytes at a time, and returns what it read and the error
// that ended it.
func decodeChunked(t *testing.T, data []byte, readSize int) ([]byte, error) {
	t.Helper()
	b := newTestBody(bytes.NewReader(data), true, 0, false, io.Discard)
	var out []byte
	p := make([]byte, readSize)
	for reads := 0; ; reads++ {
		if reads > len(data)+2 {
			t.Fatalf("no progress after %d reads of %d bytes", reads, readSize)
		}
		n, err := b.Read(p)
		if n < 0 || n > len(p) {
			t.Fatalf("Read returned %d for a buffer of %d", n, len(p))
		}
		out = append(out, p[:n]...)
		if len(out) > len(data) {
			t.Fatalf("decoded %d bytes out of %d", len(out), len(data))
		}
		if err == nil {
			continue
		}
		if n2, err2 := b.Read(p); n2 != 0 || err2 != err {
			t.Fatalf("after %v, Read returned %d, %v", err, n2, err2)
		}
		if err == io.EOF && !b.done || err != io.EOF && b.done {
			t.Fatalf("error %v with done %v", err, b.done)
		}
		if err != io.EOF && !isBodyError(err) {
			t.Fatalf("unexpected error %v", err)
		}
		return out, err
	}
}

// isBodyError reports whether err is one a malformed body ends with.
func isBodyError(err error) bool {
	for _, e := range []error{errChunkLine, errChunkCRLF, errChunkOverhead, errTrailer, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// newTestBody makes a request body reading from r through a connection's
// 4 KiB bufio.Reader, without a network connection: chunked, or of
// length n. 100 Continue, if expectContinue, is written to out.
func newTestBody(r io.Reader, chunked bool, n int64, expectContinue bool, out io.Writer) *body {
	c := &conn{srv: &Server{}}
	c.br = bufio.NewReaderSize(r, 4<<10)
	c.bw = bufio.NewWriterSize(out, 4<<10)
	w := &response{c: c, h: &head{minor: 1, contentLength: -1, expectContinue: expectContinue}, contentLength: -1}
	b := &body{c: c, w: w, chunked: chunked, left: n}
	w.body = b
	return b
}
