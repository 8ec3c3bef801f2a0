package http1

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// manyTinyChunks is a chunked body of n one-byte chunks, each with an
// extension of extLen bytes, then the last chunk.
func manyTinyChunks(n, extLen int) string {
	chunk := "1;" + strings.Repeat("e", extLen-1) + "\r\nx\r\n"
	return strings.Repeat(chunk, n) + "0\r\n\r\n"
}

// TestChunkedDecoder pins the chunked decoder on its own: what it takes
// (extensions and trailers dropped, LF-only chunk lines, any hex case,
// whitespace before an extension) and the error each malformed body
// ends with.
func TestChunkedDecoder(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // the data read before the body ended
		wantErr error  // io.EOF: the body ended well
		rest    string // what is left in the connection after
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", io.EOF, ""},
		{"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", io.EOF, ""},
		{"empty body", "0\r\n\r\n", "", io.EOF, ""},
		{"extensions dropped", "5;a=b;c\r\nhello\r\n6 ; name=\"v\"\r\n world\r\n0;last\r\n\r\n", "hello world", io.EOF, ""},
		{"trailers dropped", "5\r\nhello\r\n0\r\nX-Trailer: t\r\nY: u\r\n\r\n", "hello", io.EOF, ""},
		{"LF-only chunk lines", "5\nhello\r\n0\n\n", "hello", io.EOF, ""},
		{"hex either case", "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", "01234567890123456789", io.EOF, ""},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", io.EOF, ""},
		{"the next request is left alone", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hello", io.EOF, "GET / HTTP/1.1\r\n"},
		{"large chunks pay for their extensions", strings.Repeat("64;"+strings.Repeat("e", 50)+"\r\n"+strings.Repeat("d", 100)+"\r\n", 500) + "0\r\n\r\n", strings.Repeat("d", 50000), io.EOF, ""},
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"empty size line", "\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"space before the size", " 5\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"junk after the size", "5x\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"control character in an extension", "5;a=\x01\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"bare CR in the size line", "5\rX\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"missing CRLF after data", "5\r\nhelloXX0\r\n\r\n", "hello", errChunkCRLF, ""},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", "hello", errChunkCRLF, ""},
		{"data longer than its size", "3\r\nhello\r\n0\r\n\r\n", "hel", errChunkCRLF, ""},
		{"size overflowing int64", "fffffffffffffffff\r\nx\r\n", "", errChunkLine, ""},
		{"size of 16 hex digits over int64", "8000000000000000\r\nx\r\n", "", errChunkLine, ""},
		{"extension line longer than 4 KiB", "5;" + strings.Repeat("e", 5000) + "\r\nhello\r\n0\r\n\r\n", "", errChunkLine, ""},
		{"many tiny chunks with 100-byte extensions", manyTinyChunks(400, 100), strings.Repeat("x", 192), errChunkOverhead, ""},
		{"truncated data", "5\r\nhel", "hel", io.ErrUnexpectedEOF, ""},
		{"truncated before the CRLF", "5\r\nhello", "hello", io.ErrUnexpectedEOF, ""},
		{"no last chunk", "5\r\nhello\r\n", "hello", io.ErrUnexpectedEOF, ""},
		{"truncated size line", "5", "", io.ErrUnexpectedEOF, ""},
		{"no empty line after the last chunk", "0\r\n", "", io.ErrUnexpectedEOF, ""},
		{"control character in a trailer", "0\r\nX: a\x00b\r\n\r\n", "", errTrailer, ""},
		{"trailer section over 16 KiB", "0\r\n" + strings.Repeat("X-T: "+strings.Repeat("t", 1000)+"\r\n", 20) + "\r\n", "", errTrailer, ""},
		{"trailer line over 4 KiB", "0\r\nX: " + strings.Repeat("t", 5000) + "\r\n\r\n", "", errTrailer, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.in)
			b := newTestBody(r, true, 0, false, io.Discard)
			got, err := readBody(b)
			if err == nil {
				err = io.EOF
			}
			if string(got) != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("read %q (%d bytes), %v; want %q, %v", shorten(got), len(got), err, shorten([]byte(tt.want)), tt.wantErr)
			}
			if tt.wantErr != io.EOF {
				if !b.w.closeAfter {
					t.Error("a malformed body does not close the connection")
				}
				if n, err2 := b.Read(make([]byte, 10)); n != 0 || err2 != err {
					t.Errorf("the error is not sticky: then %d, %v", n, err2)
				}
				return
			}
			if !b.done {
				t.Error("not done at its end")
			}
			rest, _ := io.ReadAll(b.c.br)
			if string(rest) != tt.rest {
				t.Errorf("left %q in the connection, want %q", rest, tt.rest)
			}
		})
	}
}

