package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

func parseString(s string) (*responseHead, error) {
	var h responseHead
	_, err := readResponseHead(bufio.NewReader(strings.NewReader(s)), &h, nil)
	return &h, err
}

func TestParseHead(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		status     int
		length     int64
		chunked    bool
		close      bool
		stream     bool
		fr         framing
	}{
		{"minimal", "HTTP/1.1 200 OK\r\n\r\n", 200, -1, false, false, false, byClose},
		{"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", 404, 0, false, false, false, byLength},
		{"empty reason", "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n", 500, 0, false, false, false, byLength},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 3\n\n", 200, 3, false, false, false, byLength},
		{"repeated identical CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length:3\r\n\r\n", 200, 3, false, false, false, byLength},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", 200, -1, true, false, false, byChunks},
		{"close", "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 1\r\n\r\n", 200, 1, false, true, false, byLength},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 200, 1, false, true, false, byLength},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", 200, 1, false, false, false, byLength},
		{"event stream", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nContent-Length: 9\r\n\r\n", 200, 9, false, false, true, byLength},
		{"204 ignores framing", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", 204, 7, false, false, false, noBody},
		{"304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 304, -1, true, false, false, noBody},
		{"100", "HTTP/1.1 100 Continue\r\n\r\n", 100, -1, false, false, false, noBody},
		{"obs-text value", "HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\tbar\r\nContent-Length: 0\r\n\r\n", 200, 0, false, false, false, byLength},
		{"OWS trimmed", "HTTP/1.1 200 OK\r\nContent-Length: \t 2 \t\r\n\r\n", 200, 2, false, false, false, byLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseString(tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if h.status != tc.status || h.contentLength != tc.length || h.chunked != tc.chunked || h.close != tc.close ||
				h.eventStream != tc.stream || h.framing(false) != tc.fr {
				t.Errorf("got %+v", h)
			}
			if h.framing(true) != noBody {
				t.Error("a HEAD response has a body")
			}
		})
	}
}

func TestParseHeadRefuses(t *testing.T) {
	for _, head := range []string{
		"\r\n",
		"HTTP/1.1 200 OK",
		"HTTP/1.1 200 OK\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n\tfolded\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: b\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		if h, err := parseString(head); err == nil {
			t.Errorf("%q accepted: %+v", head, h)
		}
	}
}

func TestReadHeadLimits(t *testing.T) {
	long := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", maxHeadBytes) + "\r\n\r\n"
	if _, err := parseString(long); !errors.As(err, new(headError)) {
		t.Errorf("oversized head: %v", err)
	}
	// Lines longer than the reader's buffer are fine within the limit.
	fits := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 10000) + "\r\n\r\n"
	if h, err := parseString(fits); err != nil || len(h.fields[0].value) != 10000 {
		t.Errorf("10 kB field: %v", err)
	}
	// Nothing at all is told apart from a partial head.
	var h responseHead
	if buf, err := readResponseHead(bufio.NewReader(strings.NewReader("")), &h, nil); err != io.EOF || len(buf) != 0 {
		t.Errorf("empty: %v", err)
	}
	if buf, err := readResponseHead(bufio.NewReader(strings.NewReader("HTTP/1.1 200")), &h, nil); err != io.ErrUnexpectedEOF || len(buf) == 0 {
		t.Errorf("partial: %v", err)
	}
}

func TestCopyFields(t *testing.T) {
	h, err := parseString("HTTP/1.1 200 OK\r\n" +
		"content-type: text/html\r\n" +
		"Connection: X-Hop, keep-alive\r\n" +
		"x-hop: 1\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Trailer: X-Sum\r\n" +
		"Set-Cookie: a=1\r\n" +
		"set-cookie: b=2\r\n" +
		"Strict-Transport-Security: max-age=1\r\n" +
		"Content-Length: 12\r\n" +
		"Content-Length: 12\r\n" +
		"\r\n")
	if err != nil {
		t.Fatal(err)
	}
	dst := http.Header{"Strict-Transport-Security": {"max-age=31536000"}}
	h.copyFields(dst)
	want := http.Header{
		"Content-Type":              {"text/html"},
		"Set-Cookie":                {"a=1", "b=2"},
		"Strict-Transport-Security": {"max-age=31536000"},
		"Content-Length":            {"12"},
	}
	if len(dst) != len(want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	for k, v := range want {
		if !slices.Equal(dst[k], v) {
			t.Errorf("%s = %q, want %q", k, dst[k], v)
		}
	}
}

func TestCopyFieldsAllocations(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 02 Mar 2026 10:00:00 GMT\r\n" +
		"content-type: text/plain\r\ncontent-length: 3\r\netag: \"x\"\r\n\r\n"
	var h responseHead
	sr := strings.NewReader(raw)
	br := bufio.NewReader(sr)
	buf := make([]byte, 0, 4096)
	dst := make(http.Header, 16)
	allocs := testing.AllocsPerRun(100, func() {
		sr.Reset(raw)
		br.Reset(sr)
		clear(dst)
		var err error
		if buf, err = readResponseHead(br, &h, buf); err != nil {
			t.Fatal(err)
		}
		h.copyFields(dst)
	})
	// One string for the head, one slice for the values, even for lower-case
	// names of common fields.
	if allocs > 2 {
		t.Errorf("%v allocations per head, want 2", allocs)
	}
}

// FuzzReadResponseHead checks that the head parser never panics, that what
// it accepts is well formed, and that net/http's own parser agrees with
// everything it accepts.
func FuzzReadResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h responseHead
		buf, err := readResponseHead(bufio.NewReaderSize(bytes.NewReader(data), 4096), &h, nil)
		if len(buf) > maxHeadBytes+4096 {
			t.Fatalf("read %d bytes of head", len(buf))
		}
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 {
			t.Fatalf("status %d", h.status)
		}
		if h.chunked && h.contentLength >= 0 {
			t.Fatal("chunked with Content-Length")
		}
		for _, f := range h.fields {
			if !httpsyntax.ValidToken(f.name) || !httpsyntax.ValidFieldValue(f.value) || f.value != httpsyntax.TrimOWS(f.value) {
				t.Fatalf("bad field %q: %q", f.name, f.value)
			}
		}
		dst := http.Header{}
		h.copyFields(dst)
		for k := range dst {
			if equalFoldAny(k, hopByHop) || httpsyntax.HasToken(h.connection, k) {
				t.Fatalf("hop-by-hop %q copied", k)
			}
		}
		if h.status == http.StatusSwitchingProtocols || (h.status >= 200 && h.status != 204 && h.status != 304) {
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(buf)), nil)
			if err != nil {
				t.Fatalf("net/http refuses what was accepted: %v", err)
			}
			if resp.StatusCode != h.status || (h.contentLength >= 0 && resp.ContentLength != h.contentLength) {
				t.Fatalf("net/http reads %d (length %d), here %d (length %d)", resp.StatusCode, resp.ContentLength, h.status, h.contentLength)
			}
		}
	})
}
