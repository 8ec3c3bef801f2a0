package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"math"
	"net"
	"net/http"
	"sync"

	"github.com/portcullis/portcullis/internal/httperr"
)

// net/http's HTTP/1 server resolves some ambiguous requests instead of
// refusing them, and leaves no trace of it in the *http.Request: it drops a
// Content-Length sent beside Transfer-Encoding: chunked, joins an obs-fold
// continuation line to the field above it, and ignores Transfer-Encoding in
// an HTTP/1.0 request. CONTRACT §3 refuses all three (RFC 9112 §5.2, §6.1),
// so the raw bytes must be seen: every accepted connection is wrapped in a
// framingConn, whose scanner reads each request head as net/http does and
// follows each body's framing to the next head. The handler claims the
// verdict of its request's head before anything else. The scanner mirrors
// net/http on every request net/http accepts; where net/http refuses, it
// closes the connection itself, so what the scanner then thinks no longer
// matters.

// framingProblem is what a request's raw head shows wrong with its framing.
type framingProblem uint8

const (
	framingOK               framingProblem = iota
	framingObsFold                         // a field line continued on the next line
	framingLengthAndChunked                // Content-Length beside Transfer-Encoding
	framingTEInHTTP10                      // Transfer-Encoding in an HTTP/1.0 request
	framingVersion                         // a protocol version other than HTTP/1.x
	framingFieldTooLong                    // a Content-Length or Transfer-Encoding line too long to check
	framingUnverified                      // the scanner cannot tell which head this request came from
)

// detail is the public message of a refusal for p.
func (p framingProblem) detail() string {
	switch p {
	case framingObsFold:
		return "obsolete line folding in a header field"
	case framingLengthAndChunked:
		return "Content-Length together with Transfer-Encoding"
	case framingTEInHTTP10:
		return "Transfer-Encoding in an HTTP/1.0 request"
	case framingVersion:
		return "unsupported protocol version"
	case framingFieldTooLong:
		return "Content-Length or Transfer-Encoding field too long"
	default:
		return "request framing could not be verified"
	}
}

// framingError is the 400 for a request whose head p refuses. The connection
// is closed after it: the rest of what the client sent cannot be trusted to
// start at a message boundary.
func framingError(p framingProblem) *httperr.Error {
	e := httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "ambiguous request: "+p.detail(), nil)
	e.Header = http.Header{"Connection": {"close"}}
	return e
}

// newFramingConn wraps c, an HTTP/1 connection — cleartext, or over TLS
// with state — in a framingConn.
func newFramingConn(c net.Conn, state *tls.ConnectionState) *framingConn {
	fc := &framingConn{Conn: c, tls: state}
	fc.scan.init()
	return fc
}

// framingConn scans what net/http reads from a connection.
type framingConn struct {
	net.Conn
	// tls is the connection's TLS state when it runs over TLS: net/http
	// sees the wrapper, not the *tls.Conn, and leaves Request.TLS nil.
	tls  *tls.ConnectionState
	mu   sync.Mutex // net/http's background read may run beside the handler's claim
	scan framingScanner
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.scan.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// CloseWrite keeps net/http's half-close before it closes a connection (so
// that the client reads an error response instead of a reset).
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// claim returns the verdict on the head of the request with method and
// request-target, the oldest one not yet claimed.
func (c *framingConn) claim(method, target string) framingProblem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scan.claim(method, target)
}

type framingKey struct{}

type h2Key struct{}

// withConn is the servers' ConnContext: it makes a scanned HTTP/1
// connection, or an HTTP/2 one's TLS state, reachable from its requests.
func withConn(ctx context.Context, c net.Conn) context.Context {
	switch c := c.(type) {
	case *framingConn:
		return context.WithValue(ctx, framingKey{}, c)
	case *h2Conn:
		return context.WithValue(ctx, h2Key{}, &c.tls)
	}
	return ctx
}

// connTLS is the TLS state of the connection r arrived on (nil for
// cleartext), fc being framingConnOf(r): net/http sees our wrappers, not the
// *tls.Conn, and leaves r.TLS nil.
func connTLS(r *http.Request, fc *framingConn) *tls.ConnectionState {
	if fc != nil {
		return fc.tls
	}
	state, _ := r.Context().Value(h2Key{}).(*tls.ConnectionState)
	return state
}

