package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/store"
)

var auditStart = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// auditRecord is the i-th test record: a second apart, alternating
// consumers and routes; every third one (from 2) is an AI call.
func auditRecord(i int) store.AuditRecord {
	var ai *store.AuditAI
	if i%3 == 2 {
		ai = &store.AuditAI{
			Provider:         []string{"openai-main", "anthropic"}[i%2],
			Model:            []string{"gpt-4o-mini-2024-07-18", "claude-sonnet-4-5"}[i%2],
			PromptTokens:     int64(1200 + i),
			CompletionTokens: int64(40 * i),
			CostUSD:          float64(387+i) / 1e6,
			Usage:            []string{"provider", "estimated"}[i%2],
			Ended:            []string{"complete", "client_disconnect", "upstream_error"}[i%3],
		}
	}
	return store.AuditRecord{
		Time:          auditStart.Add(time.Duration(i) * time.Second),
		RequestID:     fmt.Sprintf("req-%d", i),
		Consumer:      []string{"alice", "bob"}[i%2],
		ClientIP:      "192.0.2.1",
		Method:        "GET",
		Path:          fmt.Sprintf("/v1/items/%d?q=[redacted]", i),
		Route:         []string{"items", "orders", "admin"}[i%3],
		Status:        200 + i%2*203,
		Decision:      []string{"allowed", "forbidden"}[i%2],
		Reason:        []string{"", "role not allowed"}[i%2],
		PolicyVersion: 7,
		LatencyMs:     1.25 + float64(i),
		Listener:      "public",
		KeyID:         []string{"", "key_1"}[i%2],
		AI:            ai,
	}
}

func appendAudit(t *testing.T, s store.Store, from, to int) {
	t.Helper()
	var batch []store.AuditRecord
	for i := from; i < to; i++ {
		batch = append(batch, auditRecord(i))
	}
	if err := s.AppendAudit(ctx(t), batch); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
}

// auditAll pages through q's records and returns their request ids, in
// order, checking that Seq falls from page to page.
func auditAll(t *testing.T, s store.Store, q store.AuditQuery) []string {
	t.Helper()
	var ids []string
	last := int64(0)
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		recs, next, err := s.Audit(ctx(t), q)
		if err != nil {
			t.Fatalf("Audit(%+v): %v", q, err)
		}
		for _, r := range recs {
			if last != 0 && r.Seq >= last {
				t.Fatalf("Seq %d after %d: not newest first", r.Seq, last)
			}
			last = r.Seq
			ids = append(ids, r.RequestID)
		}
		if next == "" {
			return ids
		}
		if len(recs) == 0 {
			t.Fatalf("an empty page with a next cursor %q", next)
		}
		q.Cursor = next
	}
}

