// Package httperr carries errors back up the request path as values and renders
// them, in one place, as RFC 9457 problem+json. The client sees only the public
// message; the cause goes to the log.
package httperr

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/portcullis/portcullis/internal/jsonenc"
)

// Error is an error with an HTTP status, a message safe to show the client, and a
// private cause that is logged but never sent.
type Error struct {
	Status   int    // HTTP status code
	Decision string // audit/metrics decision (see CONTRACT §4), e.g. "not_found"
	Public   string // detail shown to the client; never an address, a secret or a stack
	Cause    error  // logged only
	Header   http.Header
}

func (e *Error) Error() string {
	msg := strconv.Itoa(e.Status) + " " + e.Public
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// New makes an Error.
func New(status int, decision, public string, cause error) *Error {
	return &Error{Status: status, Decision: decision, Public: public, Cause: cause}
}

// Decisions: the one vocabulary of CONTRACT §4.
const (
	DecisionAllowed          = "allowed"
	DecisionUnauthenticated  = "unauthenticated"
	DecisionForbidden        = "forbidden"
	DecisionBlocked          = "blocked"
	DecisionLimited          = "limited"
	DecisionInvalid          = "invalid"
	DecisionWAF              = "waf"
	DecisionNotFound         = "not_found"
	DecisionMethodNotAllowed = "method_not_allowed"
	DecisionUpstreamError    = "upstream_error"
)

// As returns err as an *Error, wrapping anything else as a 500 whose cause is
// logged and whose detail says nothing about it.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Decision: DecisionUpstreamError, Public: "internal error", Cause: err}
}

// Write renders e as application/problem+json. requestID is echoed so that a
// client's report can be matched to the log.
func Write(w http.ResponseWriter, e *Error, requestID string) {
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	body := Render(e.Status, e.Public, requestID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// Render builds the problem+json body for status, detail and requestID.
func Render(status int, detail, requestID string) []byte {
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	b := make([]byte, 0, 128+len(detail)+len(requestID))
	b = append(b, `{"type":"about:blank"`...)
	b = jsonenc.String(jsonenc.Field(b, "title"), title)
	b = jsonenc.Int(jsonenc.Field(b, "status"), int64(status))
	b = jsonenc.String(jsonenc.Field(b, "detail"), detail)
	b = jsonenc.String(jsonenc.Field(b, "requestId"), requestID)
	return append(b, "}\n"...)
}
