package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// WaitForChange reads ch until a change of kind with at least version
// arrives, and fails the test when none does within timeout.
func WaitForChange(t *testing.T, ch <-chan store.Change, kind string, version int64, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed while waiting for %s %d", kind, version)
			}
			if c.Kind == kind && c.Version >= version {
				return
			}
		case <-deadline:
			t.Fatalf("no %s change with version >= %d within %v", kind, version, timeout)
		}
	}
}

func testWatch(t *testing.T, st Storage) {
	s := open(t, st)
	ch, err := s.Watch(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	v := mustAppend(t, s, apiVersion("watched"))
	WaitForChange(t, ch, store.KindPolicy, v.Number, time.Second)
	mustCreateConsumer(t, s, "alice")
	WaitForChange(t, ch, store.KindConsumers, 1, time.Second)
	mustCreateKey(t, s, store.Key{ID: "k1", Consumer: "alice", Hash: keyHash("k1")})
	_, c1, err := s.KeysChangedSince(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	WaitForChange(t, ch, store.KindKeys, c1, time.Second)
	if err := s.RevokeKey(ctx(t), "k1"); err != nil {
		t.Fatal(err)
	}
	WaitForChange(t, ch, store.KindKeys, c1+1, time.Second)

	// A reader that falls behind still sees the newest version.
	for i := 0; i < 20; i++ {
		v = mustAppend(t, s, apiVersion("burst"))
	}
	WaitForChange(t, ch, store.KindPolicy, v.Number, time.Second)
}

func testWatchEndsWithContext(t *testing.T, st Storage) {
	s := open(t, st)
	c, cancel := context.WithCancel(ctx(t))
	ch, err := s.Watch(c)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitClosed(t, ch)
}

// waitClosed drains ch until it is closed, failing after a second.
func waitClosed(t *testing.T, ch <-chan store.Change) {
	t.Helper()
	deadline := time.After(time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch channel was not closed within 1s")
		}
	}
}

func testClose(t *testing.T, st Storage) {
	s := open(t, st) // and closed a third time at cleanup
	ch, err := s.Watch(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	waitClosed(t, ch)
	if _, err := s.Watch(ctx(t)); err == nil {
		t.Error("Watch after Close succeeded")
	}
	if _, err := s.ActiveVersion(ctx(t)); err == nil {
		t.Error("ActiveVersion after Close succeeded")
	}
}

func testReopen(t *testing.T, st Storage) {
	s := open(t, st)
	mustAppend(t, s, apiVersion("one", store.File{Name: "a.yaml", Content: "a"}))
	v2 := mustAppend(t, s, apiVersion("two", store.File{Name: "a.yaml", Content: "b"}))
	alice := mustCreateConsumer(t, s, "alice", "admin")
	k := mustCreateKey(t, s, store.Key{ID: "k1", Consumer: "alice", Hash: keyHash("k1"), Prefix: "pc_k1"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, st)
	if got, err := s.ActiveVersion(ctx(t)); err != nil || got.Hash != v2.Hash || len(got.Files) != 1 || got.Files[0].Content != "b" {
		t.Errorf("after reopening, ActiveVersion = %+v, %v; want version 2", got, err)
	}
	if r, err := s.VerifyChain(ctx(t)); err != nil || r != (store.ChainReport{OK: true, Versions: 2}) {
		t.Errorf("after reopening, VerifyChain = %+v, %v", r, err)
	}
	if got, err := s.Consumer(ctx(t), "alice"); err != nil || got.CreatedAt != alice.CreatedAt || len(got.Roles) != 1 {
		t.Errorf("after reopening, Consumer = %+v, %v; want %+v", got, err, alice)
	}
	if got, err := s.KeyByHash(ctx(t), keyHash("k1")); err != nil || got.ID != k.ID || got.Prefix != k.Prefix {
		t.Errorf("after reopening, KeyByHash = %+v, %v; want %+v", got, err, k)
	}
	// The sequences go on where they were.
	v3 := mustAppend(t, s, apiVersion("three"))
	if v3.Number != 3 || v3.PrevHash != v2.Hash {
		t.Errorf("after reopening, the next version is %d after %q; want 3 after %q", v3.Number, v3.PrevHash, v2.Hash)
	}
}
