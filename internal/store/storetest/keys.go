package storetest

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// keyHash returns the SHA-256 of a made-up key.
func keyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func mustCreateConsumer(t *testing.T, s store.Store, name string, roles ...string) store.Consumer {
	t.Helper()
	c, err := s.CreateConsumer(ctx(t), store.Consumer{Name: name, Roles: roles})
	if err != nil {
		t.Fatalf("CreateConsumer(%q): %v", name, err)
	}
	return c
}

func mustCreateKey(t *testing.T, s store.Store, k store.Key) store.Key {
	t.Helper()
	got, err := s.CreateKey(ctx(t), k)
	if err != nil {
		t.Fatalf("CreateKey(%q): %v", k.ID, err)
	}
	return got
}

func testConsumers(t *testing.T, st Storage) {
	s := open(t, st)
	before := store.Timestamp(time.Now())
	bob := mustCreateConsumer(t, s, "bob", "reader", "writer")
	alice := mustCreateConsumer(t, s, "alice")
	if alice.Roles != nil || !reflect.DeepEqual(bob.Roles, []string{"reader", "writer"}) {
		t.Errorf("roles: alice %#v, bob %#v", alice.Roles, bob.Roles)
	}
	if bob.CreatedAt.Before(before) || bob.CreatedAt != store.Timestamp(bob.CreatedAt) {
		t.Errorf("createdAt %v: want the time of creation in UTC to the microsecond", bob.CreatedAt)
	}
	_, err := s.CreateConsumer(ctx(t), store.Consumer{Name: "bob"})
	wantErr(t, "a second bob", err, store.ErrExists)
	_, err = s.CreateConsumer(ctx(t), store.Consumer{Name: ""})
	wantErr(t, "a consumer without a name", err, store.ErrInvalid)
	_, err = s.CreateConsumer(ctx(t), store.Consumer{Name: "eve", Roles: []string{""}})
	wantErr(t, "an empty role", err, store.ErrInvalid)

	got, err := s.Consumer(ctx(t), "bob")
	if err != nil || !reflect.DeepEqual(got, bob) {
		t.Errorf("Consumer(bob) = %+v, %v; want %+v", got, err, bob)
	}
	all, err := s.Consumers(ctx(t))
	if err != nil || !reflect.DeepEqual(all, []store.Consumer{alice, bob}) {
		t.Errorf("Consumers = %+v, %v; want alice and bob", all, err)
	}
}

func testKeys(t *testing.T, st Storage) {
	s := open(t, st)
	mustCreateConsumer(t, s, "alice")
	mustCreateConsumer(t, s, "bob")
	expires := time.Date(2031, 2, 3, 4, 5, 6, 789123456, time.FixedZone("CET", 3600))
	k1 := mustCreateKey(t, s, store.Key{ID: "k1", Consumer: "alice", Name: "ci", Hash: keyHash("secret-1"), Prefix: "pc_1a2b", ExpiresAt: &expires})
	if k1.ExpiresAt == nil || !k1.ExpiresAt.Equal(store.Timestamp(expires)) || k1.ExpiresAt.Location() != time.UTC {
		t.Errorf("expiresAt %v: want %v in UTC to the microsecond", k1.ExpiresAt, store.Timestamp(expires))
	}
	if k1.RevokedAt != nil || k1.CreatedAt.IsZero() || k1.CreatedAt != store.Timestamp(k1.CreatedAt) {
		t.Errorf("new key %+v: want createdAt set and not revoked", k1)
	}
	k2 := mustCreateKey(t, s, store.Key{ID: "k2", Consumer: "alice", Hash: keyHash("secret-2"), Prefix: "pc_9z"})
	mustCreateKey(t, s, store.Key{ID: "k3", Consumer: "bob", Hash: keyHash("secret-3")})

	for name, k := range map[string]store.Key{
		"duplicate id":   {ID: "k1", Consumer: "alice", Hash: keyHash("other")},
		"duplicate hash": {ID: "k9", Consumer: "bob", Hash: keyHash("secret-1")},
	} {
		_, err := s.CreateKey(ctx(t), k)
		wantErr(t, name, err, store.ErrExists)
	}
	now := time.Now()
	for name, k := range map[string]store.Key{
		"short hash":      {ID: "k9", Consumer: "alice", Hash: []byte("short")},
		"no id":           {Consumer: "alice", Hash: keyHash("x")},
		"no consumer":     {ID: "k9", Hash: keyHash("x")},
		"revoked already": {ID: "k9", Consumer: "alice", Hash: keyHash("x"), RevokedAt: &now},
	} {
		_, err := s.CreateKey(ctx(t), k)
		wantErr(t, name, err, store.ErrInvalid)
	}

	got, err := s.KeyByHash(ctx(t), keyHash("secret-1"))
	if err != nil || !reflect.DeepEqual(got, k1) {
		t.Errorf("KeyByHash = %+v, %v; want %+v", got, err, k1)
	}
	keys, err := s.Keys(ctx(t), "alice")
	if err != nil || !reflect.DeepEqual(keys, []store.Key{k1, k2}) {
		t.Errorf("Keys(alice) = %+v, %v; want k1, k2", keys, err)
	}

	if err := s.RevokeKey(ctx(t), "k1"); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	revoked, err := s.KeyByHash(ctx(t), keyHash("secret-1"))
	if err != nil || revoked.RevokedAt == nil || revoked.RevokedAt.Before(k1.CreatedAt) || *revoked.RevokedAt != store.Timestamp(*revoked.RevokedAt) {
		t.Fatalf("revoked key = %+v, %v; want revokedAt set", revoked, err)
	}
	if err := s.RevokeKey(ctx(t), "k1"); err != nil {
		t.Errorf("revoking again: %v, want nil", err)
	}
	again, err := s.KeyByHash(ctx(t), keyHash("secret-1"))
	if err != nil || !reflect.DeepEqual(again, revoked) {
		t.Errorf("after revoking again = %+v, %v; want unchanged %+v", again, err, revoked)
	}
}

