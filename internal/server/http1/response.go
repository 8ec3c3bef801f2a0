package http1

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// smallBody is how much of a body without a declared length is held back
// before the head goes out: a body that ends within it is sent with a
// Content-Length, a longer one chunked (net/http holds 2 KiB too).
const smallBody = 2 << 10

var (
	errFinished      = errors.New("http1: write after the response was finished")
	errHijackStarted = errors.New("http1: hijack after the response started")
)

// response is the http.ResponseWriter of one request.
type response struct {
	c      *conn
	req    *http.Request
	h      *head
	body   *body // nil when the request has none
	header http.Header

	status        int   // the final status; 0 until WriteHeader
	committed     bool  // the head is in the connection's buffer
	contentLength int64 // the declared Content-Length; -1 when none
	chunking      bool
	written       int64  // body bytes accepted
	held          []byte // body bytes held back before the head (see smallBody)
	closeAfter    bool   // the connection closes after this exchange
	sentContinue  bool
	hijacked      bool
	finished      bool
	err           error // the first write error: the client is gone
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(status int) {
	if w.committed || w.status != 0 || w.hijacked {
		return
	}
	if status < 100 || status > 999 {
		panic("http1: invalid WriteHeader code " + strconv.Itoa(status))
	}
	if status < 200 && status != http.StatusSwitchingProtocols {
		w.informational(status)
		return
	}
	w.status = status
	if v := w.header["Content-Length"]; len(v) == 1 {
		if n, ok := httpsyntax.ParseLength(v[0]); ok {
			w.contentLength = n
		}
	}
	if len(w.header["Content-Length"]) > 0 && w.contentLength < 0 {
		delete(w.header, "Content-Length") // not a length: framing is ours to choose
	}
}

// informational sends a 1xx answer (103 Early Hints, say) with the fields
// set so far.
func (w *response) informational(status int) {
	if w.h.minor == 0 {
		return // HTTP/1.0 clients get no interim answers (RFC 9110 §15.2)
	}
	if status == http.StatusContinue {
		w.sentContinue = true
	}
	w.c.bw.WriteString(statusLine(status, w.h.minor))
	writeFields(w.c.bw, w.header)
	w.c.bw.WriteString("\r\n")
	w.flushErr(w.c.bw.Flush())
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.finished {
		return 0, errFinished
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.contentLength >= 0 && w.written+int64(len(p)) > w.contentLength {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.req.Method == http.MethodHead {
		return len(p), nil
	}
	if !w.committed {
		if w.contentLength < 0 && len(w.held)+len(p) <= smallBody {
			if w.held == nil {
				w.held = w.c.held[:0] // the connection's, free since the last commit
			}
			w.held = append(w.held, p...)
			return len(p), nil
		}
		w.commit(false)
	}
	w.writeBody(p)
	return len(p), w.err
}

// writeBody writes p, a chunk of it when chunking, after the head.
func (w *response) writeBody(p []byte) {
	if len(p) == 0 {
		return
	}
	bw := w.c.bw
	if w.chunking {
		bw.Write(strconv.AppendInt(w.c.scratch[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		bw.WriteString("\r\n")
	} else {
		bw.Write(p)
	}
}

// commit puts the head in the connection's buffer, then the body held
// back. At the handler's end the held body is the whole body: it gets a
// Content-Length; before that, a body of unknown length is chunked (or,
// for an HTTP/1.0 client, ends with the connection).
func (w *response) commit(atEnd bool) {
	if w.committed {
		return
	}
	w.committed = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	bw := w.c.bw
	if w.status == http.StatusSwitchingProtocols {
		// The handler takes the connection over (Hijack): its fields go
		// as they are, Connection and Upgrade included.
		bw.WriteString(statusLine(w.status, w.h.minor))
		writeFields(w.c.bw, w.header)
		bw.WriteString("\r\n")
		return
	}
	// The body's framing: a length (declared, or of the whole held body),
	// chunks, or the connection's end.
	length := int64(-1)
	switch {
	case w.status == http.StatusNoContent || !bodyAllowed(w.status) && w.contentLength < 0:
		delete(w.header, "Content-Length")
	case w.contentLength >= 0:
		length = w.contentLength
	case atEnd && (w.req.Method != http.MethodHead || len(w.held) > 0):
		length = int64(len(w.held))
	case atEnd, w.req.Method == http.MethodHead:
	case w.h.minor == 1:
		w.chunking = true
	default:
		w.closeAfter = true
	}
	if length >= 0 {
		// Written from what the server counts by, whatever the map
		// holds by now.
		delete(w.header, "Content-Length")
	}
	w.keepAliveChecks()
	bw.WriteString(statusLine(w.status, w.h.minor))
	writeFields(w.c.bw, w.header)
	if _, ok := w.header["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	switch {
	case length >= 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(w.c.scratch[:0], length, 10))
		bw.WriteString("\r\n")
	case w.chunking:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.h.minor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	held := w.held
	w.held = nil
	w.writeBody(held)
	if cap(held) > 0 {
		w.c.held = held[:0] // written: the next response may hold its body there
	}
}

// keepAliveChecks decides, before the head goes out, whether the
// connection outlives this exchange.
func (w *response) keepAliveChecks() {
	if w.c.srv.shuttingDown.Load() || httpsyntax.HasToken(w.header["Connection"], "close") {
		w.closeAfter = true
	}
	if b := w.body; b != nil && !b.done {
		// The client waits for 100 Continue that never came, or would
		// send more than is worth reading and dropping.
		if w.h.expectContinue && !w.sentContinue || !b.chunked && b.left > maxDrainBytes {
			w.closeAfter = true
		}
	}
	delete(w.header, "Connection")
	delete(w.header, "Transfer-Encoding")
}

// writeFields writes header's fields to bw, skipping any whose name or a
// value of which could break the head.
func writeFields(bw *bufio.Writer, header http.Header) {
	for k, vs := range header {
		if !httpsyntax.ValidToken(k) {
			continue
		}
		for _, v := range vs {
			if !httpsyntax.ValidFieldValue(v) {
				continue
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// sendContinue answers Expect: 100-continue when the handler first reads
// the body, if no answer was sent yet.
func (w *response) sendContinue() {
	if !w.h.expectContinue || w.sentContinue || w.committed || w.err != nil {
		return
	}
	w.sentContinue = true
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.flushErr(w.c.bw.Flush())
}

// Flush sends what was written so far (http.Flusher).
func (w *response) Flush() { _ = w.FlushError() }

// FlushError sends what was written so far (what http.ResponseController
// calls).
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.finished {
		return w.err
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.commit(false)
	w.flushErr(w.c.bw.Flush())
	return w.err
}

// Finish completes the response — the head if not sent yet, the end of a
// chunked body — and sends it, before the handler returns: the gateway
// answers the client before it does its bookkeeping. Later writes fail;
// calling it again does nothing. The server calls it after the handler.
func (w *response) Finish() error {
	if w.hijacked || w.finished {
		return w.err
	}
	w.finished = true
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.commit(true)
	if w.chunking {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	if w.contentLength >= 0 && w.written < w.contentLength && bodyAllowed(w.status) && w.req.Method != http.MethodHead {
		// The handler wrote less than it declared: the client cannot tell
		// where this answer ends, so nothing may follow it.
		w.closeAfter = true
	}
	w.flushErr(w.c.bw.Flush())
	return w.err
}

func (w *response) flushErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
		w.closeAfter = true
	}
}

// Hijack hands the connection to the handler (a WebSocket upgrade): the
// server neither answers on it nor closes it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.committed && w.status != http.StatusSwitchingProtocols {
		return nil, nil, errHijackStarted
	}
	if w.status == http.StatusSwitchingProtocols && !w.committed {
		// The 101 the handler set goes out first, as net/http does.
		w.commit(false)
		if err := w.c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	w.c.stopWatch()
	w.hijacked = true
	w.c.srv.trackConn(w.c, false)
	// The connection is the handler's now, without the server's deadlines.
	w.c.setReadDeadline(time.Time{}, false)
	_ = w.c.rwc.SetWriteDeadline(time.Time{})
	return w.c.rwc, bufio.NewReadWriter(w.c.br, w.c.bw), nil
}

// SetReadDeadline and SetWriteDeadline are http.ResponseController's.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.setReadDeadline(t, false)
	return nil
}

func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// statusLines are the common status lines, made once.
var statusLines [2][600]string

func init() {
	for minor := range 2 {
		for code := 100; code < 600; code++ {
			if text := http.StatusText(code); text != "" {
				statusLines[minor][code] = "HTTP/1." + strconv.Itoa(minor) + " " + strconv.Itoa(code) + " " + text + "\r\n"
			}
		}
	}
}

func statusLine(code, minor int) string {
	if code < 600 && statusLines[minor][code] != "" {
		return statusLines[minor][code]
	}
	return "HTTP/1." + strconv.Itoa(minor) + " " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
}

// cachedDate is the Date field's value, made at most once a second.
var cachedDate atomic.Pointer[dateValue]

type dateValue struct {
	unix int64
	text string
}

func httpDate() string {
	now := time.Now()
	if d := cachedDate.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &dateValue{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}
