package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

func newKey(t *testing.T) *Key {
	t.Helper()
	raw := make([]byte, KeySize)
	_, _ = rand.Read(raw)
	k, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	r := NewKeyring(newKey(t))
	rec, err := r.Seal("API_KEY", []byte("sk-live-123"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.KeyID != r.Current().ID() || len(rec.KeyID) != 16 {
		t.Errorf("key id %q, want the current key's %q", rec.KeyID, r.Current().ID())
	}
	if bytes.Contains(rec.Ciphertext, []byte("sk-live-123")) || bytes.Contains(rec.WrappedKey, []byte("sk-live-123")) {
		t.Error("the value is in clear in the record")
	}
	got, err := r.Open(rec)
	if err != nil || string(got) != "sk-live-123" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := r.Seal("API_KEY", []byte("sk-live-123"))
	if bytes.Equal(again.Ciphertext, rec.Ciphertext) || bytes.Equal(again.WrappedKey, rec.WrappedKey) {
		t.Error("two seals of one value are equal: the data key or nonce is not fresh")
	}
}

func TestWrongMasterKey(t *testing.T) {
	rec, _ := NewKeyring(newKey(t)).Seal("A", []byte("v"))
	if _, err := NewKeyring(newKey(t)).Open(rec); err == nil {
		t.Fatal("opened with another master key")
	}
	// Even when the record claims the other key's id.
	other := NewKeyring(newKey(t))
	rec.KeyID = other.Current().ID()
	if _, err := other.Open(rec); err == nil {
		t.Fatal("opened with another master key under its id")
	}
	if _, err := (*Keyring)(nil).Open(rec); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("no keyring: %v", err)
	}
}

func TestTampered(t *testing.T) {
	r := NewKeyring(newKey(t))
	for name, tamper := range map[string]func(*store.SecretRecord){
		"ciphertext":  func(rec *store.SecretRecord) { rec.Ciphertext[0] ^= 1 },
		"nonce":       func(rec *store.SecretRecord) { rec.Nonce[0] ^= 1 },
		"wrapped key": func(rec *store.SecretRecord) { rec.WrappedKey[len(rec.WrappedKey)-1] ^= 1 },
		"truncated":   func(rec *store.SecretRecord) { rec.WrappedKey = rec.WrappedKey[:5] },
	} {
		rec, _ := r.Seal("A", []byte("value"))
		tamper(&rec)
		if v, err := r.Open(rec); err == nil {
			t.Errorf("%s altered: opened as %q", name, v)
		}
	}
}

func TestNameBinding(t *testing.T) {
	r := NewKeyring(newKey(t))
	rec, _ := r.Seal("DB_PASSWORD", []byte("hunter2"))
	rec.Name = "WEBHOOK_SECRET" // copied to another name in the table
	if v, err := r.Open(rec); err == nil {
		t.Fatalf("a record moved to another name opened: %q", v)
	}
}

func TestRewrap(t *testing.T) {
	old, next := newKey(t), newKey(t)
	rec, _ := NewKeyring(old).Seal("A", []byte("value"))
	rotated, err := NewKeyring(next, old).Rewrap(rec)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KeyID != next.ID() || !bytes.Equal(rotated.Ciphertext, rec.Ciphertext) {
		t.Errorf("rewrap: key %s, ciphertext changed %v", rotated.KeyID, !bytes.Equal(rotated.Ciphertext, rec.Ciphertext))
	}
	if v, err := NewKeyring(next).Open(rotated); err != nil || string(v) != "value" {
		t.Errorf("the new key alone: %q, %v", v, err)
	}
	if _, err := NewKeyring(old).Open(rotated); err == nil {
		t.Error("the old key still opens a rotated record")
	}
	// The keyring being rotated to must hold the sealing key.
	if _, err := NewKeyring(next).Rewrap(rec); err == nil {
		t.Error("rewrapped without the key that sealed the record")
	}
	// Already under the current key: unchanged.
	if same, err := NewKeyring(next).Rewrap(rotated); err != nil || !bytes.Equal(same.WrappedKey, rotated.WrappedKey) {
		t.Errorf("rewrap under the current key: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, KeySize)
	_, _ = rand.Read(raw)
	want, _ := NewKey(raw)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := ParseKey(enc.EncodeToString(raw) + "\n")
		if err != nil || k.ID() != want.ID() {
			t.Errorf("%v: %v", enc, err)
		}
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(raw[:16])} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestKeyFromEnvFile(t *testing.T) {
	text := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, KeySize))
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvMasterKey + "_FILE": path}
	k, err := KeyFromEnv(func(n string) string { return env[n] }, EnvMasterKey, slog.Default())
	if err != nil || k == nil {
		t.Fatalf("0600 file: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := KeyFromEnv(func(n string) string { return env[n] }, EnvMasterKey, slog.Default()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: %v", err)
	}
	env[EnvMasterKey] = text
	if _, err := KeyFromEnv(func(n string) string { return env[n] }, EnvMasterKey, slog.Default()); err == nil {
		t.Error("both the variable and the file: accepted")
	}
	if k, err := KeyFromEnv(func(string) string { return "" }, EnvMasterKey, slog.Default()); k != nil || err != nil {
		t.Errorf("unset: %v, %v", k, err)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"A", "_X", "OPENAI_API_KEY", "K8S_TOKEN_2"} {
		if !ValidName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "1A", "a", "A-B", "A B", "Ä", "A.B"} {
		if ValidName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolver(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys := NewKeyring(newKey(t))
	rec, _ := keys.Seal("E2E_RESOLVE_STORED", []byte("from-store"))
	if _, err := st.PutSecret(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	rec, _ = keys.Seal("E2E_RESOLVE_BOTH", []byte("from-store"))
	if _, err := st.PutSecret(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_RESOLVE_BOTH", "from-env")
	r := NewResolver(st, keys)
	for name, want := range map[string]string{"E2E_RESOLVE_STORED": "from-store", "E2E_RESOLVE_BOTH": "from-env"} {
		if v, err := r.Lookup(t.Context(), name); err != nil || v != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", name, v, err, want)
		}
	}
	if _, err := r.Lookup(t.Context(), "E2E_RESOLVE_NONE"); !errors.Is(err, ErrNotSet) {
		t.Errorf("unset: %v", err)
	}
	if _, err := NewResolver(st, nil).Lookup(t.Context(), "E2E_RESOLVE_STORED"); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("stored, no master key: %v", err)
	}
	if v, err := (*Resolver)(nil).Lookup(t.Context(), "E2E_RESOLVE_BOTH"); err != nil || v != "from-env" {
		t.Errorf("nil resolver: %q, %v", v, err)
	}
}