// framingConnOf returns the scanned connection r arrived on, or nil.
func framingConnOf(r *http.Request) *framingConn {
	fc, _ := r.Context().Value(framingKey{}).(*framingConn)
	return fc
}

// scanState is where the scanner is in the byte stream.
type scanState uint8

const (
	scanStart       scanState = iota // before a request line (CR and LF skipped)
	scanRequestLine                  // in the request line
	scanFields                       // in the field lines
	scanBody                         // in a body of known length
	scanChunkLine                    // in a chunk-size line
	scanChunkData                    // in a chunk's data
	scanChunkEnd                     // in the CRLF after a chunk's data
	scanTrailer                      // in the trailer section
	scanLost                         // no longer following: what comes is not HTTP/1 as net/http reads it
)

const (
	// lineKeep is how much of a field line is kept when it spans reads:
	// enough for every Content-Length and Transfer-Encoding line a real
	// client sends.
	lineKeep = 128
	// maxChunkLine is net/http's longest chunk-size line, CRLF included.
	maxChunkLine = 4096
	// maxPending bounds the heads read ahead of their handlers. net/http
	// reads ahead by its 4 KiB buffer at most, so a few hundred shortest
	// heads at most; more means the scanner is not following net/http.
	maxPending = 1024
)

// headRecord is a scanned head waiting for its handler: the lengths of its
// method and request-target identify it to the claim, and problem is the
// verdict.
type headRecord struct {
	methodLen, targetLen int
	problem              framingProblem
}

// framingScanner follows a stream of HTTP/1 requests as net/http's server
// reads them: heads (request line and field lines, ending in CRLF or LF),
// and bodies framed by chunked or Content-Length. It keeps only the few
// bytes it needs, so a head or a line of any length costs no memory.
type framingScanner struct {
	state   scanState
	pending []headRecord // scanned heads, oldest first, from next on unclaimed
	next    int
	inline  [2]headRecord // pending's first storage: pipelining is rare

	// The head being scanned.
	rlPart    int // 0 method, 1 request-target, 2 protocol version
	methodLen int
	targetLen int
	proto     [9]byte
	protoLen  int
	problem   framingProblem
	http10    bool
	hasLength bool
	badLength bool // a Content-Length net/http cannot read
	length    int64
	encodings int  // Transfer-Encoding fields
	chunked   bool // the last Transfer-Encoding field says chunked

	// The line being scanned when it spans reads.
	line    [lineKeep]byte
	lineLen int // its whole length so far, kept or not

	// The body being skipped.
	remaining   uint64 // body or chunk data bytes left; the chunk size being read
	chunkDigits int
	chunkPart   chunkPart
	chunkLine   int // bytes of the chunk-size line so far
	crlfSeen    int // bytes of the CRLF after chunk data
}

func (s *framingScanner) init() { s.pending = s.inline[:0] }

// claim returns the verdict on the oldest unclaimed head, which must be the
// one of the request with method and target. A request that matches no
// scanned head is unverified: the scanner lost track, or net/http read a
// request the handler never saw.
func (s *framingScanner) claim(method, target string) framingProblem {
	if s.next == len(s.pending) {
		return framingUnverified
	}
	rec := s.pending[s.next]
	s.next++
	if s.next == len(s.pending) {
		s.pending, s.next = s.pending[:0], 0
	}
	if rec.methodLen != len(method) || rec.targetLen != len(target) {
		s.pending, s.next = s.pending[:0], 0
		s.lose()
		return framingUnverified
	}
	return rec.problem
}

// lose stops following the stream: every request not yet scanned will be
// unverified.
func (s *framingScanner) lose() { s.state = scanLost }

