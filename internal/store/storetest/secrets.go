package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// sealed returns a record as internal/secrets would make one; the store
// treats the bytes as opaque.
func sealed(name, keyID, value string) store.SecretRecord {
	return store.SecretRecord{Name: name, KeyID: keyID, WrappedKey: []byte("wrapped:" + keyID + ":" + name),
		Nonce: []byte("nonce-" + name), Ciphertext: []byte("sealed:" + value), Author: "admin"}
}

func testSecrets(t *testing.T, st Storage) {
	s := open(t, st)
	if list, err := s.Secrets(ctx(t)); err != nil || len(list) != 0 {
		t.Fatalf("empty: Secrets = %v, %v", list, err)
	}
	_, err := s.Secret(ctx(t), "NONE")
	wantErr(t, "Secret(unknown)", err, store.ErrNotFound)
	wantErr(t, "DeleteSecret(unknown)", s.DeleteSecret(ctx(t), "NONE"), store.ErrNotFound)
	for _, bad := range []store.SecretRecord{{}, {Name: "A", KeyID: "k", WrappedKey: []byte{1}, Nonce: []byte{1}}, {Name: "A", WrappedKey: []byte{1}, Nonce: []byte{1}, Ciphertext: []byte{1}}} {
		_, err := s.PutSecret(ctx(t), bad)
		wantErr(t, "PutSecret(incomplete)", err, store.ErrInvalid)
	}

	before := time.Now().Add(-time.Second)
	b, err := s.PutSecret(ctx(t), sealed("B_TOKEN", "k1", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if b.UpdatedAt.Before(before) || b.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt %v not stamped", b.UpdatedAt)
	}
	if _, err := s.PutSecret(ctx(t), sealed("A_KEY", "k1", "a")); err != nil {
		t.Fatal(err)
	}
	// Another store on the same data (another node) reads it back as stored.
	other := open(t, st)
	got, err := other.Secret(ctx(t), "B_TOKEN")
	if err != nil || !sameSecret(got, b) || !got.UpdatedAt.Equal(b.UpdatedAt) {
		t.Errorf("Secret = %+v, %v; want %+v", got, err, b)
	}
	list, err := other.Secrets(ctx(t))
	if err != nil || len(list) != 2 || list[0].Name != "A_KEY" || list[1].Name != "B_TOKEN" {
		t.Fatalf("Secrets = %+v, %v; want A_KEY, B_TOKEN", list, err)
	}

	// Put replaces every field.
	b2, err := s.PutSecret(ctx(t), sealed("B_TOKEN", "k2", "b2"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.Secret(ctx(t), "B_TOKEN"); err != nil || !sameSecret(got, b2) || got.UpdatedAt.Before(b.UpdatedAt) {
		t.Errorf("after replace: %+v, %v; want %+v", got, err, b2)
	}

	if err := s.DeleteSecret(ctx(t), "B_TOKEN"); err != nil {
		t.Fatal(err)
	}
	_, err = other.Secret(ctx(t), "B_TOKEN")
	wantErr(t, "Secret(deleted)", err, store.ErrNotFound)
	if list, _ := s.Secrets(ctx(t)); len(list) != 1 {
		t.Errorf("after delete: %d secrets, want 1", len(list))
	}
}

func testRewrapSecrets(t *testing.T, st Storage) {
	s := open(t, st)
	stored := map[string]store.SecretRecord{}
	for _, r := range []store.SecretRecord{sealed("A", "old", "a"), sealed("B", "new", "b"), sealed("C", "old", "c")} {
		r, err := s.PutSecret(ctx(t), r)
		if err != nil {
			t.Fatal(err)
		}
		stored[r.Name] = r
	}
	rewrap := func(r store.SecretRecord) (store.SecretRecord, error) {
		if r.KeyID == "new" {
			return r, nil
		}
		r.KeyID, r.WrappedKey = "new", []byte("wrapped:new:"+r.Name)
		r.Ciphertext = []byte("the store must not take this") // rotation never changes the value
		return r, nil
	}

	// A failing rewrap changes nothing.
	boom := errors.New("boom")
	n, err := s.RewrapSecrets(ctx(t), func(r store.SecretRecord) (store.SecretRecord, error) {
		if r.Name == "C" {
			return r, boom
		}
		return rewrap(r)
	})
	if !errors.Is(err, boom) || n != 0 {
		t.Fatalf("failing rewrap: %d, %v", n, err)
	}
	if got, _ := s.Secret(ctx(t), "A"); got.KeyID != "old" {
		t.Errorf("a failed rewrap was partly applied: A has key %q", got.KeyID)
	}

	n, err = s.RewrapSecrets(ctx(t), rewrap)
	if err != nil || n != 2 {
		t.Fatalf("RewrapSecrets = %d, %v; want 2", n, err)
	}
	list, err := open(t, st).Secrets(ctx(t))
	if err != nil || len(list) != 3 {
		t.Fatalf("Secrets = %v, %v", list, err)
	}
	for _, got := range list {
		was := stored[got.Name]
		if got.KeyID != "new" || string(got.WrappedKey) != "wrapped:new:"+got.Name {
			t.Errorf("%s: key %q %q after rotation", got.Name, got.KeyID, got.WrappedKey)
		}
		if !bytes.Equal(got.Ciphertext, was.Ciphertext) || !bytes.Equal(got.Nonce, was.Nonce) || !got.UpdatedAt.Equal(was.UpdatedAt) {
			t.Errorf("%s: rotation changed the value or its time", got.Name)
		}
	}
	if n, err := s.RewrapSecrets(ctx(t), rewrap); err != nil || n != 0 {
		t.Errorf("second rotation: %d, %v; want 0", n, err)
	}
}

func sameSecret(a, b store.SecretRecord) bool {
	return a.Name == b.Name && a.KeyID == b.KeyID && a.Author == b.Author && bytes.Equal(a.WrappedKey, b.WrappedKey) &&
		bytes.Equal(a.Nonce, b.Nonce) && bytes.Equal(a.Ciphertext, b.Ciphertext)
}

// testWatchSecrets: setting and deleting a secret are changes of kind
// KindSecrets, with rising versions.
func testWatchSecrets(t *testing.T, st Storage) {
	s := open(t, st)
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch, err := s.Watch(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSecret(ctx(t), sealed("W_TOKEN", "k1", "w")); err != nil {
		t.Fatal(err)
	}
	WaitForChange(t, ch, store.KindSecrets, 1, 5*time.Second)
	if err := s.DeleteSecret(ctx(t), "W_TOKEN"); err != nil {
		t.Fatal(err)
	}
	WaitForChange(t, ch, store.KindSecrets, 2, 5*time.Second)
}
