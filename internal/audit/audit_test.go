package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// fakeStore records the batches appended to it. Before each append it
// waits for gate (when set) and fails while failures remain.
type fakeStore struct {
	mu       sync.Mutex
	batches  [][]store.AuditRecord
	failures int
	gate     chan struct{}
	appended chan struct{} // told of each successful append
	pruned   chan time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{appended: make(chan struct{}, 1<<20), pruned: make(chan time.Time, 10)}
}

func (f *fakeStore) AppendAudit(ctx context.Context, recs []store.AuditRecord) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("store unavailable")
	}
	f.batches = append(f.batches, append([]store.AuditRecord(nil), recs...))
	f.appended <- struct{}{}
	return nil
}

func (f *fakeStore) PruneAudit(_ context.Context, before time.Time) (int64, error) {
	f.pruned <- before
	return 0, nil
}

func (f *fakeStore) records() []store.AuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.AuditRecord
	for _, b := range f.batches {
		out = append(out, b...)
	}
	return out
}

func record(i int) Record {
	return Record{Time: time.Unix(int64(i), 0), RequestID: fmt.Sprint("req-", i), Method: "GET", Path: "/items", Route: "items",
		Status: 200, Decision: "allowed", PolicyVersion: 4, Latency: 1500 * time.Microsecond}
}

func newWriter(t *testing.T, st Store, opts Options) *Writer {
	t.Helper()
	opts.Store = st
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	w := New(opts)
	w.retryEvery = time.Millisecond
	return w
}

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestBatching: records go to the store in order, at most BatchSize to a
// transaction, and Close writes every one still queued.
func TestBatching(t *testing.T) {
	st := newFakeStore()
	w := newWriter(t, st, Options{})
	w.flushEvery = time.Hour // only full batches and Close write
	w.Start()
	const n = 3*BatchSize + 10
	for i := range n {
		w.Record(record(i))
	}
	closeWriter(t, w)
	got := st.records()
	if len(got) != n {
		t.Fatalf("stored %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.RequestID != fmt.Sprint("req-", i) {
			t.Fatalf("record %d is %s: out of order", i, r.RequestID)
		}
	}
	for i, b := range st.batches {
		if len(b) > BatchSize {
			t.Errorf("batch %d holds %d records, more than %d", i, len(b), BatchSize)
		}
	}
	if len(st.batches) != 4 {
		t.Errorf("%d batches, want 4 (three full ones and the rest at Close)", len(st.batches))
	}
	r := got[0]
	if r.LatencyMs != 1.5 || r.PolicyVersion != 4 || r.Status != 200 || r.Decision != "allowed" || r.Route != "items" {
		t.Errorf("record = %+v", r)
	}
}

// TestFlushInterval: a batch that does not fill is written after the flush
// interval, without Close.
func TestFlushInterval(t *testing.T) {
	st := newFakeStore()
	w := newWriter(t, st, Options{})
	w.flushEvery = time.Millisecond
	w.Start()
	defer closeWriter(t, w)
	w.Record(record(1))
	<-st.appended
	if got := st.records(); len(got) != 1 || got[0].RequestID != "req-1" {
		t.Errorf("stored %+v", got)
	}
}

// TestRedactsBeforeWriting: the stored path is redacted, with its query,
// and text the store could not hold is made valid.
func TestRedactsBeforeWriting(t *testing.T) {
	st := newFakeStore()
	w := newWriter(t, st, Options{})
	w.Start()
	r := record(1)
	r.Path, r.Query = "/users/alice@example.com/x\x00\xff", "Token=abc&page=2"
	w.Record(r)
	closeWriter(t, w)
	want := "/users/[redacted]/x\uFFFD\uFFFD?Token=[redacted]&page=2"
	if got := st.records(); len(got) != 1 || got[0].Path != want {
		t.Errorf("stored %+v, want path %q", got, want)
	}
}

// TestAIFacts: an AI call's facts reach the store as they were handed over
// (a model name from the provider made valid text), in a copy of the
// writer's own; other calls have none.
func TestAIFacts(t *testing.T) {
	st := newFakeStore()
	w := newWriter(t, st, Options{})
	w.Start()
	ai := &store.AuditAI{Provider: "openai-main", Model: "gpt-4o-mini\xff", PromptTokens: 1200, CompletionTokens: 345,
		CostUSD: 0.000387, Usage: "provider", Ended: "client_disconnect"}
	r := record(1)
	r.AI = ai
	w.Record(r)
	w.Record(record(2))
	closeWriter(t, w)
	ai.Model = "changed after the handover"
	got := st.records()
	want := store.AuditAI{Provider: "openai-main", Model: "gpt-4o-mini\uFFFD", PromptTokens: 1200, CompletionTokens: 345,
		CostUSD: 0.000387, Usage: "provider", Ended: "client_disconnect"}
	if len(got) != 2 || got[0].AI == nil || *got[0].AI != want {
		t.Fatalf("stored %+v, want AI %+v", got, want)
	}
	if got[1].AI != nil {
		t.Errorf("a call that is not an AI call stored AI %+v", got[1].AI)
	}
}

