package server

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// scanAll feeds stream to a fresh scanner step bytes at a time (all at once
// when step is 0) and claims one verdict per request in reqs, given as
// "METHOD TARGET".
func scanAll(stream string, step int, reqs ...string) []framingProblem {
	var s framingScanner
	s.init()
	if step == 0 {
		step = len(stream)
	}
	for i := 0; i < len(stream); i += step {
		s.feed([]byte(stream[i:min(i+step, len(stream))]))
	}
	var out []framingProblem
	for _, r := range reqs {
		method, target, _ := strings.Cut(r, " ")
		out = append(out, s.claim(method, target))
	}
	return out
}

func TestFramingScanner(t *testing.T) {
	const ok, unverified = framingOK, framingUnverified
	long := strings.Repeat("a", 5000)
	cases := []struct {
		name   string
		stream string
		reqs   []string
		want   []framingProblem
	}{
		{"plain GET", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", []string{"GET /x"}, []framingProblem{ok}},
		{"LF line ends", "GET /x HTTP/1.1\nHost: a\n\n", []string{"GET /x"}, []framingProblem{ok}},
		{"pipelined, sized body", "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nGET /\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, ok}},
		{"chunked body hides no head", "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"1a;ext=1\r\nGET /evil HTTP/1.1\r\nX: y\r\n\r\n0\r\nTrailer: x\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, ok}},
		{"CRLF after a POST body", "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, ok}},
		{"long other fields", "GET /x HTTP/1.1\r\nCookie: " + long + "\r\nX-Y: z\r\n\r\n", []string{"GET /x"}, []framingProblem{ok}},
		{"long request-target", "GET /" + long + " HTTP/1.1\r\n\r\n", []string{"GET /" + long}, []framingProblem{ok}},
		{"same Content-Length twice", "POST /a HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, ok}},

		{"Content-Length with chunked", "POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			[]string{"POST /a"}, []framingProblem{framingLengthAndChunked}},
		{"chunked then Content-Length", "POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
			[]string{"POST /a"}, []framingProblem{framingLengthAndChunked}},
		{"obs-fold", "GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", []string{"GET /a"}, []framingProblem{framingObsFold}},
		{"obs-fold with a tab", "GET /a HTTP/1.1\r\nX-A: b\r\n\tc\r\n\r\n", []string{"GET /a"}, []framingProblem{framingObsFold}},
		{"Transfer-Encoding in HTTP/1.0", "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]string{"POST /a"}, []framingProblem{framingTEInHTTP10}},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", []string{"PRI *"}, []framingProblem{framingVersion}},
		{"padded Content-Length", "POST /a HTTP/1.1\r\nContent-Length:" + strings.Repeat(" ", lineKeep) + "1\r\n\r\nx",
			[]string{"POST /a"}, []framingProblem{framingFieldTooLong}},
		// A refused head ends the scan: the connection closes after it.
		{"after a refusal", "GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"GET /a", "GET /b"}, []framingProblem{framingObsFold, unverified}},
		// A handler's request that is not the next head scanned.
		{"out of step", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"GET /bb", "GET /b"}, []framingProblem{unverified, unverified}},
		{"not scanned yet", "GET /a HTTP/1.1\r\nHost: a\r\n", []string{"GET /a"}, []framingProblem{unverified}},
		// After an upgrade the stream is no longer HTTP.
		{"websocket frames", "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x85abcdGET / HTTP/1.1\r\n\r\n",
			[]string{"GET /ws", "GET /"}, []framingProblem{ok, unverified}},
		// Malformed chunking: net/http refuses the body; nothing after it is
		// trusted.
		{"bad chunk size", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, unverified}},
		{"no CRLF after chunk data", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, unverified}},
		{"chunk size overflow", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, unverified}},
		{"negative chunk size", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, unverified}},
		{"chunk extension too long", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + long + "\r\nx\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /a", "GET /b"}, []framingProblem{ok, unverified}},
		{"unknown coding", "POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", []string{"POST /a"}, []framingProblem{ok}},
	}
	for _, c := range cases {
		for _, step := range []int{0, 1, 7} {
			got := scanAll(c.stream, step, c.reqs...)
			if !equalProblems(got, c.want) {
				t.Errorf("%s (step %d): %v, want %v", c.name, step, got, c.want)
			}
		}
	}
}

func equalProblems(a, b []framingProblem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFramingOverConnection serves pipelined requests through a real
// net/http server on an edgeListener: each handler claims its own head's
// verdict, and the refused one ends the connection.
func TestFramingOverConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ConnContext: withConn,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if herr := checkHTTP(r, framingConnOf(r), 1<<10); herr != nil {
				w.Header().Set("Connection", "close")
				w.WriteHeader(herr.Status)
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, r.URL.Path)
		}),
	}
	go func() { _ = srv.Serve(newEdgeListener(ln, slog.Default())) }()
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n0\r\n\r\n"+
		"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /4 HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"200 /1", "200 /2", "400 "} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("want %q: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if got := strings.TrimSpace(resp.Status[:3] + " " + string(body)); got != strings.TrimSpace(want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("the connection carried a request after an ambiguous one")
	}
}