func testKeysChangedSince(t *testing.T, st Storage) {
	s := open(t, st)
	keys, next, err := s.KeysChangedSince(ctx(t), 0)
	if err != nil || len(keys) != 0 || next != 0 {
		t.Fatalf("KeysChangedSince(0) on an empty store = %v, %d, %v", keys, next, err)
	}
	mustCreateConsumer(t, s, "alice")
	k1 := mustCreateKey(t, s, store.Key{ID: "k1", Consumer: "alice", Hash: keyHash("1")})
	k2 := mustCreateKey(t, s, store.Key{ID: "k2", Consumer: "alice", Hash: keyHash("2")})
	keys, c1, err := s.KeysChangedSince(ctx(t), 0)
	if err != nil || !reflect.DeepEqual(keys, []store.Key{k1, k2}) || c1 <= 0 {
		t.Fatalf("KeysChangedSince(0) = %+v, %d, %v; want k1, k2", keys, c1, err)
	}
	keys, c, err := s.KeysChangedSince(ctx(t), c1)
	if err != nil || len(keys) != 0 || c != c1 {
		t.Errorf("KeysChangedSince(%d) with no change = %+v, %d, %v; want none and the same cursor", c1, keys, c, err)
	}

	if err := s.RevokeKey(ctx(t), "k1"); err != nil {
		t.Fatal(err)
	}
	keys, c2, err := s.KeysChangedSince(ctx(t), c1)
	if err != nil || len(keys) != 1 || keys[0].ID != "k1" || keys[0].RevokedAt == nil || c2 <= c1 {
		t.Fatalf("KeysChangedSince(%d) after a revocation = %+v, %d, %v; want k1 revoked and a later cursor", c1, keys, c2, err)
	}
	k3 := mustCreateKey(t, s, store.Key{ID: "k3", Consumer: "alice", Hash: keyHash("3")})
	keys, _, err = s.KeysChangedSince(ctx(t), c2)
	if err != nil || !reflect.DeepEqual(keys, []store.Key{k3}) {
		t.Errorf("KeysChangedSince(%d) = %+v, %v; want k3", c2, keys, err)
	}
	// From the start, each key appears once, in the order of its last change.
	keys, _, err = s.KeysChangedSince(ctx(t), 0)
	if err != nil || len(keys) != 3 || keys[0].ID != "k2" || keys[1].ID != "k1" || keys[2].ID != "k3" {
		t.Errorf("KeysChangedSince(0) = %+v, %v; want k2, k1 (revoked), k3", keys, err)
	}
}

// testKeysChangedSinceConcurrent checks that a follower polling with the
// cursor sees every change made by concurrent writers: the sequence must
// increase in commit order.
func testKeysChangedSinceConcurrent(t *testing.T, st Storage) {
	s := open(t, st)
	mustCreateConsumer(t, s, "alice")
	const writers, perWriter = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("k-%d-%d", w, i)
				if _, err := s.CreateKey(ctx(t), store.Key{ID: id, Consumer: "alice", Hash: keyHash(id)}); err != nil {
					errs <- err
				}
				if i%2 == 0 {
					if err := s.RevokeKey(ctx(t), id); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]store.Key{}
	var cursor int64
	follow := func() {
		keys, next, err := s.KeysChangedSince(ctx(t), cursor)
		if err != nil {
			t.Fatal(err)
		}
		if next < cursor {
			t.Fatalf("cursor went back from %d to %d", cursor, next)
		}
		cursor = next
		for _, k := range keys {
			seen[k.ID] = k
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one last look after the writers stopped
		default:
		}
		follow()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != writers*perWriter {
		t.Errorf("the follower saw %d keys, want %d", len(seen), writers*perWriter)
	}
	for id, k := range seen {
		var w, i int
		fmt.Sscanf(id, "k-%d-%d", &w, &i)
		if (k.RevokedAt != nil) != (i%2 == 0) {
			t.Errorf("the follower's copy of %s: revokedAt %v, want revoked = %v", id, k.RevokedAt, i%2 == 0)
		}
	}
}
