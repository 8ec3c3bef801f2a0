package proxy

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/httperr"
)

// Error is the cause carried by the *httperr.Error that Forward returns: it
// names the Service, the target address and the step that failed, for the
// log only. The client sees the public message, which names none of them.
type Error struct {
	Service string // the Service name
	Addr    string // the target's host:port
	Op      string // "connect", "exchange", "upgrade" or "hijack"
	Err     error
}

func (e *Error) Error() string {
	return "proxy: service " + e.Service + " upstream " + e.Addr + ": " + e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Public messages of the errors Forward returns.
const (
	msgUnavailable = "upstream unavailable"
	msgTimedOut    = "upstream timed out"
)

// fail turns a failure to forward (before anything was written to the
// client) into the *httperr.Error the client sees: 504 for a timeout, 400 or
// 413 when the client's body could not be read, 500 for a request the
// gateway could not write, 502 for everything else. After a body that
// could not be read, or was over its limit (*http.MaxBytesError), the
// client's connection is closed: the rest of that body is still on it.
func (u *Upstream) fail(t *target, op string, err error) *httperr.Error {
	cause := &Error{Service: u.name, Addr: t.addr, Op: op, Err: err}
	var bodyErr bodyReadError
	var invalid invalidRequestError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		e := httperr.New(http.StatusRequestEntityTooLarge, httperr.DecisionInvalid, "request body too large", cause)
		e.Header = http.Header{"Connection": {"close"}}
		return e
	case errors.As(err, &bodyErr):
		e := httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "request body could not be read", cause)
		e.Header = http.Header{"Connection": {"close"}}
		return e
	case errors.As(err, &invalid):
		return httperr.New(http.StatusInternalServerError, httperr.DecisionUpstreamError, "internal error", cause)
	case isTimeout(err):
		return httperr.New(http.StatusGatewayTimeout, httperr.DecisionUpstreamError, msgTimedOut, cause)
	default:
		return httperr.New(http.StatusBadGateway, httperr.DecisionUpstreamError, msgUnavailable, cause)
	}
}