// readBody reads b to its end with varying read sizes: it returns the
// data and the error that ended it (nil for io.EOF).
func readBody(b *body) ([]byte, error) {
	var out bytes.Buffer
	sizes := []int{1, 7, 512, 3}
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := b.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

func shorten(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// TestChunkedDecoderOneByteAtATime pins that the decoder does not depend
// on how the bytes arrive: the same body fed one byte per read of the
// connection decodes the same.
func TestChunkedDecoderOneByteAtATime(t *testing.T) {
	in := "5;ext\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\nNEXT"
	b := newTestBody(iotest.OneByteReader(strings.NewReader(in)), true, 0, false, io.Discard)
	got, err := readBody(b)
	if string(got) != "hello world" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
	if rest, _ := io.ReadAll(b.c.br); string(rest) != "NEXT" {
		t.Errorf("left %q", rest)
	}
}

// TestFixedBody pins a Content-Length body: exactly its length is read,
// then io.EOF (with the last bytes or after them); a connection ending
// early is io.ErrUnexpectedEOF.
func TestFixedBody(t *testing.T) {
	b := newTestBody(strings.NewReader("hello worldGET"), false, 11, false, io.Discard)
	p := make([]byte, 64)
	n, err := b.Read(p)
	if string(p[:n]) != "hello world" || err != io.EOF {
		t.Fatalf("Read: %q, %v; want all of it and io.EOF", p[:n], err)
	}
	if n, err := b.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read after the end: %d, %v", n, err)
	}
	if rest, _ := io.ReadAll(b.c.br); string(rest) != "GET" {
		t.Errorf("left %q, want the next request", rest)
	}

	b = newTestBody(strings.NewReader("hel"), false, 5, false, io.Discard)
	got, err := readBody(b)
	if string(got) != "hel" || err != io.ErrUnexpectedEOF {
		t.Errorf("short body: %q, %v; want io.ErrUnexpectedEOF", got, err)
	}
	if !b.w.closeAfter {
		t.Error("a short body does not close the connection")
	}
}

// TestBodyClose pins that reads after Close fail, and that a zero-length
// read reads nothing.
func TestBodyClose(t *testing.T) {
	b := newTestBody(strings.NewReader("hello"), false, 5, false, io.Discard)
	if n, err := b.Read(nil); n != 0 || err != nil {
		t.Errorf("empty Read: %d, %v", n, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(make([]byte, 5)); err != errBodyClosed {
		t.Errorf("Read after Close: %v, want %v", err, errBodyClosed)
	}
}

// TestBodySendsContinueOnFirstRead pins that a body whose request expects
// 100-continue sends "100 Continue" on its first read, and only once.
func TestBodySendsContinueOnFirstRead(t *testing.T) {
	var out bytes.Buffer
	b := newTestBody(strings.NewReader("hello"), false, 5, true, &out)
	if out.Len() != 0 {
		t.Fatalf("sent %q before any read", out.String())
	}
	p := make([]byte, 2)
	for range 3 {
		_, _ = b.Read(p)
	}
	if got := out.String(); got != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Errorf("sent %q, want one 100 Continue", got)
	}
}

// TestServerReadsFixedBodyExactly pins that a Content-Length request body
// is read to exactly its length: the request pipelined behind it is
// served next.
func TestServerReadsFixedBodyExactly(t *testing.T) {
	bodies := make(chan string, 2)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			bodies <- "error: " + err.Error()
			return
		}
		bodies <- r.Method + " " + string(b)
		_, _ = w.Write(b)
	})})
	c := ts.dial()
	c.write("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world" +
		"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	for _, want := range []string{"POST hello world", "POST abc"} {
		if got := recv(t, bodies); got != want {
			t.Errorf("handler read %q, want %q", got, want)
		}
		if _, body := c.response(http.MethodPost); "POST "+body != want {
			t.Errorf("answer %q, want %q", body, want)
		}
	}
}

