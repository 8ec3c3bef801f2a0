package auditbatch

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/store"
)

var start = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func record(i int) store.AuditRecord {
	return store.AuditRecord{
		Time:          start.Add(time.Duration(i) * 1500 * time.Microsecond),
		RequestID:     fmt.Sprintf("req-%d", i),
		Consumer:      []string{"alice", "bob", ""}[i%3],
		ClientIP:      "192.0.2.1",
		Method:        "GET",
		Path:          fmt.Sprintf("/v1/items/%d", i),
		Route:         []string{"items", "orders"}[i%2],
		Status:        []int{200, 401, 503}[i%3],
		Decision:      "allowed",
		Reason:        []string{"", "no credential"}[i%2],
		PolicyVersion: int64(7 + i%2),
		LatencyMs:     0.125 * float64(i),
		Listener:      "public",
		KeyID:         []string{"", "key_1"}[i%2],
	}
}

func records(n int) []store.AuditRecord {
	out := make([]store.AuditRecord, n)
	for i := range out {
		out[i] = record(i)
	}
	return out
}

// TestRoundTrip: every field comes back, with consecutive sequence numbers,
// times in UTC to the microsecond, and the batch's summary columns.
func TestRoundTrip(t *testing.T) {
	in := records(10)
	in[3].Time = time.Date(2026, 11, 28, 11, 0, 0, 123456789, time.FixedZone("x", 3600)) // the earliest
	in[4].Path = "/ünïcode/\x1f"
	b := Encode(100, in)
	if b.FirstSeq != 100 || b.Count != 10 {
		t.Fatalf("batch %d from %d", b.Count, b.FirstSeq)
	}
	if b.MinTime != store.Timestamp(in[3].Time).UnixMicro() || b.MaxTime != in[9].Time.UnixMicro() {
		t.Errorf("time span %d..%d", b.MinTime, b.MaxTime)
	}
	if b.Consumers != "\x1falice\x1fbob\x1f\x1f" || b.Routes != "\x1fitems\x1forders\x1f" {
		t.Errorf("consumers %q, routes %q", b.Consumers, b.Routes)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		want := in[i]
		want.Seq, want.Time = int64(100+i), store.Timestamp(want.Time)
		if !reflect.DeepEqual(out[i], want) {
			t.Errorf("record %d = %+v, want %+v", i, out[i], want)
		}
	}
	if empty, err := Decode(Encode(1, nil)); err != nil || len(empty) != 0 {
		t.Errorf("an empty batch: %v, %v", empty, err)
	}
}

// TestCompact: repeated strings are stored once — a typical record takes a
// few dozen bytes.
func TestCompact(t *testing.T) {
	b := Encode(1, records(512))
	if per := len(b.Data) / 512; per > 60 {
		t.Errorf("%d bytes a record", per)
	}
}

// TestDecodeCorrupt: truncated, extended or altered data is an error, never
// a panic or a wrong record count.
func TestDecodeCorrupt(t *testing.T) {
	good := Encode(1, records(5))
	for name, data := range map[string][]byte{
		"empty":     nil,
		"format":    append([]byte{9}, good.Data[1:]...),
		"truncated": good.Data[:len(good.Data)-1],
		"trailing":  append(append([]byte{}, good.Data...), 0),
		"huge":      {formatV1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
	} {
		if recs, err := Decode(Batch{FirstSeq: 1, Data: data}); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %d records, %v", name, len(recs), err)
		}
	}
}

// TestTrim: records before the cutoff go, the rest keep their sequence
// numbers, and the span shrinks.
func TestTrim(t *testing.T) {
	b := Encode(50, records(10))
	cut := record(6).Time
	trimmed, removed, err := Trim(b, cut)
	if err != nil || removed != 6 || trimmed.Count != 4 || trimmed.FirstSeq != 50 {
		t.Fatalf("Trim = %d kept, %d removed, %v", trimmed.Count, removed, err)
	}
	if trimmed.MinTime != cut.UnixMicro() {
		t.Errorf("MinTime %d, want %d", trimmed.MinTime, cut.UnixMicro())
	}
	out, err := Decode(trimmed)
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range out {
		if r.Seq != int64(56+k) || r.RequestID != fmt.Sprintf("req-%d", 6+k) {
			t.Errorf("kept %d: seq %d, %s", k, r.Seq, r.RequestID)
		}
	}
	if all, removed, _ := Trim(b, start.Add(time.Hour)); all.Count != 0 || removed != 10 {
		t.Errorf("trimming all: %d kept, %d removed", all.Count, removed)
	}
}

// memFetch is a Fetch over batches held in order, oldest first, applying
// the prefilter as a backend's query does.
func memFetch(batches []Batch, q store.AuditQuery, calls *int) Fetch {
	return func(below int64, n int) ([]Batch, error) {
		*calls++
		var out []Batch
		for i := len(batches) - 1; i >= 0 && len(out) < n; i-- {
			b := batches[i]
			if (below > 0 && b.FirstSeq >= below) || (!q.Since.IsZero() && b.MaxTime < q.Since.UnixMicro()) ||
				(q.Consumer != "" && !strings.Contains(b.Consumers, Member(q.Consumer))) ||
				(q.Route != "" && !strings.Contains(b.Routes, Member(q.Route))) {
				continue
			}
			out = append(out, b)
		}
		return out, nil
	}
}

