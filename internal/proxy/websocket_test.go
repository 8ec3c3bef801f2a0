package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const wsHandshake = "GET /chat HTTP/1.1\r\n" +
	"Host: gw.example\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// newEchoUpgrader starts an upstream that accepts a WebSocket upgrade, greets
// in the same write as its 101, then echoes every byte. It reports the
// handshake head it received.
func newEchoUpgrader(t *testing.T) (*rawServer, chan []string) {
	heads := make(chan []string, 1)
	return newRawServer(t, echoUpgrade(heads)), heads
}

// echoUpgrade is newEchoUpgrader's handler.
func echoUpgrade(heads chan<- []string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		head := readHead(br)
		heads <- head
		if !hasLine(head, "Upgrade: websocket") {
			io.WriteString(c, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 10\r\n\r\nno upgrade")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n"+
			"Upgrade: websocket\r\n"+
			"Connection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"+
			"\r\n"+
			"welcome;")
		io.Copy(c, br) // echo, including what came with the handshake
	}
}

func hasLine(head []string, line string) bool {
	for _, l := range head {
		if strings.EqualFold(l, line) {
			return true
		}
	}
	return false
}

func TestWebSocketEcho(t *testing.T) {
	srv, heads := newEchoUpgrader(t)
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) {
		f.AllowWebSocket = true
		f.Timeout = 100 * time.Millisecond // bounds the handshake only
	})
	c, err := net.Dial("tcp", g.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Bytes right behind the handshake reach the upstream too.
	if _, err := io.WriteString(c, wsHandshake+"early;"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "websocket" ||
		resp.Header.Get("Connection") != "Upgrade" || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake answer: %d %v", resp.StatusCode, resp.Header)
	}
	head := <-heads
	for _, want := range []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "X-Request-Id: req-1"} {
		if !hasLine(head, want) {
			t.Errorf("upstream handshake lacks %q: %q", want, head)
		}
	}
	// Longer than the handshake timeout: the spliced connection has none.
	time.Sleep(200 * time.Millisecond)
	io.WriteString(c, "hello, upstream")
	want := "welcome;early;hello, upstream"
	got := make([]byte, len(want))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	c.Close()
	o := g.outcome(t)
	if o.err != nil || o.res.Status != http.StatusSwitchingProtocols || o.res.BytesWritten != int64(len(want)) {
		t.Errorf("Forward = %+v, %v", o.res, o.err)
	}
	if n := u.targets[0].idleCount(); n != 0 {
		t.Errorf("%d upgraded connections pooled", n)
	}
}

func TestWebSocketNotAllowed(t *testing.T) {
	srv, heads := newEchoUpgrader(t)
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, nil)
	resp, body := rawDo(t, g.Listener.Addr().String(), wsHandshake)
	if resp.StatusCode != http.StatusUpgradeRequired || body != "no upgrade" {
		t.Errorf("got %d %q, want the upstream's plain answer", resp.StatusCode, body)
	}
	head := <-heads
	for _, l := range head {
		if name, _, _ := strings.Cut(l, ":"); strings.EqualFold(name, "Upgrade") || strings.EqualFold(name, "Connection") {
			t.Errorf("upstream got %q", l)
		}
	}
}

func TestWebSocketNeverH2C(t *testing.T) {
	srv, heads := newEchoUpgrader(t)
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) { f.AllowWebSocket = true })
	resp, _ := rawDo(t, g.Listener.Addr().String(), strings.Replace(wsHandshake, "Upgrade: websocket", "Upgrade: h2c", 1))
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("got %d", resp.StatusCode)
	}
	for _, l := range <-heads {
		if strings.Contains(strings.ToLower(l), "upgrade") {
			t.Errorf("upstream got %q", l)
		}
	}
}

func TestWebSocketUpstreamSwitchesToSomethingElse(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
	})
	u := newUpstream(t, srv.url())
	g := newGateway(t, u, func(r *http.Request, f *Forwarding) { f.AllowWebSocket = true })
	resp, body := rawDo(t, g.Listener.Addr().String(), wsHandshake)
	assertProblem(t, resp, body, http.StatusBadGateway, srv.ln.Addr().String())
}
