package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

func mustCreateBlock(t *testing.T, s store.Store, b store.Block) store.Block {
	t.Helper()
	got, err := s.CreateBlock(ctx(t), b)
	if err != nil {
		t.Fatalf("CreateBlock(%q): %v", b.ID, err)
	}
	return got
}

// block returns a valid block that expires after ttl.
func block(id, kind, value string, ttl time.Duration) store.Block {
	return store.Block{ID: id, Kind: kind, Value: value, Reason: "incident " + id, Author: "admin", ExpiresAt: time.Now().Add(ttl)}
}

func testBlocks(t *testing.T, st Storage) {
	s := open(t, st)
	if bs, err := s.Blocks(ctx(t), time.Now()); err != nil || len(bs) != 0 {
		t.Fatalf("Blocks on an empty store = %v, %v", bs, err)
	}
	before := store.Timestamp(time.Now())
	expires := time.Date(2031, 2, 3, 4, 5, 6, 789123456, time.FixedZone("CET", 3600))
	b1 := mustCreateBlock(t, s, store.Block{ID: "b1", Kind: store.BlockIP, Value: " 10.1.2.3/8 ", Reason: "scanning", Author: "alice", ExpiresAt: expires})
	want := store.Block{ID: "b1", Kind: store.BlockIP, Value: "10.0.0.0/8", Reason: "scanning", Author: "alice",
		CreatedAt: b1.CreatedAt, ExpiresAt: store.Timestamp(expires)}
	if !reflect.DeepEqual(b1, want) {
		t.Errorf("CreateBlock = %+v, want %+v", b1, want)
	}
	if b1.CreatedAt.Before(before) || b1.CreatedAt != store.Timestamp(b1.CreatedAt) || b1.ExpiresAt.Location() != time.UTC {
		t.Errorf("times %v, %v: want the time of creation and the expiry in UTC to the microsecond", b1.CreatedAt, b1.ExpiresAt)
	}
	b2 := mustCreateBlock(t, s, block("b2", store.BlockIP, "::ffff:192.0.2.7", time.Hour))
	b3 := mustCreateBlock(t, s, block("b3", store.BlockIP, "2001:db8::1/128", time.Hour))
	b4 := mustCreateBlock(t, s, block("b4", store.BlockConsumer, "mallory", time.Hour))
	b5 := mustCreateBlock(t, s, block("b5", store.BlockKey, "key_0123", time.Hour))
	if b2.Value != "192.0.2.7" || b3.Value != "2001:db8::1" {
		t.Errorf("normalized values %q, %q; want 192.0.2.7 and 2001:db8::1", b2.Value, b3.Value)
	}
	_, err := s.CreateBlock(ctx(t), block("b1", store.BlockKey, "other", time.Hour))
	wantErr(t, "a duplicate id", err, store.ErrExists)

	all, err := s.Blocks(ctx(t), time.Now())
	if err != nil || !reflect.DeepEqual(all, []store.Block{b1, b2, b3, b4, b5}) {
		t.Fatalf("Blocks = %+v, %v; want b1…b5 oldest first", all, err)
	}

	removed, ok, err := s.RemoveBlock(ctx(t), "b4")
	if err != nil || !ok || removed.RemovedAt == nil || removed.RemovedAt.Before(b4.CreatedAt) || *removed.RemovedAt != store.Timestamp(*removed.RemovedAt) || removed.Value != "mallory" {
		t.Fatalf("RemoveBlock(b4) = %+v, %v, %v; want b4 removed now", removed, ok, err)
	}
	again, ok, err := s.RemoveBlock(ctx(t), "b4")
	if err != nil || ok || !reflect.DeepEqual(again, removed) {
		t.Errorf("removing again = %+v, %v, %v; want unchanged %+v, not removed by this call", again, ok, err, removed)
	}
	_, _, err = s.RemoveBlock(ctx(t), "nope")
	wantErr(t, "removing an unknown block", err, store.ErrNotFound)
	if all, err := s.Blocks(ctx(t), time.Now()); err != nil || !reflect.DeepEqual(all, []store.Block{b1, b2, b3, b5}) {
		t.Errorf("Blocks after removing b4 = %+v, %v; want b1, b2, b3, b5", all, err)
	}
	// Expiry: the list is as of the time asked about, whatever the clock.
	if all, err := s.Blocks(ctx(t), b2.ExpiresAt.Add(-time.Microsecond)); err != nil || len(all) != 4 {
		t.Errorf("Blocks just before b2 expires = %+v, %v; want 4", all, err)
	}
	if all, err := s.Blocks(ctx(t), b2.ExpiresAt); err != nil || !reflect.DeepEqual(all, []store.Block{b1, b3, b5}) {
		t.Errorf("Blocks when b2 expired = %+v, %v; want b1, b3, b5", all, err)
	}
	if all, err := s.Blocks(ctx(t), b5.ExpiresAt); err != nil || !reflect.DeepEqual(all, []store.Block{b1}) {
		t.Errorf("Blocks when the hour is up = %+v, %v; want b1 only", all, err)
	}
	if all, err := s.Blocks(ctx(t), b1.ExpiresAt); err != nil || len(all) != 0 {
		t.Errorf("Blocks when b1 expired = %+v, %v; want none", all, err)
	}
}

