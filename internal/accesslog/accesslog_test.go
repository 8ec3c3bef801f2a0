package accesslog

import (
	"bytes"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestLinesAreJSONWithEveryField(t *testing.T) {
	var out syncBuffer
	l := New(&out, nil, nil)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.Log(Entry{Time: at, RequestID: "r1", Listener: "public", Method: "GET", Path: "/x", Route: "x",
		Status: 200, Decision: "allowed", Bytes: 12, Latency: 1500 * time.Microsecond,
		UpstreamLatency: time.Millisecond, ClientIP: "192.0.2.1"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(out.b.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, out.b.String())
	}
	want := map[string]any{"time": "2026-01-02T03:04:05Z", "msg": "access", "requestId": "r1", "listener": "public",
		"method": "GET", "path": "/x", "route": "x", "status": 200.0, "decision": "allowed", "bytes": 12.0,
		"latencyMs": 1.5, "upstreamLatencyMs": 1.0, "clientIP": "192.0.2.1"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["level"]; ok {
		t.Errorf("level should be dropped: %v", rec)
	}
}

// blockingWriter never returns until released, so the queue fills up.
type blockingWriter struct{ release chan struct{} }

func (b *blockingWriter) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

func TestFullQueueDropsAndCountsInsteadOfBlocking(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	var drops atomic.Int64
	l := New(w, nil, func() { drops.Add(1) })
	// The first line is larger than the 64 KiB buffer, so the writer goroutine
	// is stuck in Write at once and the rest pile up in the queue.
	l.Log(Entry{Path: string(bytes.Repeat([]byte("p"), 70<<10))})
	for range queueSize + 100 {
		l.Log(Entry{})
	}
	if drops.Load() == 0 {
		t.Fatal("no line was dropped although the writer is stuck")
	}
	close(w.release)
	_ = l.Close()
	l.Log(Entry{}) // after Close: dropped, no panic
}

func TestNilLoggerDiscards(t *testing.T) {
	var l *Logger
	l.Log(Entry{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
