package auditbatch

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
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

// aiFacts is what record i adds when it is an AI call.
func aiFacts(i int) *store.AuditAI {
	return &store.AuditAI{
		Provider:         []string{"openai-main", "anthropic"}[i%2],
		Model:            []string{"gpt-4o-mini-2024-07-18", "claude-sonnet-4-5"}[i%2],
		PromptTokens:     int64(1000 + i),
		CompletionTokens: int64(10 * i),
		CostUSD:          float64(387+i) / 1e9,
		Usage:            []string{"provider", "estimated"}[i%2],
		Ended:            []string{"complete", "client_disconnect", "upstream_error"}[i%3],
	}
}

// aiRecords is records(n) with every other record an AI call.
func aiRecords(n int) []store.AuditRecord {
	out := records(n)
	for i := range out {
		if i%2 == 0 {
			out[i].AI = aiFacts(i)
		}
	}
	return out
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
	in := aiRecords(10)
	in[6].AI = &store.AuditAI{} // an AI call that knows nothing yet
	in[8].AI.PromptTokens, in[8].AI.CompletionTokens, in[8].AI.CostUSD = math.MaxInt64, 1<<40, 123456.789012
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
	if b.Data[0] != formatV2 {
		t.Errorf("format %d, want %d", b.Data[0], formatV2)
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

// goldenV1 is what testdata/v1.batch holds: records(6) with an earliest
// time in another zone and an odd path, encoded from sequence 1 by the
// version 1 encoder (which is gone: neither may change).
func goldenV1(t *testing.T) (Batch, []store.AuditRecord) {
	t.Helper()
	data, err := os.ReadFile("testdata/v1.batch")
	if err != nil {
		t.Fatal(err)
	}
	want := records(6)
	want[3].Time = time.Date(2026, 11, 28, 11, 0, 0, 123456789, time.FixedZone("x", 3600))
	want[4].Path = "/ünïcode/\x1f"
	for i := range want {
		want[i].Seq, want[i].Time = int64(1+i), store.Timestamp(want[i].Time)
	}
	return Batch{FirstSeq: 1, Count: 6, Data: data}, want
}

// TestDecodeV1: a batch stored before version 2 reads as it did, without AI
// facts; trimming rewrites it as version 2 with the same records.
func TestDecodeV1(t *testing.T) {
	b, want := goldenV1(t)
	if b.Data[0] != formatV1 {
		t.Fatalf("testdata/v1.batch has format %d", b.Data[0])
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("v1 batch = %+v\nwant %+v", out, want)
	}
	trimmed, removed, err := Trim(b, want[1].Time)
	if err != nil || removed != 2 || trimmed.Data[0] != formatV2 {
		t.Fatalf("Trim of a v1 batch: %d removed, format %d, %v", removed, trimmed.Data[0], err)
	}
	kept := []store.AuditRecord{want[1], want[2], want[4], want[5]} // [3] is the earliest
	if out, err := Decode(trimmed); err != nil || !reflect.DeepEqual(out, kept) {
		t.Errorf("the trimmed v1 batch = %+v, %v\nwant %+v", out, err, kept)
	}
}

// TestV1AndV2 pages over v1 and v2 batches side by side, and trims a sealed
// v1 batch: both read back with their facts.
func TestV1AndV2(t *testing.T) {
	v1, want := goldenV1(t)
	v2 := Encode(7, aiRecords(4))
	q := store.AuditQuery{}
	calls := 0
	recs, next, err := Page(q, nil, memFetch([]Batch{v1, v2}, q, &calls))
	if err != nil || next != "" || len(recs) != 10 {
		t.Fatalf("Page: %d records, next %q, %v", len(recs), next, err)
	}
	if recs[0].Seq != 10 || recs[0].AI != nil || recs[3].AI == nil || *recs[3].AI != *aiFacts(0) {
		t.Errorf("v2 records: %+v", recs[:4])
	}
	for i, r := range recs[4:] {
		if w := want[5-i]; !reflect.DeepEqual(r, w) {
			t.Errorf("v1 record %d = %+v, want %+v", r.Seq, r, w)
		}
	}

	key, _ := secrets.NewKey(bytes.Repeat([]byte{1}, secrets.KeySize))
	ring := secrets.NewKeyring(key)
	sealed := v1
	if sealed.Data, err = Seal(ring, v1.Data); err != nil {
		t.Fatal(err)
	}
	var updated Batch
	removed, err := TrimEach([]Batch{sealed}, want[5].Time, ring, func(b Batch) error { updated = b; return nil })
	if err != nil || removed != 5 || !IsSealed(updated.Data) {
		t.Fatalf("TrimEach of a sealed v1 batch: %d removed, sealed %v, %v", removed, IsSealed(updated.Data), err)
	}
	plain, err := Unseal(ring, updated.Data)
	if err != nil || plain[0] != formatV2 {
		t.Fatalf("unsealed the trimmed batch: %v", err)
	}
	updated.Data = plain
	if out, err := Decode(updated); err != nil || len(out) != 1 || !reflect.DeepEqual(out[0], want[5]) {
		t.Errorf("after TrimEach: %+v, %v", out, err)
	}
}

// TestCost: costs are kept to the nano-dollar, rounded; a cost that is no
// amount is 0 and one beyond any call is capped, so every stored cost
// encodes back to itself.
func TestCost(t *testing.T) {
	for _, tc := range []struct {
		usd  float64
		want uint64
	}{
		{0, 0}, {0.000387, 387000}, {4e-10, 0}, {5e-10, 1}, {6e-8, 60}, {12.3456784, 12345678400}, {-1, 0},
		{math.NaN(), 0}, {math.Inf(1), maxNanoUSD}, {1e12, maxNanoUSD},
	} {
		if got := nanoUSD(tc.usd); got != tc.want {
			t.Errorf("nanoUSD(%v) = %d, want %d", tc.usd, got, tc.want)
		}
	}
	for _, m := range []uint64{0, 1, 387, 999_999, 1 << 40, maxNanoUSD - 1, maxNanoUSD} {
		if got := nanoUSD(float64(m) / 1e9); got != m {
			t.Errorf("%d nano-dollars encode back as %d", m, got)
		}
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
	v1, _ := goldenV1(t)
	// One record with AI facts: strings "", "p", "m"; base time 0; the v1
	// fields all 0; flag, provider 1, model 2, tokens 3 and 4, cost, usage
	// 0, ended 0.
	ai := func(flag byte, cost ...byte) []byte {
		out := []byte{formatV2, 1, 3, 0, 1, 'p', 1, 'm', 0}
		out = append(out, make([]byte, 15)...)
		out = append(out, flag, 1, 2, 3, 4)
		return append(append(out, cost...), 0, 0)
	}
	okAI := ai(1, 5)
	if recs, err := Decode(Batch{FirstSeq: 1, Data: okAI}); err != nil || len(recs) != 1 ||
		*recs[0].AI != (store.AuditAI{Provider: "p", Model: "m", PromptTokens: 3, CompletionTokens: 4, CostUSD: 5e-9}) {
		t.Fatalf("the hand-made v2 batch: %+v, %v", recs, err)
	}
	for name, data := range map[string][]byte{
		"empty":        nil,
		"format":       append([]byte{9}, good.Data[1:]...),
		"sealed byte":  append([]byte{formatSealed}, good.Data[1:]...),
		"v2 as v1":     append([]byte{formatV1}, good.Data[1:]...),
		"v1 as v2":     append([]byte{formatV2}, v1.Data[1:]...),
		"truncated":    good.Data[:len(good.Data)-1],
		"trailing":     append(append([]byte{}, good.Data...), 0),
		"huge":         {formatV1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"huge v2":      {formatV2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"AI flag":      ai(2, 5),
		"AI cost":      ai(1, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), // maxNanoUSD+1
		"AI truncated": okAI[:len(okAI)-3],
		"AI as v1":     append([]byte{formatV1}, okAI[1:]...),
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

// FuzzDecode: no input makes Decode panic, and whatever decodes (version 1
// or 2) encodes back to records that decode the same.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(1, records(3)).Data)
	f.Add(Encode(1, aiRecords(3)).Data)
	f.Add(Encode(1, nil).Data)
	if v1, err := os.ReadFile("testdata/v1.batch"); err == nil { // Encode writes only version 2
		f.Add(v1)
	}
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