func ids(is ...int) []string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = fmt.Sprintf("req-%d", i)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testAudit: records round-trip field by field, come newest first, and
// batches append in order.
func testAudit(t *testing.T, st Storage) {
	s := open(t, st)
	if recs, next, err := s.Audit(ctx(t), store.AuditQuery{}); err != nil || len(recs) != 0 || next != "" {
		t.Fatalf("empty store: %v, %q, %v", recs, next, err)
	}
	if err := s.AppendAudit(ctx(t), nil); err != nil {
		t.Fatalf("AppendAudit(nil): %v", err)
	}
	appendAudit(t, s, 0, 3)
	appendAudit(t, s, 3, 5)
	recs, next, err := s.Audit(ctx(t), store.AuditQuery{})
	if err != nil || next != "" || len(recs) != 5 {
		t.Fatalf("Audit = %d records, next %q, %v; want 5, none", len(recs), next, err)
	}
	for k, r := range recs {
		want := auditRecord(4 - k)
		want.Seq = r.Seq
		if !reflect.DeepEqual(r, want) {
			t.Errorf("record %d = %+v, want %+v", k, r, want)
		}
	}
	// An AI call's facts come back, every field; other calls have none.
	if ai := recs[2].AI; ai == nil || *ai != *auditRecord(2).AI || recs[1].AI != nil || recs[3].AI != nil {
		t.Errorf("AI facts: %+v; %+v, %+v", ai, recs[1].AI, recs[3].AI)
	}
	// Microseconds are kept, and times come back in UTC.
	odd := auditRecord(9)
	odd.Time = time.Date(2026, 11, 28, 13, 0, 0, 123456789, time.FixedZone("x", 3600))
	if err := s.AppendAudit(ctx(t), []store.AuditRecord{odd}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ = s.Audit(ctx(t), store.AuditQuery{Limit: 1})
	if len(recs) != 1 || !recs[0].Time.Equal(store.Timestamp(odd.Time)) || recs[0].Time.Location() != time.UTC {
		t.Errorf("time round trip: %+v, want %v", recs, store.Timestamp(odd.Time))
	}
}

// testAuditQuery: filters, paging with the cursor, the page limit, since
// inclusive, and a malformed cursor.
func testAuditQuery(t *testing.T, st Storage) {
	s := open(t, st)
	appendAudit(t, s, 0, 12)
	for _, tc := range []struct {
		q    store.AuditQuery
		want []string
	}{
		{store.AuditQuery{Limit: 5}, ids(11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)},
		{store.AuditQuery{Consumer: "alice", Limit: 2}, ids(10, 8, 6, 4, 2, 0)},
		{store.AuditQuery{Route: "orders"}, ids(10, 7, 4, 1)},
		{store.AuditQuery{Consumer: "bob", Route: "orders", Limit: 1}, ids(7, 1)},
		{store.AuditQuery{Since: auditStart.Add(9 * time.Second)}, ids(11, 10, 9)},
		{store.AuditQuery{Since: auditStart.Add(9*time.Second + time.Microsecond)}, ids(11, 10)},
		{store.AuditQuery{Since: auditStart.Add(time.Hour)}, nil},
		{store.AuditQuery{Consumer: "carol"}, nil},
	} {
		if got := auditAll(t, s, tc.q); !equal(got, tc.want) {
			t.Errorf("Audit(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// A full page that is the last one still says whether more remain.
	recs, next, err := s.Audit(ctx(t), store.AuditQuery{Limit: 12})
	if err != nil || len(recs) != 12 || next != "" {
		t.Errorf("a page of exactly all: %d records, next %q, %v", len(recs), next, err)
	}
	recs, next, err = s.Audit(ctx(t), store.AuditQuery{Limit: 11})
	if err != nil || len(recs) != 11 || next == "" {
		t.Errorf("a page of all but one: %d records, next %q, %v", len(recs), next, err)
	}
	// A record appended while paging is not seen by the pages below it.
	appendAudit(t, s, 12, 13)
	if recs, _, _ := s.Audit(ctx(t), store.AuditQuery{Cursor: next}); len(recs) != 1 || recs[0].RequestID != "req-0" {
		t.Errorf("the page after the cursor: %+v", recs)
	}
	// Limits outside the bounds are brought within them.
	appendAudit(t, s, 13, store.DefaultAuditLimit+2)
	if recs, next, _ := s.Audit(ctx(t), store.AuditQuery{}); len(recs) != store.DefaultAuditLimit || next == "" {
		t.Errorf("the default limit: %d records, next %q", len(recs), next)
	}
	for _, c := range []string{"x", "-1", "0", "1.5"} {
		_, _, err := s.Audit(ctx(t), store.AuditQuery{Cursor: c})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("cursor %q: error %v, want ErrInvalid", c, err)
		}
	}
}

// testPruneAudit: pruning deletes exactly the records older than the
// cutoff, and the sequence goes on past what was deleted.
func testPruneAudit(t *testing.T, st Storage) {
	s := open(t, st)
	appendAudit(t, s, 0, 6)
	recs, _, _ := s.Audit(ctx(t), store.AuditQuery{Limit: 1})
	newest := recs[0].Seq
	n, err := s.PruneAudit(ctx(t), auditStart.Add(4*time.Second))
	if err != nil || n != 4 {
		t.Fatalf("PruneAudit = %d, %v; want 4", n, err)
	}
	if got := auditAll(t, s, store.AuditQuery{}); !equal(got, ids(5, 4)) {
		t.Errorf("after pruning: %v", got)
	}
	if n, err := s.PruneAudit(ctx(t), auditStart); err != nil || n != 0 {
		t.Errorf("pruning again = %d, %v", n, err)
	}
	// Prune everything: the next record still gets a higher Seq, so a
	// cursor is never reused.
	if _, err := s.PruneAudit(ctx(t), auditStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	appendAudit(t, s, 6, 7)
	if recs, _, _ := s.Audit(ctx(t), store.AuditQuery{}); len(recs) != 1 || recs[0].Seq <= newest {
		t.Errorf("after pruning all: %+v, want a Seq above %d", recs, newest)
	}
}

// testAuditSealed: with a sealer, batches are stored encrypted and read
// back; pruning trims a sealed batch; rotation re-wraps them so that a store
// holding only the new key reads them; without a key they are not read.
func testAuditSealed(t *testing.T, st Storage) {
	s := open(t, st)
	key := func(b byte) *secrets.Key {
		k, err := secrets.NewKey(bytes.Repeat([]byte{b}, secrets.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	oldKey, newKey := key(1), key(2)
	appendAudit(t, s, 0, 2) // in clear, before the key
	s.SetAuditSealer(secrets.NewKeyring(oldKey))
	appendAudit(t, s, 2, 6)
	if got := auditAll(t, s, store.AuditQuery{}); !equal(got, ids(5, 4, 3, 2, 1, 0)) {
		t.Fatalf("sealed and clear batches: %v", got)
	}
	if n, err := s.PruneAudit(ctx(t), auditStart.Add(3*time.Second)); err != nil || n != 3 {
		t.Fatalf("PruneAudit across a sealed batch = %d, %v; want 3", n, err)
	}
	rotated := secrets.NewKeyring(newKey, oldKey)
	if n, err := s.RewrapAudit(ctx(t), rotated); err != nil || n != 1 {
		t.Fatalf("RewrapAudit = %d, %v; want the one sealed batch", n, err)
	}
	if n, err := s.RewrapAudit(ctx(t), rotated); err != nil || n != 0 {
		t.Errorf("RewrapAudit again = %d, %v; want nothing left to do", n, err)
	}
	s.SetAuditSealer(secrets.NewKeyring(newKey))
	if got := auditAll(t, s, store.AuditQuery{}); !equal(got, ids(5, 4, 3)) {
		t.Errorf("with only the new key: %v", got)
	}
	// The trimmed, re-wrapped batch keeps the AI facts of record 5.
	if recs, _, err := s.Audit(ctx(t), store.AuditQuery{Limit: 1}); err != nil || len(recs) != 1 ||
		recs[0].AI == nil || *recs[0].AI != *auditRecord(5).AI {
		t.Errorf("AI facts through sealing, pruning and rotation: %+v, %v", recs, err)
	}
	s.SetAuditSealer(nil)
	if _, _, err := s.Audit(ctx(t), store.AuditQuery{}); err == nil {
		t.Error("sealed batches read without a key")
	}
}
