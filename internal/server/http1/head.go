package http1

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// head is a request head as parsed from its bytes: the request line, the
// fields, and what they say about the message's framing.
type head struct {
	method, target string
	minor          int // the protocol's minor version: HTTP/1.0 or HTTP/1.1
	fields         http.Header
	host           string
	contentLength  int64 // -1: no Content-Length field
	chunked        bool  // Transfer-Encoding: chunked
	close          bool  // the client asked for the connection to close after this exchange
	expectContinue bool  // Expect: 100-continue
	// refusal is set when the head is well-formed but frames its message
	// ambiguously, or asks for what the server does not do: the request
	// still reaches the handler (see Refusal), without a body, and the
	// connection closes after the answer.
	refusal *Refusal
}

// Refusal is why the server will not take a request whose head it could
// parse: its status and public detail.
type Refusal struct {
	Status int
	Detail string
}

// parseError is a head the server cannot read as a request at all; it
// answers status itself and closes the connection.
type parseError struct {
	status int
	detail string
}

func (e *parseError) Error() string { return e.detail }

func badRequest(detail string) *parseError {
	return &parseError{status: http.StatusBadRequest, detail: detail}
}

// parseHead parses s, a request head without its final empty line: the
// request line and the field lines, each ending in LF or CRLF. It is
// strict where HTTP/1.1 lets a recipient choose (RFC 9112): whitespace
// between a field name and its colon, a bare CR, or control characters
// are errors; obs-fold, Content-Length beside Transfer-Encoding,
// Transfer-Encoding in HTTP/1.0, repeated or listed Content-Length,
// transfer codings other than a lone "chunked", and a missing or repeated
// Host in HTTP/1.1 are refusals. Field values are substrings of s, so the
// common request allocates one map and one slice for its fields.
func parseHead(s string) (*head, *parseError) {
	h := &head{contentLength: -1}
	line, rest := cutLine(s)
	if err := h.requestLine(line); err != nil {
		return nil, err
	}
	n := strings.Count(rest, "\n") + 1 // the last line may lack its LF
	h.fields = make(http.Header, n)
	values := make([]string, n)
	var hosts, transferEncodings, contentLengths int
	var connection []string
	for i := 0; rest != ""; i++ {
		line, rest = cutLine(rest)
		if line == "" {
			return nil, badRequest("malformed header field")
		}
		if line[0] == ' ' || line[0] == '\t' {
			h.refuse(http.StatusBadRequest, "obsolete line folding in a header field")
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, badRequest("malformed header field")
		}
		name := line[:colon]
		if !httpsyntax.ValidToken(name) {
			return nil, badRequest("invalid header field name")
		}
		value := httpsyntax.TrimOWS(line[colon+1:])
		if !httpsyntax.ValidFieldValue(value) {
			return nil, badRequest("invalid header field value")
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			if hosts++; hosts > 1 {
				h.refuse(http.StatusBadRequest, "more than one Host header")
			}
			h.host = value
		case "Content-Length":
			contentLengths++
		case "Transfer-Encoding":
			transferEncodings++
		case "Connection":
			connection = append(connection, value)
		case "Expect": // HTTP/1.0 requests' are ignored (RFC 9110 §10.1.1)
			switch {
			case h.minor == 0:
			case strings.EqualFold(value, "100-continue"):
				h.expectContinue = true
			default:
				h.refuse(http.StatusExpectationFailed, "unsupported Expect header")
			}
		}
		if vs, ok := h.fields[key]; ok {
			h.fields[key] = append(vs, value)
		} else {
			h.fields[key] = values[i : i+1 : i+1]
			values[i] = value
		}
	}
	h.framing(contentLengths, transferEncodings)
	h.connection(connection)
	if h.minor == 1 && hosts == 0 {
		h.refuse(http.StatusBadRequest, "missing Host header")
	}
	delete(h.fields, "Host") // it is Request.Host
	return h, nil
}

// requestLine parses "method SP request-target SP HTTP-version".
func (h *head) requestLine(line string) *parseError {
	sp1 := strings.IndexByte(line, ' ')
	sp2 := strings.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return badRequest("malformed request line")
	}
	h.method, h.target = line[:sp1], line[sp1+1:sp2]
	if !httpsyntax.ValidToken(h.method) {
		return badRequest("invalid method")
	}
	for i := 0; i < len(h.target); i++ {
		if c := h.target[i]; c <= ' ' || c == 0x7f {
			return badRequest("invalid request target")
		}
	}
	switch line[sp2+1:] {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		return badRequest("unsupported protocol version")
	}
	return nil
}

// framing checks the fields that say where the body ends.
func (h *head) framing(contentLengths, transferEncodings int) {
	if transferEncodings > 0 {
		switch {
		case h.minor == 0:
			h.refuse(http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request")
		case contentLengths > 0:
			h.refuse(http.StatusBadRequest, "Content-Length together with Transfer-Encoding")
		case transferEncodings > 1 || !strings.EqualFold(h.fields["Transfer-Encoding"][0], "chunked"):
			h.refuse(http.StatusNotImplemented, "unsupported Transfer-Encoding")
		default:
			h.chunked = true
		}
		delete(h.fields, "Transfer-Encoding") // it is Request.TransferEncoding
		return
	}
	if contentLengths == 0 {
		return
	}
	n, ok := httpsyntax.ParseLength(h.fields["Content-Length"][0])
	if contentLengths > 1 || !ok {
		h.refuse(http.StatusBadRequest, "invalid Content-Length")
		return
	}
	h.contentLength = n
}

// connection reads the Connection field's options: whether the connection
// stays open after this exchange.
func (h *head) connection(values []string) {
	keepAlive := false
	for _, v := range values {
		for v != "" {
			var opt string
			opt, v, _ = strings.Cut(v, ",")
			opt = httpsyntax.TrimOWS(opt)
			switch {
			case strings.EqualFold(opt, "close"):
				h.close = true
			case strings.EqualFold(opt, "keep-alive"):
				keepAlive = true
			}
		}
	}
	if h.minor == 0 && !keepAlive {
		h.close = true
	}
}

// refuse records the first refusal; the rest of the head is still parsed.
func (h *head) refuse(status int, detail string) {
	if h.refusal == nil {
		h.refusal = &Refusal{Status: status, Detail: detail}
	}
}

// cutLine splits s after its first line, dropping the line's LF or CRLF.
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	return strings.TrimSuffix(s[:i], "\r"), s[i+1:]
}

// canonicalKey is name in canonical form, without allocating when it
// already is (the common case): the head's own substring.
func canonicalKey(name string) string {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(name)
		}
		upper = c == '-'
	}
	return name
}