// feed scans the next bytes net/http read.
func (s *framingScanner) feed(p []byte) {
	for len(p) > 0 {
		switch s.state {
		case scanLost:
			return
		case scanStart:
			// net/http skips CR and LF left after a POST body; skipping them
			// everywhere is harmless, as net/http refuses them elsewhere.
			for len(p) > 0 && (p[0] == '\r' || p[0] == '\n') {
				p = p[1:]
			}
			if len(p) == 0 {
				return
			}
			if !tokenByte[p[0]] {
				// Not a method: another protocol after an upgrade, or garbage
				// that net/http refuses.
				s.lose()
				return
			}
			s.startHead()
		case scanRequestLine:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.requestLine(p)
				return
			}
			s.requestLine(p[:i])
			p = p[i+1:]
			s.endRequestLine()
		case scanFields, scanTrailer:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.keep(p)
				return
			}
			line, total := p[:i], s.lineLen+i
			if s.lineLen > 0 {
				s.keep(line)
				line = s.line[:min(total, lineKeep)]
			}
			s.lineLen = 0
			p = p[i+1:]
			if s.state == scanFields {
				s.fieldLine(line, total)
			} else if total == 0 || total == 1 && line[0] == '\r' {
				s.state = scanStart
			}
		case scanBody, scanChunkData:
			n := min(uint64(len(p)), s.remaining)
			s.remaining -= n
			p = p[n:]
			if s.remaining == 0 {
				if s.state == scanBody {
					s.state = scanStart
				} else {
					s.state, s.crlfSeen = scanChunkEnd, 0
				}
			}
		case scanChunkEnd:
			if p[0] != "\r\n"[s.crlfSeen] {
				s.lose()
				return
			}
			p = p[1:]
			if s.crlfSeen++; s.crlfSeen == 2 {
				s.startChunk()
			}
		case scanChunkLine:
			p = s.chunkSizeLine(p)
		}
	}
}

// startHead resets the per-head state at the first byte of a request line.
func (s *framingScanner) startHead() {
	s.state = scanRequestLine
	s.rlPart, s.methodLen, s.targetLen, s.protoLen = 0, 0, 0, 0
	s.problem, s.http10, s.hasLength, s.badLength, s.length, s.encodings, s.chunked = framingOK, false, false, false, 0, 0, false
	s.lineLen = 0
}

// requestLine scans part of a request line, splitting it as net/http does:
// method up to the first space, request-target up to the next, the rest
// the protocol version.
func (s *framingScanner) requestLine(seg []byte) {
	for len(seg) > 0 {
		switch s.rlPart {
		case 0, 1:
			i := bytes.IndexByte(seg, ' ')
			n := i
			if i < 0 {
				n = len(seg)
			}
			if s.rlPart == 0 {
				s.methodLen += n
			} else {
				s.targetLen += n
			}
			if i < 0 {
				return
			}
			seg = seg[i+1:]
			s.rlPart++
		default:
			if s.protoLen < len(s.proto) {
				copy(s.proto[s.protoLen:], seg)
			}
			s.protoLen += len(seg)
			return
		}
	}
}

// endRequestLine classifies the version, as net/http reads it: HTTP/1.0
// ignores Transfer-Encoding, HTTP/1.1 to 1.9 honour it, anything else is
// refused by net/http or is an HTTP/2 preface.
func (s *framingScanner) endRequestLine() {
	s.state = scanFields
	if s.rlPart != 2 {
		s.lose() // net/http refuses a request line without a version
		return
	}
	proto := s.proto[:min(s.protoLen, len(s.proto))]
	if s.protoLen <= len(s.proto) && len(proto) > 0 && proto[len(proto)-1] == '\r' {
		proto = proto[:len(proto)-1]
	}
	switch {
	case string(proto) == "HTTP/1.0":
		s.http10 = true
	case len(proto) == 8 && string(proto[:7]) == "HTTP/1." && proto[7] >= '1' && proto[7] <= '9':
	default:
		s.problem = framingVersion
	}
}

// keep adds part of a line that spans reads to s.line, as far as it fits.
func (s *framingScanner) keep(p []byte) {
	if s.lineLen < lineKeep {
		copy(s.line[s.lineLen:], p)
	}
	s.lineLen += len(p)
}

// fieldLine scans one field line of total bytes (LF excluded), of which line
// holds the first lineKeep or more. A Content-Length or Transfer-Encoding
// line longer than lineKeep is refused, however it arrived.
func (s *framingScanner) fieldLine(line []byte, total int) {
	long := total > lineKeep
	if !long && total > 0 && line[total-1] == '\r' {
		line = line[:total-1]
	}
	if len(line) == 0 {
		s.endHead()
		return
	}
	if line[0] == ' ' || line[0] == '\t' {
		s.flag(framingObsFold)
		return
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return // a name longer than what is kept, or no colon, which net/http refuses
	}
	isLength := equalFoldASCII(name, "Content-Length")
	if !isLength && !equalFoldASCII(name, "Transfer-Encoding") {
		return
	}
	if long {
		s.flag(framingFieldTooLong)
		return
	}
	value = trimSpace(value)
	if !isLength {
		s.encodings++
		s.chunked = equalFoldASCII(value, "chunked")
		return
	}
	n, ok := parseLength(value)
	if !ok || s.hasLength && n != s.length {
		// net/http refuses a bad or second, differing Content-Length,
		// unless an obs-fold line completes it: endHead decides.
		s.badLength = true
		return
	}
	s.hasLength, s.length = true, n
}

