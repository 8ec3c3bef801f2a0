package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// limitBody enforces a route's body limit before the body is read: a
// declared Content-Length over limit is refused at once (413), and any
// other body is wrapped so that reading it stops at limit (see clientBody)
// and at the body idle timeout. A request without a body is left as it is,
// so the common GET pays nothing.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64, idle time.Duration) *httperr.Error {
	if r.ContentLength > limit {
		return snapshot.BodyTooLarge()
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = &clientBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle, limit: limit, left: limit}
	}
	return nil
}

// clientBody is a client's request body as the gateway reads it: every read
// must make progress within idle (limits.bodyIdleTimeout), and a body that
// grows past limit — one sent chunked, whose length nobody declared — fails
// the read that crosses it with *http.MaxBytesError. The upstream transport
// then aborts the exchange (the upstream never gets the final chunk, and the
// connection is closed, never pooled) and answers 413.
type clientBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	limit int64
	left  int64 // bytes still allowed; -1 once the limit was crossed
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &http.MaxBytesError{Limit: b.limit}
	}
	// One byte more than allowed tells a body at the limit from one over it.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), -1
		return n, &http.MaxBytesError{Limit: b.limit}
	}
	b.left -= int64(n)
	return n, err
}

// readLimited reads r's whole body for the steps that must see all of it
// (request validation, the WAF), refusing one over limit bytes with 413 and
// one that cannot be read with 400. It puts the body back as r.Body with
// r.ContentLength set, so that the upstream transport forwards it with a
// Content-Length. A request without a body returns nil and is left as it
// is.
func readLimited(r *http.Request, limit int64) ([]byte, *httperr.Error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, snapshot.BodyTooLarge()
	}
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(body)) > limit {
			return nil, snapshot.BodyTooLarge()
		}
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, snapshot.BodyTooLarge()
		}
		return nil, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "request body could not be read", err)
	}
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	if len(body) == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return body, nil
}