func testInvalidBlocks(t *testing.T, st Storage) {
	s := open(t, st)
	now := time.Now()
	for name, b := range map[string]store.Block{
		"no id":           {Kind: store.BlockIP, Value: "192.0.2.1", Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"unknown kind":    {ID: "x", Kind: "route", Value: "r1", Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"bad address":     {ID: "x", Kind: store.BlockIP, Value: "192.0.2.300", Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"bad CIDR":        {ID: "x", Kind: store.BlockIP, Value: "10.0.0.0/33", Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"zone":            {ID: "x", Kind: store.BlockIP, Value: "fe80::1%eth0", Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"no consumer":     {ID: "x", Kind: store.BlockConsumer, Value: " ", Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"no key":          {ID: "x", Kind: store.BlockKey, Reason: "r", ExpiresAt: now.Add(time.Hour)},
		"no reason":       {ID: "x", Kind: store.BlockConsumer, Value: "c", Reason: "  ", ExpiresAt: now.Add(time.Hour)},
		"no expiry":       {ID: "x", Kind: store.BlockConsumer, Value: "c", Reason: "r"},
		"expired":         {ID: "x", Kind: store.BlockConsumer, Value: "c", Reason: "r", ExpiresAt: now.Add(-time.Second)},
		"removed already": {ID: "x", Kind: store.BlockConsumer, Value: "c", Reason: "r", ExpiresAt: now.Add(time.Hour), RemovedAt: &now},
	} {
		_, err := s.CreateBlock(ctx(t), b)
		wantErr(t, name, err, store.ErrInvalid)
	}
	if all, err := s.Blocks(ctx(t), now); err != nil || len(all) != 0 {
		t.Errorf("after invalid blocks, Blocks = %+v, %v; want none", all, err)
	}
}

func testBlocksChangedSince(t *testing.T, st Storage) {
	s := open(t, st)
	bs, next, err := s.BlocksChangedSince(ctx(t), 0)
	if err != nil || len(bs) != 0 || next != 0 {
		t.Fatalf("BlocksChangedSince(0) on an empty store = %v, %d, %v", bs, next, err)
	}
	b1 := mustCreateBlock(t, s, block("b1", store.BlockIP, "192.0.2.1", time.Hour))
	b2 := mustCreateBlock(t, s, block("b2", store.BlockConsumer, "mallory", time.Hour))
	bs, c1, err := s.BlocksChangedSince(ctx(t), 0)
	if err != nil || !reflect.DeepEqual(bs, []store.Block{b1, b2}) || c1 <= 0 {
		t.Fatalf("BlocksChangedSince(0) = %+v, %d, %v; want b1, b2", bs, c1, err)
	}
	if cur, err := s.BlockCursor(ctx(t)); err != nil || cur != c1 {
		t.Errorf("BlockCursor = %d, %v; want %d, the newest change's", cur, err, c1)
	}
	bs, c, err := s.BlocksChangedSince(ctx(t), c1)
	if err != nil || len(bs) != 0 || c != c1 {
		t.Errorf("BlocksChangedSince(%d) with no change = %+v, %d, %v; want none and the same cursor", c1, bs, c, err)
	}
	if _, _, err := s.RemoveBlock(ctx(t), "b1"); err != nil {
		t.Fatal(err)
	}
	bs, c2, err := s.BlocksChangedSince(ctx(t), c1)
	if err != nil || len(bs) != 1 || bs[0].ID != "b1" || bs[0].RemovedAt == nil || c2 <= c1 {
		t.Fatalf("BlocksChangedSince(%d) after a removal = %+v, %d, %v; want b1 removed and a later cursor", c1, bs, c2, err)
	}
	b3 := mustCreateBlock(t, s, block("b3", store.BlockKey, "key_1", time.Hour))
	bs, _, err = s.BlocksChangedSince(ctx(t), c2)
	if err != nil || !reflect.DeepEqual(bs, []store.Block{b3}) {
		t.Errorf("BlocksChangedSince(%d) = %+v, %v; want b3", c2, bs, err)
	}
	// From the start, each block appears once, in the order of its last change.
	bs, _, err = s.BlocksChangedSince(ctx(t), 0)
	if err != nil || len(bs) != 3 || bs[0].ID != "b2" || bs[1].ID != "b1" || bs[2].ID != "b3" {
		t.Errorf("BlocksChangedSince(0) = %+v, %v; want b2, b1 (removed), b3", bs, err)
	}
	// The block sequence is its own: other kinds' writes do not move it.
	mustCreateConsumer(t, s, "alice")
	mustCreateKey(t, s, store.Key{ID: "k1", Consumer: "alice", Hash: keyHash("k1")})
	_, c3, err := s.BlocksChangedSince(ctx(t), 0)
	if err != nil || c3 != c2+1 {
		t.Errorf("the block cursor after key writes = %d, %v; want %d", c3, err, c2+1)
	}
}

func testWatchBlocks(t *testing.T, st Storage) {
	s := open(t, st)
	ch, err := s.Watch(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	mustCreateBlock(t, s, block("b1", store.BlockIP, "192.0.2.1", time.Hour))
	_, c1, err := s.BlocksChangedSince(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	WaitForChange(t, ch, store.KindBlocks, c1, time.Second)
	if _, _, err := s.RemoveBlock(ctx(t), "b1"); err != nil {
		t.Fatal(err)
	}
	WaitForChange(t, ch, store.KindBlocks, c1+1, time.Second)
}