// TestPage: pages run across batches and fetches, newest first, with
// filters, and the cursor resumes mid-batch.
func TestPage(t *testing.T) {
	var batches []Batch
	all := records(100 * 7)
	for i := 0; i < len(all); i += 7 {
		batches = append(batches, Encode(int64(i+1), all[i:i+7]))
	}
	for _, q := range []store.AuditQuery{
		{Limit: 33},
		{Limit: 1000},
		{Consumer: "bob", Limit: 10},
		{Route: "orders", Consumer: "", Limit: 250},
		{Since: record(650).Time, Limit: 7},
		{Consumer: "carol"},
	} {
		var want []int64
		for i := len(all) - 1; i >= 0; i-- {
			r := all[i]
			if (q.Consumer == "" || r.Consumer == q.Consumer) && (q.Route == "" || r.Route == q.Route) && !r.Time.Before(q.Since) {
				want = append(want, int64(i+1))
			}
		}
		var got []int64
		calls := 0
		for pages := 0; ; pages++ {
			if pages > 1000 {
				t.Fatal("paging does not end")
			}
			recs, next, err := Page(q, nil, memFetch(batches, q, &calls))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) > q.PageLimit() || (next != "" && len(recs) != q.PageLimit()) {
				t.Fatalf("%+v: a page of %d, next %q", q, len(recs), next)
			}
			for _, r := range recs {
				got = append(got, r.Seq)
			}
			if next == "" {
				break
			}
			q.Cursor = next
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: %v\nwant %v", q, got, want)
		}
	}
	if _, _, err := Page(store.AuditQuery{Cursor: "x"}, nil, nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a bad cursor: %v", err)
	}
}

// FuzzDecode: no input makes Decode panic, and whatever decodes encodes
// back to records that decode the same.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(1, records(3)).Data)
	f.Add(Encode(1, nil).Data)
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Decode(Batch{FirstSeq: 1, Data: data})
		if err != nil {
			return
		}
		again, err := Decode(encode(1, recs, func(i int) int64 { return recs[i].Seq - 1 }))
		if err != nil || !reflect.DeepEqual(again, recs) && len(recs) > 0 {
			t.Fatalf("re-encoded: %v", err)
		}
	})
}

// BenchmarkEncodeSealed encodes and seals a full batch (BatchSize records
// of the audit writer), as a node with a master key does for each commit.
func BenchmarkEncodeSealed(b *testing.B) {
	key, err := secrets.NewKey(bytes.Repeat([]byte{7}, secrets.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	ring, recs := secrets.NewKeyring(key), records(8192)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeSealed(recs, ring); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSealedRoundTrip: a sealed batch opens to the same records, does not
// open without the key, and re-wraps under a new key.
func TestSealedRoundTrip(t *testing.T) {
	k1, _ := secrets.NewKey(bytes.Repeat([]byte{1}, secrets.KeySize))
	k2, _ := secrets.NewKey(bytes.Repeat([]byte{2}, secrets.KeySize))
	b, err := EncodeSealed(records(10), secrets.NewKeyring(k1))
	if err != nil || !IsSealed(b.Data) {
		t.Fatalf("sealed: %v", err)
	}
	if _, err := Unseal(nil, b.Data); err == nil {
		t.Error("opened without a key")
	}
	rewrapped, err := Rewrap(secrets.NewKeyring(k2, k1), b.Data)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Unseal(secrets.NewKeyring(k2), rewrapped)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(Batch{FirstSeq: 1, Data: plain})
	if err != nil || len(out) != 10 || out[9].RequestID != "req-9" {
		t.Errorf("after rewrap: %d records, %v", len(out), err)
	}
}

// FuzzUnmarshalSealed: no stored bytes make the sealed envelope's parser
// panic.
func FuzzUnmarshalSealed(f *testing.F) {
	k, _ := secrets.NewKey(bytes.Repeat([]byte{1}, secrets.KeySize))
	b, _ := EncodeSealed(records(2), secrets.NewKeyring(k))
	f.Add(b.Data)
	f.Add([]byte{formatSealed, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := unmarshalSealed(data)
		if err != nil {
			return
		}
		// Varints may be written longer than need be: compare parsed forms.
		again, err := unmarshalSealed(marshalSealed(rec))
		if err != nil || again.KeyID != rec.KeyID || !bytes.Equal(again.WrappedKey, rec.WrappedKey) ||
			!bytes.Equal(again.Nonce, rec.Nonce) || !bytes.Equal(again.Ciphertext, rec.Ciphertext) {
			t.Fatalf("a parsed envelope does not survive marshalling: %v", err)
		}
	})
}
