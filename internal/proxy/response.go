package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// maxHeadBytes bounds a response head: status line and header section.
const maxHeadBytes = 64 << 10

// maxInterim bounds the interim (1xx) responses skipped before the final one.
const maxInterim = 5

// headError reports a response head that is malformed or that frames its
// body ambiguously; the response is refused (502), never relayed.
type headError string

func (e headError) Error() string { return "proxy: malformed response head: " + string(e) }

// field is one header field of a response head.
type field struct{ name, value string }

// responseHead is one parsed response head. Its strings are substrings of a
// single string holding the whole head, so parsing allocates once.
type responseHead struct {
	status        int
	http10        bool   // HTTP/1.0: no persistence unless asked for
	contentLength int64  // -1 when absent
	lengthValue   string // the Content-Length field's value, as sent
	chunked       bool   // Transfer-Encoding: chunked
	close         bool   // the connection cannot carry another request
	eventStream   bool   // Content-Type: text/event-stream
	upgrade       string // the Upgrade field's value
	connection    []string
	fields        []field // every field, in order, hop-by-hop ones included
}

// readResponseHead reads and parses one response head from br into h. buf is
// scratch space for the raw head and is returned for reuse; when an error is
// returned, len(buf) tells whether any byte of a response arrived.
func readResponseHead(br *bufio.Reader, h *responseHead, buf []byte) ([]byte, error) {
	buf, err := readHeadBytes(br, buf)
	if err != nil {
		return buf, err
	}
	return buf, h.parse(string(buf))
}