// flag records the first problem of the head being scanned.
func (s *framingScanner) flag(p framingProblem) {
	if s.problem == framingOK {
		s.problem = p
	}
}

// endHead records the head that just ended and moves on to its body, framed
// as net/http frames it. After a refused head the scanner stops: the
// connection is closed after the refusal.
func (s *framingScanner) endHead() {
	switch {
	case s.encodings > 0 && s.http10:
		s.flag(framingTEInHTTP10)
	case s.encodings > 0 && s.hasLength:
		s.flag(framingLengthAndChunked)
	}
	if s.problem == framingOK && s.badLength {
		s.lose() // net/http refuses this head and closes
		return
	}
	if len(s.pending)-s.next >= maxPending {
		s.lose()
		return
	}
	s.pending = append(s.pending, headRecord{methodLen: s.methodLen, targetLen: s.targetLen, problem: s.problem})
	switch {
	case s.problem != framingOK:
		s.lose()
	case s.encodings > 0:
		if s.encodings != 1 || !s.chunked {
			s.lose() // net/http answers 501 and closes
			return
		}
		s.startChunk()
	case s.length > 0:
		s.state, s.remaining = scanBody, uint64(s.length)
	default:
		s.state = scanStart
	}
}

// chunkPart is where a chunk-size line is: net/http reads it as hex digits,
// then optional whitespace or a ';' and an extension, then CRLF.
type chunkPart uint8

const (
	chunkHex chunkPart = iota
	chunkSpace
	chunkExtension
	chunkLF
)

func (s *framingScanner) startChunk() {
	s.state = scanChunkLine
	s.remaining, s.chunkDigits, s.chunkPart, s.chunkLine = 0, 0, chunkHex, 0
}

// chunkSizeLine scans a chunk-size line byte by byte, as net/http's chunked
// reader accepts it (at most 16 hex digits, whitespace only at the end of
// the line, CR only before the LF), and returns what follows it.
func (s *framingScanner) chunkSizeLine(p []byte) []byte {
	for len(p) > 0 {
		c := p[0]
		p = p[1:]
		if s.chunkLine++; s.chunkLine > maxChunkLine {
			s.lose()
			return nil
		}
		switch s.chunkPart {
		case chunkHex:
			if v := unhex(c); v >= 0 {
				if s.chunkDigits == 16 {
					s.lose()
					return nil
				}
				s.remaining = s.remaining<<4 | uint64(v)
				s.chunkDigits++
				continue
			}
			switch {
			case s.chunkDigits == 0:
				s.lose()
				return nil
			case c == ' ' || c == '\t':
				s.chunkPart = chunkSpace
			case c == ';':
				s.chunkPart = chunkExtension
			case c == '\r':
				s.chunkPart = chunkLF
			default:
				s.lose()
				return nil
			}
		case chunkSpace:
			switch c {
			case ' ', '\t':
			case '\r':
				s.chunkPart = chunkLF
			default:
				s.lose()
				return nil
			}
		case chunkExtension:
			switch c {
			case '\r':
				s.chunkPart = chunkLF
			case '\n':
				s.lose()
				return nil
			}
		case chunkLF:
			if c != '\n' {
				s.lose()
				return nil
			}
			if s.remaining == 0 {
				s.state, s.lineLen = scanTrailer, 0
			} else {
				s.state = scanChunkData
			}
			return p
		}
	}
	return p
}

// tokenByte marks the bytes of a token (RFC 9110 §5.6.2), as a method is.
var tokenByte = func() (t [256]bool) {
	for _, c := range "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" {
		t[c] = true
	}
	return t
}()

// equalFoldASCII reports whether b is s, ignoring the case of ASCII letters.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trimSpace trims what net/http trims around a field value: SP, HTAB, CR, LF.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// parseLength parses a Content-Length as net/http does: decimal digits only,
// within int64.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// unhex returns the value of a hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