// TestServerReadsChunkedBody pins that a chunked request body is decoded,
// its extensions and trailers dropped (they appear neither in the body
// nor in the fields), and that the request pipelined behind it is served.
func TestServerReadsChunkedBody(t *testing.T) {
	type seen struct {
		body    string
		te      []string
		cl      int64
		trailer bool
	}
	got := make(chan seen, 2)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the body: %v", err)
		}
		_, tr := r.Header["X-Trailer"]
		got <- seen{string(b), r.TransferEncoding, r.ContentLength, tr || len(r.Trailer) > 0}
	})})
	c := ts.dial()
	c.write("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\nhello\r\n6;a=b;c\r\n world\r\n0;last\r\nX-Trailer: t\r\nY: u\r\n\r\n" +
		"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
	s := recv(t, got)
	if s.body != "hello world" || len(s.te) != 1 || s.te[0] != "chunked" || s.cl != -1 || s.trailer {
		t.Errorf("handler saw %+v", s)
	}
	c.response(http.MethodPost)
	if s := recv(t, got); s.body != "" {
		t.Errorf("next request's body %q", s.body)
	}
	c.response(http.MethodGet)
}

// TestServerMalformedChunkedBody pins that a malformed chunked request
// body makes the handler's read fail, and that the connection closes
// after the answer (which says so).
func TestServerMalformedChunkedBody(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n"},
		{"missing CRLF after data", "5\r\nhelloXX0\r\n\r\n"},
		{"overflowing size", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{"extension line longer than 4 KiB", "5;" + strings.Repeat("e", 5000) + "\r\nhello\r\n0\r\n\r\n"},
		{"many tiny chunks with 100-byte extensions", manyTinyChunks(400, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := make(chan error, 1)
			ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				errs <- err
				w.WriteHeader(http.StatusBadRequest)
			})})
			c := ts.dial()
			c.write("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
			written := c.writeAsync(tt.body)
			if err := recv(t, errs); !isBodyError(err) {
				t.Errorf("handler's read: %v, want a malformed-body error", err)
			}
			resp, _ := c.response(http.MethodPost)
			if resp.StatusCode != http.StatusBadRequest || !resp.Close {
				t.Errorf("answer %d, close %v; want 400 and Connection: close", resp.StatusCode, resp.Close)
			}
			c.expectClosed()
			<-written
		})
	}
}

// TestServerTruncatedBodyClosesConnection pins that a request body cut
// short by the client fails the handler's read with io.ErrUnexpectedEOF,
// and that the connection closes after the answer.
func TestServerTruncatedBodyClosesConnection(t *testing.T) {
	errs := make(chan error, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errs <- err
	})})
	c := ts.dial()
	c.write("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhel")
	_ = c.conn.(interface{ CloseWrite() error }).CloseWrite()
	if err := recv(t, errs); err != io.ErrUnexpectedEOF {
		t.Errorf("handler's read: %v, want io.ErrUnexpectedEOF", err)
	}
	if resp, _ := c.response(http.MethodPost); !resp.Close {
		t.Error("the answer does not say Connection: close")
	}
	c.expectClosed()
}