// readHeadBytes reads lines into buf up to and including the empty line that
// ends a head.
func readHeadBytes(br *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(buf)+len(line) > maxHeadBytes {
			return append(buf, line...), headError("larger than 64 KiB")
		}
		buf = append(buf, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		if l := buf[lineStart:]; len(l) == 1 || (len(l) == 2 && l[0] == '\r') {
			if lineStart == 0 {
				return buf, headError("empty status line")
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// nextLine splits the first line off s, dropping its LF or CRLF ending. A CR
// anywhere else stays in the line, where the validators refuse it.
func nextLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// parse parses a whole head (status line, fields, empty line) per RFC 9112,
// refusing what a smuggling-proof recipient must: obs-fold, whitespace before
// a colon, invalid names or values, differing Content-Lengths, Content-Length
// with Transfer-Encoding, and transfer codings other than chunked.
func (h *responseHead) parse(s string) error {
	h.reset()
	line, rest := nextLine(s)
	if len(line) < len("HTTP/1.x 200") || line[:7] != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return headError("bad status line")
	}
	h.http10 = line[7] == '0'
	for _, c := range []byte(line[9:12]) {
		if c < '0' || c > '9' {
			return headError("bad status code")
		}
		h.status = h.status*10 + int(c-'0')
	}
	if h.status < 100 {
		return headError("bad status code")
	}
	if len(line) > 12 && (line[12] != ' ' || !httpsyntax.ValidFieldValue(line[13:])) {
		return headError("bad reason phrase")
	}

	keepAlive := false
	for {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return headError("obsolete line folding")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httpsyntax.ValidToken(name) {
			return headError("bad field name")
		}
		value = httpsyntax.TrimOWS(value)
		if !httpsyntax.ValidFieldValue(value) {
			return headError("bad field value")
		}
		switch {
		case strings.EqualFold(name, "Content-Length"):
			n, ok := httpsyntax.ParseLength(value)
			if !ok || (h.contentLength >= 0 && n != h.contentLength) {
				return headError("bad or conflicting Content-Length")
			}
			h.contentLength, h.lengthValue = n, value
		case strings.EqualFold(name, "Transfer-Encoding"):
			if h.chunked || !strings.EqualFold(value, "chunked") {
				return headError("unsupported Transfer-Encoding")
			}
			h.chunked = true
		case strings.EqualFold(name, "Connection"):
			h.connection = append(h.connection, value)
			h.close = h.close || httpsyntax.ListHas(value, "close")
			keepAlive = keepAlive || httpsyntax.ListHas(value, "keep-alive")
		case strings.EqualFold(name, "Upgrade"):
			h.upgrade = value
		case strings.EqualFold(name, "Content-Type"):
			h.eventStream = hasPrefixFold(value, "text/event-stream")
		}
		h.fields = append(h.fields, field{name, value})
	}
	if h.chunked && (h.contentLength >= 0 || h.http10) {
		return headError("Transfer-Encoding with Content-Length or in HTTP/1.0")
	}
	if h.http10 && !keepAlive {
		h.close = true
	}
	return nil
}

// reset empties h for the next response, keeping its slices' capacity but
// no reference into the previous head.
func (h *responseHead) reset() {
	clear(h.fields)
	clear(h.connection)
	*h = responseHead{contentLength: -1, fields: h.fields[:0], connection: h.connection[:0]}
}

// dropped reports whether the field named name stays on this hop: a
// hop-by-hop field, one the Connection field names, or Content-Length, which
// copyFields sets from the framing.
func (h *responseHead) dropped(name string) bool {
	return equalFoldAny(name, hopByHop) || strings.EqualFold(name, "Content-Length") || httpsyntax.HasToken(h.connection, name)
}

// copyFields adds the head's end-to-end fields to dst, the client response's
// header. A field the gateway has already set in dst (X-Request-Id, security
// headers) keeps the gateway's value. Content-Length is set once, from the
// parsed framing, when the response may declare one (not 1xx or 204).
func (h *responseHead) copyFields(dst http.Header) {
	preset := len(dst) > 0
	n := 0
	for i := range h.fields {
		f := &h.fields[i]
		if h.dropped(f.name) {
			f.name = ""
			continue
		}
		f.name = textproto.CanonicalMIMEHeaderKey(f.name)
		if preset {
			if _, ok := dst[f.name]; ok {
				f.name = ""
				continue
			}
		}
		n++
	}
	withLength := h.contentLength >= 0 && h.status >= 200 && h.status != http.StatusNoContent
	if withLength {
		n++
	}
	if n == 0 {
		return
	}
	values := make([]string, 0, n)
	for _, f := range h.fields {
		if f.name == "" {
			continue
		}
		if vv, ok := dst[f.name]; ok {
			dst[f.name] = append(vv, f.value)
			continue
		}
		values = append(values, f.value)
		dst[f.name] = values[len(values)-1 : len(values) : len(values)]
	}
	if withLength {
		values = append(values, h.lengthValue)
		dst["Content-Length"] = values[len(values)-1:]
	}
}

// framing is how a response body is delimited (RFC 9112 §6.3).
type framing int

const (
	noBody   framing = iota // HEAD, 1xx, 204, 304
	byChunks                // Transfer-Encoding: chunked
	byLength                // Content-Length
	byClose                 // read until the upstream closes
)

// framing returns how the body after h is delimited; isHEAD says the request
// was a HEAD, whose response never has one.
func (h *responseHead) framing(isHEAD bool) framing {
	switch {
	case isHEAD || h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		return noBody
	case h.chunked:
		return byChunks
	case h.contentLength >= 0:
		return byLength
	default:
		return byClose
	}
}

// streams reports whether the body should reach the client as it arrives,
// flushed after every read: server-sent events and bodies of unknown length.
func (h *responseHead) streams(fr framing) bool {
	return fr == byChunks || fr == byClose || (fr == byLength && h.eventStream)
}

// relayBody copies the response body framed as fr from the upstream to w. With
// flush, every read is flushed to the client at once. It reports the bytes
// written and whether the connection ended the body cleanly enough to carry
// another response; an error, from either side, means the body was not
// relayed whole.
func (c *conn) relayBody(w http.ResponseWriter, h *responseHead, fr framing, flush bool) (written int64, reusable bool, err error) {
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
		if err := flushTo(rc); err != nil {
			return 0, false, err
		}
	}
	var src io.Reader = c.br
	remaining := int64(-1) // unknown
	switch fr {
	case noBody:
		return 0, true, nil
	case byLength:
		remaining = h.contentLength
	case byChunks:
		src = httputil.NewChunkedReader(c.br)
	}
	var bp *[]byte
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
	for remaining != 0 {
		var p []byte
		var rerr error
		peeked := false
		if k := c.br.Buffered(); k > 0 && fr == byLength {
			// Hand what is already buffered straight to the client.
			p, _ = c.br.Peek(int(min(int64(k), remaining)))
			peeked = true
		} else {
			if bp == nil {
				bp = bufPool.Get().(*[]byte)
			}
			buf := *bp
			if remaining > 0 && remaining < int64(len(buf)) {
				buf = buf[:remaining]
			}
			var n int
			n, rerr = src.Read(buf)
			p = buf[:n]
			if rerr == io.EOF && fr == byLength {
				rerr = io.ErrUnexpectedEOF
			}
			if n == 0 && rerr != nil {
				if rerr == io.EOF {
					break
				}
				return written, false, rerr
			}
		}
		n, werr := w.Write(p)
		written += int64(n)
		if peeked {
			c.br.Discard(len(p))
		}
		if remaining > 0 {
			remaining -= int64(len(p))
		}
		if werr != nil {
			return written, false, werr
		}
		if flush {
			if err := flushTo(rc); err != nil {
				return written, false, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return written, false, rerr
		}
	}
	switch fr {
	case byChunks:
		return written, skipTrailers(c.br), nil
	case byClose:
		return written, false, nil
	}
	return written, true, nil
}

// flushTo flushes the client response; a writer that cannot flush is left to
// buffer as it does.
func flushTo(rc *http.ResponseController) error {
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// skipTrailers reads the trailer section that follows the last chunk (its
// fields are not relayed) and reports whether it ended well, so that the
// connection is positioned at the next response.
func skipTrailers(br *bufio.Reader) bool {
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err != nil || total > maxHeadBytes {
			return false
		}
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			return true
		}
	}
}
