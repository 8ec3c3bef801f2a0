// Package auditbatch is how both store backends keep the audit trail: one
// row per batch the audit writer appends, not one per call. A row holds its
// records encoded together (Encode) beside the few columns a query narrows
// on — the batch's first sequence number, its time span, and the distinct
// consumers and routes in it — and Page reads them back newest first.
//
// Why: a row per call with its indexes cost the store about 15 µs a record
// on SQLite, a fifth of the gateway's CPU at 14,000 requests/s; a batch row
// costs one insert per batch (thousands of calls under load). The encoding is compact — every distinct
// string of a batch is written once — so the trail is also a third of the
// size on disk.
package auditbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Batch is one stored row: a batch of records of consecutive sequence
// numbers from FirstSeq (fewer once pruning has trimmed it).
type Batch struct {
	FirstSeq int64
	Count    int
	// MinTime and MaxTime are the earliest and latest record times, in
	// Unix microseconds.
	MinTime, MaxTime int64
	// Consumers and Routes list the batch's distinct consumers and routes,
	// each as Member(value): a query finds the batches that may hold a
	// consumer with a substring search for Member(consumer).
	Consumers, Routes string
	Data              []byte
}

// sep delimits the values of Batch.Consumers and Batch.Routes.
const sep = "\x1f"

// Member is how value appears in Batch.Consumers or Batch.Routes.
func Member(value string) string { return sep + value + sep }

// The first byte of Data is its format. Version 1:
//
//	uvarint record count, uvarint string count, then each string as
//	uvarint length and bytes; varint base time (Unix µs); then per record:
//	uvarint sequence offset from FirstSeq, varint time offset from the base
//	(µs), ten uvarint string indexes (request id, consumer, client IP,
//	method, path, route, decision, reason, listener, key id), varint
//	status, varint policy version, varint latency (µs).
//
// Version 2 (AI calls' facts) is version 1 with, per record after the
// latency, a uvarint flag: 0, or 1 and the record's AuditAI — uvarint
// string indexes of provider and model, uvarint prompt and completion
// tokens, uvarint cost in nano-dollars (rounded; at most maxNanoUSD),
// uvarint string indexes of usage and ended.
//
// Encode writes version 2; Decode reads both, so batches stored before
// version 2 stay readable (and are rewritten as version 2 when trimmed).
// Version 2's byte is 3, not 2: a first byte of 2 is a sealed batch
// (formatSealed).
const (
	formatV1 = 1
	formatV2 = 3
)

// maxNanoUSD bounds a stored cost (about $1.1 million, far beyond any
// call): this far within float64's 2^53, every stored cost decodes to a
// float64 that encodes back to the same nano-dollars (FuzzDecode).
const maxNanoUSD = 1 << 50

// Encode returns records as a new batch starting at sequence firstSeq: the
// records get firstSeq, firstSeq+1, and so on, in order.
func Encode(firstSeq int64, records []store.AuditRecord) Batch {
	return encode(firstSeq, records, func(i int) int64 { return int64(i) })
}

// EncodeSealed is Encode with the data sealed by s (in clear when s is nil).
func EncodeSealed(records []store.AuditRecord, s Sealer) (Batch, error) {
	b := Encode(0, records)
	if s == nil {
		return b, nil
	}
	var err error
	b.Data, err = Seal(s, b.Data)
	return b, err
}