// TestServerDrainsSmallUnreadBody pins that a request body the handler
// did not read is drained, within 256 KiB, and the connection kept.
func TestServerDrainsSmallUnreadBody(t *testing.T) {
	for _, tt := range []struct{ name, head, body string }{
		{"fixed", "Content-Length: 5", "hello"},
		{"chunked", "Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"},
		{"just under the limit", "Content-Length: 262144", strings.Repeat("b", 256<<10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, &Server{Handler: okHandler})
			c := ts.dial()
			written := c.writeAsync("POST / HTTP/1.1\r\nHost: h\r\n" + tt.head + "\r\n\r\n" + tt.body)
			resp, _ := c.response(http.MethodPost)
			if resp.Close {
				t.Error("the answer says Connection: close")
			}
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			c.expectOpen()
		})
	}
}

// TestServerClosesOnLargeUnreadBody pins that a request body declared
// larger than 256 KiB and left unread closes the connection (the answer
// says so) rather than being read and dropped; a chunked one is drained
// up to the limit, then the connection closes too.
func TestServerClosesOnLargeUnreadBody(t *testing.T) {
	t.Run("declared", func(t *testing.T) {
		ts := startServer(t, &Server{Handler: okHandler})
		c := ts.dial()
		c.write("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 300000\r\n\r\nsome")
		resp, body := c.response(http.MethodPost)
		if !resp.Close || body != "ok" {
			t.Errorf("close %v, body %q; want Connection: close", resp.Close, body)
		}
		c.expectClosed()
	})
	t.Run("chunked", func(t *testing.T) {
		ts := startServer(t, &Server{Handler: okHandler})
		c := ts.dial()
		chunk := "10000\r\n" + strings.Repeat("c", 0x10000) + "\r\n"
		c.write("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
		written := c.writeAsync(strings.Repeat(chunk, 5) + "0\r\n\r\n")
		if _, body := c.response(http.MethodPost); body != "ok" {
			t.Errorf("body %q", body)
		}
		c.expectClosed()
		<-written
	})
}

// TestServerExpectContinue pins 100-continue: no "100 Continue" before the
// handler reads the body, one when it does, and the connection kept.
func TestServerExpectContinue(t *testing.T) {
	entered, release := newSignal(), newSignal()
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.fire()
		release.wait()
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})})
	c := ts.dial()
	c.write("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if !entered.wait() {
		t.Fatal("the handler did not run")
	}
	c.expectSilence(150 * time.Millisecond)
	release.fire()
	resp, _ := c.response(http.MethodPut)
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("status %d, want 100", resp.StatusCode)
	}
	c.write("hello")
	resp, body := c.response(http.MethodPut)
	if resp.StatusCode != http.StatusOK || body != "hello" || resp.Close {
		t.Errorf("answer %d %q close %v", resp.StatusCode, body, resp.Close)
	}
	c.expectOpen()
}

// TestServerExpectContinueUnread pins that a handler answering a
// 100-continue request without reading its body gets no 100 Continue
// sent, and that the connection closes after the answer (the client
// cannot tell whether to send the body).
func TestServerExpectContinueUnread(t *testing.T) {
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})})
	c := ts.dial()
	c.write("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	resp, _ := c.response(http.MethodPut)
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("answer %d close %v, want 401 with Connection: close", resp.StatusCode, resp.Close)
	}
	c.expectClosed()
}

// TestServerClosedUnreadBodyIsDrained pins Body.Close's promise ("what is
// left is drained, or the connection closed, once the handler returns"):
// a handler that closes a small body without reading it all — the
// common defer r.Body.Close() — keeps the connection, as the answer's
// lack of Connection: close announced. It fails today: drainBody reads
// through body.Read, which fails once the body is closed, so the
// connection closes after an answer that promised keep-alive.
func TestServerClosedUnreadBodyIsDrained(t *testing.T) {
	for _, read := range []int{0, 2} {
		ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer r.Body.Close()
			_, _ = io.ReadFull(r.Body, make([]byte, read))
			_, _ = io.WriteString(w, "ok")
		})})
		c := ts.dial()
		c.write("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
		resp, _ := c.response(http.MethodPost)
		if resp.Close {
			t.Fatalf("read %d bytes: the answer says Connection: close", read)
		}
		c.write("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, _, err := c.readResponse(http.MethodGet); err != nil {
			t.Errorf("read %d bytes then closed the body: the connection closed after an answer that kept it (%v)", read, err)
		}
	}
}