// feeder is the connection under net/http's bufio.Reader in the fuzz
// target: it hands out at most step bytes per read and feeds the scanner
// what it hands out, as framingConn does.
type feeder struct {
	data []byte
	n    int // bytes handed out
	step int
	scan *framingScanner
}

func (f *feeder) Read(p []byte) (int, error) {
	if f.n == len(f.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), f.step)], f.data[f.n:])
	f.scan.feed(p[:n])
	f.n += n
	return n, nil
}

// headProblems is what a raw request head shows, found independently of the
// scanner: the set of problems it may report first.
func headProblems(head string) map[framingProblem]bool {
	out := map[framingProblem]bool{}
	lines := strings.Split(head, "\n")
	_, rest, _ := strings.Cut(strings.TrimSuffix(lines[0], "\r"), " ")
	_, proto, _ := strings.Cut(rest, " ")
	http10 := proto == "HTTP/1.0"
	if !http10 && (len(proto) != 8 || !strings.HasPrefix(proto, "HTTP/1.") || proto[7] < '1' || proto[7] > '9') {
		out[framingVersion] = true
	}
	length, encodings := false, false
	for _, l := range lines[1:] {
		raw := l
		if l = strings.TrimSuffix(l, "\r"); l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			out[framingObsFold] = true
			continue
		}
		name, _, _ := strings.Cut(l, ":")
		isLength, isTE := strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Transfer-Encoding")
		if (isLength || isTE) && len(raw) > lineKeep {
			out[framingFieldTooLong] = true
		}
		length, encodings = length || isLength, encodings || isTE
	}
	switch {
	case encodings && http10:
		out[framingTEInHTTP10] = true
	case encodings && length:
		out[framingLengthAndChunked] = true
	}
	return out
}

// FuzzFramingScanner runs a byte stream through net/http's request reader
// the way its server does (pipelined requests, bodies read to the end, CR
// and LF after a POST skipped) with the scanner under it, fed read by read.
// Every request net/http reads must get its own head's verdict: OK when
// the raw head is unambiguous, one of its problems otherwise. A verdict of
// "unverified" means the scanner lost track of a stream net/http followed.
func FuzzFramingScanner(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n\r\nGET / HTTP/1.0\n\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		if len(data) > 16<<10 {
			// Long enough for every state; longer inputs fed a byte at a
			// time only make bufio's line search quadratic.
			return
		}
		var scan framingScanner
		scan.init()
		src := &feeder{data: data, step: int(step) + 1, scan: &scan}
		br := bufio.NewReaderSize(src, 4096)
		afterPOST := false
		for {
			if afterPOST {
				peek, _ := br.Peek(4)
				n := 0
				for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
					n++
				}
				_, _ = br.Discard(n)
			}
			start := src.n - br.Buffered()
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			head := string(data[start : src.n-br.Buffered()])
			got, want := scan.claim(req.Method, req.RequestURI), headProblems(head)
			if len(want) == 0 && got != framingOK || len(want) > 0 && !want[got] {
				t.Fatalf("head %q: verdict %v, want one of %v", head, got, want)
			}
			if got != framingOK {
				return // the server closes the connection after the refusal
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			afterPOST = req.Method == http.MethodPost
		}
	})
}

// TestBytesHelpers checks the byte helpers the scanner shares with nothing
// else.
func TestBytesHelpers(t *testing.T) {
	if !equalFoldASCII([]byte("content-LENGTH"), "Content-Length") || equalFoldASCII([]byte("Content\rLength"), "Content-Length") {
		t.Error("equalFoldASCII")
	}
	for in, want := range map[string]int64{"0": 0, "9223372036854775807": 1<<63 - 1} {
		if n, ok := parseLength([]byte(in)); !ok || n != want {
			t.Errorf("parseLength(%q) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "9223372036854775808", "+1", "1 2", "0x1"} {
		if _, ok := parseLength([]byte(in)); ok {
			t.Errorf("parseLength(%q) accepted", in)
		}
	}
	if got := trimSpace([]byte(" \t5\r ")); !bytes.Equal(got, []byte("5")) {
		t.Errorf("trimSpace = %q", got)
	}
}

// BenchmarkFramingScanner is the scan of one typical request head and its
// claim, the cost every HTTP/1 request pays for the raw framing checks.
func BenchmarkFramingScanner(b *testing.B) {
	head := []byte("GET /api/v1/orders/42?expand=items HTTP/1.1\r\nHost: api.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Authorization: Bearer abc.def.ghi\r\nConnection: keep-alive\r\n\r\n")
	c := &framingConn{}
	c.scan.init()
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		c.mu.Lock()
		c.scan.feed(head)
		c.mu.Unlock()
		if c.claim("GET", "/api/v1/orders/42?expand=items") != framingOK {
			b.Fatal("refused")
		}
	}
}