// encode returns records as a batch from firstSeq, the record i at
// firstSeq+offset(i).
func encode(firstSeq int64, records []store.AuditRecord, offset func(i int) int64) Batch {
	b := Batch{FirstSeq: firstSeq, Count: len(records), MinTime: math.MaxInt64, MaxTime: math.MinInt64}
	if len(records) == 0 {
		b.MinTime, b.MaxTime = 0, 0
	}
	for _, r := range records {
		t := store.Timestamp(r.Time).UnixMicro()
		b.MinTime, b.MaxTime = min(b.MinTime, t), max(b.MaxTime, t)
	}
	var (
		index     = make(map[string]uint64, 64)
		strs      []string
		body      = make([]byte, 0, len(records)*24)
		consumers = newSet()
		routes    = newSet()
	)
	str := func(s string) {
		i, ok := index[s]
		if !ok {
			i = uint64(len(strs))
			index[s] = i
			strs = append(strs, s)
		}
		body = binary.AppendUvarint(body, i)
	}
	for i, r := range records {
		body = binary.AppendUvarint(body, uint64(offset(i)))
		body = binary.AppendVarint(body, store.Timestamp(r.Time).UnixMicro()-b.MinTime)
		for _, s := range [...]string{r.RequestID, r.Consumer, r.ClientIP, r.Method, r.Path, r.Route, r.Decision, r.Reason, r.Listener, r.KeyID} {
			str(s)
		}
		body = binary.AppendVarint(body, int64(r.Status))
		body = binary.AppendVarint(body, r.PolicyVersion)
		body = binary.AppendVarint(body, int64(math.Round(r.LatencyMs*1000)))
		if ai := r.AI; ai == nil {
			body = append(body, 0)
		} else {
			body = append(body, 1)
			str(ai.Provider)
			str(ai.Model)
			body = binary.AppendUvarint(body, uint64(ai.PromptTokens))
			body = binary.AppendUvarint(body, uint64(ai.CompletionTokens))
			body = binary.AppendUvarint(body, nanoUSD(ai.CostUSD))
			str(ai.Usage)
			str(ai.Ended)
		}
		consumers.add(r.Consumer)
		routes.add(r.Route)
	}
	size := 1 + 2*binary.MaxVarintLen64 + len(body) + binary.MaxVarintLen64
	for _, s := range strs {
		size += binary.MaxVarintLen64 + len(s)
	}
	data := make([]byte, 0, size)
	data = append(data, formatV2)
	data = binary.AppendUvarint(data, uint64(len(records)))
	data = binary.AppendUvarint(data, uint64(len(strs)))
	for _, s := range strs {
		data = binary.AppendUvarint(data, uint64(len(s)))
		data = append(data, s...)
	}
	data = binary.AppendVarint(data, b.MinTime)
	b.Data = append(data, body...)
	b.Consumers, b.Routes = consumers.String(), routes.String()
	return b
}

// nanoUSD is usd in whole nano-dollars, within 0..maxNanoUSD (a negative
// or NaN cost is 0).
func nanoUSD(usd float64) uint64 {
	m := math.Round(usd * 1e9)
	switch {
	case !(m > 0):
		return 0
	case m > maxNanoUSD:
		return maxNanoUSD
	}
	return uint64(m)
}

// set collects distinct values for Batch.Consumers and Batch.Routes.
type set struct {
	seen map[string]bool
	b    strings.Builder
}

func newSet() *set { return &set{seen: map[string]bool{}} }

func (s *set) add(v string) {
	if s.seen[v] {
		return
	}
	s.seen[v] = true
	if s.b.Len() == 0 {
		s.b.WriteString(sep)
	}
	s.b.WriteString(v)
	s.b.WriteString(sep)
}

func (s *set) String() string { return s.b.String() }

// errCorrupt is wrapped by every Decode error.
var errCorrupt = errors.New("corrupt audit batch")

// Decode returns the records of b, oldest first, each with its sequence
// number. It never panics, whatever Data holds.
func Decode(b Batch) ([]store.AuditRecord, error) {
	d := decoder{data: b.Data}
	if len(d.data) == 0 || (d.data[0] != formatV1 && d.data[0] != formatV2) {
		return nil, fmt.Errorf("%w %d: unknown format", errCorrupt, b.FirstSeq)
	}
	v2 := d.data[0] == formatV2
	d.data = d.data[1:]
	// Every record and every string takes at least a byte: counts above
	// the data's length are corrupt, and never allocate.
	count := d.uvarint()
	nstrs := d.uvarint()
	if count > uint64(len(d.data)) || nstrs > uint64(len(d.data)) {
		return nil, fmt.Errorf("%w %d: counts beyond its size", errCorrupt, b.FirstSeq)
	}
	strs := make([]string, nstrs)
	for i := range strs {
		n := d.uvarint()
		if n > uint64(len(d.data)) {
			d.err = true
			break
		}
		strs[i], d.data = string(d.data[:n]), d.data[n:]
	}
	base := d.varint()
	str := func() string {
		i := d.uvarint()
		if i >= uint64(len(strs)) {
			d.err = true
			return ""
		}
		return strs[i]
	}
	out := make([]store.AuditRecord, 0, count)
	for range count {
		if d.err {
			break
		}
		var r store.AuditRecord
		r.Seq = b.FirstSeq + int64(d.uvarint())
		r.Time = time.UnixMicro(base + d.varint()).UTC()
		r.RequestID, r.Consumer, r.ClientIP, r.Method, r.Path = str(), str(), str(), str(), str()
		r.Route, r.Decision, r.Reason, r.Listener, r.KeyID = str(), str(), str(), str(), str()
		r.Status = int(d.varint())
		r.PolicyVersion = d.varint()
		r.LatencyMs = float64(d.varint()) / 1000
		if v2 {
			r.AI = d.ai(str)
		}
		out = append(out, r)
	}
	if d.err || len(d.data) != 0 {
		return nil, fmt.Errorf("%w %d: truncated or trailing bytes", errCorrupt, b.FirstSeq)
	}
	return out, nil
}

