package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/monitor/detect"
)

// bruteForce queues enough failed logins from one address to raise
// auth.bruteforce.
func bruteForce(m *Monitor, ip string) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		m.Observe(detect.Event{Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), ClientIP: ip, Route: "login", Path: "/login", Status: 401, Decision: "unauthenticated"})
	}
}

// TestAlertsAreKeptStreamedAndPosted: an alert is kept for the admin API,
// streamed to subscribers and posted to the webhook, signed; a webhook that
// fails at first gets it on a retry.
func TestAlertsAreKeptStreamedAndPosted(t *testing.T) {
	var calls atomic.Int64
	got := make(chan []byte, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(SignatureHeader) != Sign("s3cret", body) {
			t.Errorf("signature %q does not sign the body", r.Header.Get(SignatureHeader))
		}
		got <- body
	}))
	defer hook.Close()

	var raised atomic.Int64
	m := New(Options{OnAlert: func(detect.Alert) { raised.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Configure(Settings{Detectors: detect.DefaultConfig(), Webhook: hook.URL, Secret: "s3cret"})
	go m.Run(ctx)
	stream, stop := m.Subscribe()
	defer stop()
	bruteForce(m, "203.0.113.9")

	var a detect.Alert
	select {
	case a = <-stream:
	case <-time.After(10 * time.Second):
		t.Fatal("no alert streamed")
	}
	if a.Kind != "auth.bruteforce" || a.Subject != "ip:203.0.113.9" {
		t.Fatalf("alert %+v", a)
	}
	if kept := m.Alerts(); len(kept) == 0 || kept[0].ID != a.ID {
		t.Fatalf("kept %+v", kept)
	}
	select {
	case body := <-got:
		var b alertBody
		if err := json.Unmarshal(body, &b); err != nil || b.Alert.ID != a.ID || b.Alert.Kind != a.Kind || b.Alert.Subject != a.Subject {
			t.Fatalf("webhook body %s", body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook never got the alert")
	}
	if calls.Load() != 2 || raised.Load() == 0 {
		t.Errorf("webhook calls %d (want a failure, then the delivery), OnAlert %d", calls.Load(), raised.Load())
	}
}

func TestObserveNeverBlocks(t *testing.T) {
	var drops atomic.Int64
	m := New(Options{OnDrop: func() { drops.Add(1) }}) // not running: nothing drains the queue
	for range queueSize + 10 {
		m.Observe(detect.Event{})
	}
	if m.Dropped() != 10 || drops.Load() != 10 {
		t.Fatalf("dropped %d (%d reported), want 10", m.Dropped(), drops.Load())
	}
}

func TestSign(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231 style vector.
	if got := Sign("key", []byte("The quick brown fox jumps over the lazy dog")); got != "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Fatal(got)
	}
}

// TestRaise: an alert raised from outside the engine is kept and streamed,
// and a repeat of its kind and subject updates it.
func TestRaise(t *testing.T) {
	m := New(Options{Log: slog.New(slog.DiscardHandler)})
	ch, stop := m.Subscribe()
	defer stop()
	m.Raise("audit.dropped", detect.SeverityHigh, "audit", "3 dropped")
	m.Raise("audit.dropped", detect.SeverityHigh, "audit", "5 dropped")
	m.Raise("store.unavailable", detect.SeverityCritical, "store", "down")
	first, second := <-ch, <-ch
	if first.Count != 1 || second.Count != 2 || second.ID != first.ID || second.Detail != "5 dropped" {
		t.Errorf("a repeat: %+v then %+v", first, second)
	}
	got := m.Alerts()
	if len(got) != 2 || got[0].Kind != "store.unavailable" || got[1].Count != 2 || got[0].ID == got[1].ID {
		t.Errorf("Alerts = %+v", got)
	}
}
