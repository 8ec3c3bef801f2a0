package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// wantsWebSocket reports whether r asks to switch an HTTP/1.1 connection to
// the WebSocket protocol (RFC 6455 §4.1). HTTP/2 connections cannot be
// hijacked, so their requests never qualify.
func wantsWebSocket(r *http.Request) bool {
	return r.ProtoMajor == 1 && httpsyntax.HasToken(r.Header["Connection"], "upgrade") &&
		httpsyntax.HasToken(r.Header["Upgrade"], "websocket")
}

// switchProtocols completes a WebSocket upgrade the upstream accepted with
// the 101 head in c: it takes over the client's connection, relays the 101,
// then splices bytes both ways until either side closes. The upstream
// connection is never pooled again.
func (u *Upstream) switchProtocols(w http.ResponseWriter, c *conn, latency time.Duration) (Result, error) {
	res := Result{Status: http.StatusSwitchingProtocols, UpstreamLatency: latency}
	if !httpsyntax.ListHas(c.head.upgrade, "websocket") {
		c.close()
		return Result{}, u.fail(c.t, "upgrade", headError("101 without Upgrade: websocket"))
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		c.close()
		return Result{}, u.fail(c.t, "hijack", err)
	}
	// From here on the client's connection is ours: errors end it, and
	// nothing can be reported on it any more.
	defer client.Close()
	defer c.close()
	client.SetDeadline(time.Time{})
	c.setDeadline(time.Time{})

	if err := write101(brw.Writer, w.Header(), &c.head); err != nil {
		return res, nil
	}
	if _, err := relayBuffered(c.nc, brw.Reader); err != nil {
		return res, nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(c.nc, client)
		c.close()
		client.Close()
	}()
	n, err := relayBuffered(client, c.br)
	res.BytesWritten = int64(n)
	if err == nil {
		m, _ := io.Copy(client, c.nc)
		res.BytesWritten += m
	}
	c.close()
	client.Close()
	<-done
	return res, nil
}

// write101 writes the 101 head to the client: the fields the gateway set,
// the upstream's end-to-end fields (those the gateway did not set), and the
// Connection and Upgrade fields that make the switch.
func write101(bw *bufio.Writer, gateway http.Header, h *responseHead) error {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for name, values := range gateway {
		if equalFoldAny(name, hopByHop) || strings.EqualFold(name, "Content-Length") || !httpsyntax.ValidToken(name) {
			continue
		}
		for _, v := range values {
			if httpsyntax.ValidFieldValue(v) {
				writeField(bw, name, v)
			}
		}
	}
	for _, f := range h.fields {
		if h.dropped(f.name) {
			continue
		}
		if _, ok := gateway[textproto.CanonicalMIMEHeaderKey(f.name)]; ok {
			continue
		}
		writeField(bw, f.name, f.value)
	}
	bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
	bw.WriteString(h.upgrade)
	bw.WriteString("\r\n\r\n")
	return bw.Flush()
}

// relayBuffered writes to dst what br has already read from its connection,
// so that splicing the raw connections afterwards loses nothing.
func relayBuffered(dst net.Conn, br *bufio.Reader) (int, error) {
	n := br.Buffered()
	if n == 0 {
		return 0, nil
	}
	p, _ := br.Peek(n)
	n, err := dst.Write(p)
	br.Discard(len(p))
	return n, err
}