// ai reads a version 2 record's AI flag and, when set, its AuditAI, with
// str reading a string index.
func (d *decoder) ai(str func() string) *store.AuditAI {
	switch d.uvarint() {
	case 0:
		return nil
	case 1:
	default:
		d.err = true
		return nil
	}
	var ai store.AuditAI
	ai.Provider, ai.Model = str(), str()
	ai.PromptTokens, ai.CompletionTokens = int64(d.uvarint()), int64(d.uvarint())
	cost := d.uvarint()
	if cost > maxNanoUSD {
		d.err = true
	}
	ai.CostUSD = float64(cost) / 1e9
	ai.Usage, ai.Ended = str(), str()
	return &ai
}

// decoder reads varints, remembering the first failure.
type decoder struct {
	data []byte
	err  bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.err, d.data = true, nil
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.data)
	if n <= 0 {
		d.err, d.data = true, nil
		return 0
	}
	d.data = d.data[n:]
	return v
}

// Trim returns b without its records older than before, and how many it
// removed. The records kept keep their sequence numbers.
func Trim(b Batch, before time.Time) (Batch, int, error) {
	recs, err := Decode(b)
	if err != nil {
		return Batch{}, 0, err
	}
	cut := store.Timestamp(before)
	kept := recs[:0]
	for _, r := range recs {
		if !r.Time.Before(cut) {
			kept = append(kept, r)
		}
	}
	return encode(b.FirstSeq, kept, func(i int) int64 { return kept[i].Seq - b.FirstSeq }), len(recs) - len(kept), nil
}

// TrimEach trims the records older than before out of each batch (see
// Trim), hands each result to update (which stores it), and returns how
// many records it removed in all.
// Sealed batches are opened with s and the trimmed ones sealed again.
func TrimEach(batches []Batch, before time.Time, s Sealer, update func(Batch) error) (int64, error) {
	var removed int64
	for _, b := range batches {
		sealed := IsSealed(b.Data)
		var err error
		if b.Data, err = Unseal(s, b.Data); err != nil {
			return removed, err
		}
		t, n, err := Trim(b, before)
		if err != nil {
			return removed, err
		}
		if sealed {
			if t.Data, err = Seal(s, t.Data); err != nil {
				return removed, err
			}
		}
		if err := update(t); err != nil {
			return removed, err
		}
		removed += int64(n)
	}
	return removed, nil
}

// Fetch returns up to n batches that may hold records of q, newest first:
// those with FirstSeq below below (all when below is 0), MaxTime at or after
// q.Since (when set) and, when q names them, Member(q.Consumer) in
// Consumers and Member(q.Route) in Routes.
type Fetch func(below int64, n int) ([]Batch, error)

// fetchSize is how many batches Page asks Fetch for at a time.
const fetchSize = 4

// Page returns a page of q's records, newest first, and the cursor of the
// next page ("" when none remain), reading batches through fetch and
// opening sealed ones with s.
func Page(q store.AuditQuery, s Sealer, fetch Fetch) ([]store.AuditRecord, string, error) {
	below, err := store.ParseAuditCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	since := store.Timestamp(q.Since)
	limit := q.PageLimit()
	var out []store.AuditRecord
	for {
		batches, err := fetch(below, fetchSize)
		if err != nil {
			return nil, "", err
		}
		for _, b := range batches {
			if b.Data, err = Unseal(s, b.Data); err != nil {
				return nil, "", err
			}
			recs, err := Decode(b)
			if err != nil {
				return nil, "", err
			}
			for i := len(recs) - 1; i >= 0; i-- {
				r := recs[i]
				if (below > 0 && r.Seq >= below) || (q.Consumer != "" && r.Consumer != q.Consumer) ||
					(q.Route != "" && r.Route != q.Route) || (!q.Since.IsZero() && r.Time.Before(since)) {
					continue
				}
				// One more than the page tells whether another follows.
				if len(out) == limit {
					return out, store.AuditCursor(out[limit-1].Seq), nil
				}
				out = append(out, r)
			}
		}
		if len(batches) < fetchSize {
			return out, "", nil
		}
		below = batches[len(batches)-1].FirstSeq
	}
}