// TestRetry: a batch the store refuses is kept and written once the store
// recovers, in order, with nothing lost; the failure is logged.
func TestRetry(t *testing.T) {
	st := newFakeStore()
	st.failures = 3
	var logs bytes.Buffer
	w := newWriter(t, st, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	w.flushEvery = time.Millisecond
	w.Start()
	for i := range 5 {
		w.Record(record(i))
	}
	<-st.appended // written only after the three failures
	for i := 5; i < 10; i++ {
		w.Record(record(i))
	}
	closeWriter(t, w)
	got := st.records()
	if len(got) != 10 {
		t.Fatalf("stored %d records, want 10", len(got))
	}
	for i, r := range got {
		if r.RequestID != fmt.Sprint("req-", i) {
			t.Fatalf("record %d is %s", i, r.RequestID)
		}
	}
	if !strings.Contains(logs.String(), "writing the audit trail failed; retrying") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
	if w.Dropped() != 0 {
		t.Errorf("%d dropped", w.Dropped())
	}
}

// TestDrops: with the store stuck, records beyond the queue and the
// pending batch are dropped — counted, logged and alerted — and every
// record is either stored or counted as dropped.
func TestDrops(t *testing.T) {
	st := newFakeStore()
	st.gate = make(chan struct{})
	var logs bytes.Buffer
	var onDrop atomic.Int64
	var alerts []string
	var alertMu sync.Mutex
	w := newWriter(t, st, Options{
		Log:    slog.New(slog.NewTextHandler(&logs, nil)),
		OnDrop: func() { onDrop.Add(1) },
		Alert: func(detail string) {
			alertMu.Lock()
			alerts = append(alerts, detail)
			alertMu.Unlock()
		},
	})
	w.Start()
	const n = QueueSize + maxPending + 1000
	for i := range n {
		w.Record(record(i))
	}
	dropped := w.Dropped()
	if dropped < 1000 {
		t.Errorf("dropped %d, want at least 1000", dropped)
	}
	if onDrop.Load() != dropped {
		t.Errorf("OnDrop told of %d drops, Dropped says %d", onDrop.Load(), dropped)
	}
	if w.Depth() == 0 {
		t.Error("Depth is 0 with the queue full")
	}
	close(st.gate)
	closeWriter(t, w)
	if stored := len(st.records()); int64(stored)+dropped != n {
		t.Errorf("stored %d + dropped %d != %d recorded", stored, dropped, n)
	}
	// Not held below: past dropReportInterval (a slow run), the drop after
	// Close alerts again, and Alert takes alertMu.
	alertMu.Lock()
	raised := append([]string(nil), alerts...)
	alertMu.Unlock()
	if len(raised) != 1 || !strings.Contains(raised[0], "dropped") {
		t.Errorf("alerts = %q, want one (they are rate-limited)", raised)
	}
	if strings.Count(logs.String(), "audit records dropped") != 1 {
		t.Errorf("drops logged: %s", logs.String())
	}
	// After Close a record is dropped, and counted, not lost unseen.
	w.Record(record(0))
	if w.Dropped() != dropped+1 {
		t.Errorf("a record after Close: dropped %d, want %d", w.Dropped(), dropped+1)
	}
}

// TestCloseGivesUp: when the store fails until Close's context ends, Close
// says how many records were lost.
func TestCloseGivesUp(t *testing.T) {
	st := newFakeStore()
	st.failures = 1 << 30
	w := newWriter(t, st, Options{})
	w.Start()
	for i := range 3 {
		w.Record(record(i))
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for st.failuresLeft() > (1<<30)-3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := w.Close(ctx)
	if err == nil {
		t.Fatal("Close succeeded with a failing store")
	}
}

func (f *fakeStore) failuresLeft() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

// TestPrune: with a retention, records older than it are pruned at start.
func TestPrune(t *testing.T) {
	st := newFakeStore()
	w := newWriter(t, st, Options{Retention: 48 * time.Hour})
	before := time.Now()
	w.Start()
	defer closeWriter(t, w)
	cutoff := <-st.pruned
	if cutoff.After(time.Now().Add(-48*time.Hour)) || cutoff.Before(before.Add(-48*time.Hour)) {
		t.Errorf("pruned before %v, want 48 hours ago", cutoff)
	}
}

// BenchmarkRecord is the request path's cost of the audit trail: one
// non-blocking send of the record, no allocation. "dropped" counts the
// sends a tight loop made faster than one goroutine takes records off the
// queue (the drop path, also allocation-free); no gateway serves requests
// at that rate.
func BenchmarkRecord(b *testing.B) {
	w := New(Options{Store: newFakeStore(), Log: slog.New(slog.DiscardHandler)})
	go func() { // the writer's side, reduced to taking records off the queue
		for range w.queue {
		}
	}()
	defer close(w.queue) // Record is not called after this
	r := record(1)
	r.Path, r.Query, r.Consumer, r.ClientIP = "/v1/users/42/orders", "page=2&token=abc", "alice", "192.0.2.1"
	b.ReportAllocs()
	for b.Loop() {
		w.Record(r)
	}
	b.ReportMetric(float64(w.Dropped()), "dropped")
}
