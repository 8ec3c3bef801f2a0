// Package secrets keeps the secrets that manifests name (an AI provider's
// apiKeyEnv, an introspection clientSecretEnv, the Monitor webhook's
// secretEnv) in the store, encrypted at rest, and resolves those names for
// the node: the environment first, then the store.
//
// Encryption is envelope encryption with AES-256-GCM: each secret's value
// is sealed with a fresh random data key, and the data key with the master
// key, which comes from the environment and is never stored. Both seals
// take the secret's name as additional data, so a sealed record copied to
// another name does not open. Each record carries the ID of the master key
// that sealed its data key; rotating the master key re-seals only the data
// keys (Keyring.Rewrap), never touching the values.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/portcullis/portcullis/internal/store"
)

// The environment variables of the master keys. Each may instead name a
// file holding the base64 text, as NAME_FILE.
const (
	// EnvMasterKey seals new secrets and opens stored ones.
	EnvMasterKey = "PORTCULLIS_MASTER_KEY"
	// EnvPreviousMasterKey only opens: the key being rotated away from,
	// while the stored secrets are re-sealed with the new one.
	EnvPreviousMasterKey = "PORTCULLIS_MASTER_KEY_PREVIOUS"
	// EnvNewMasterKey is the key `secrets rotate-master-key` rotates to.
	EnvNewMasterKey = "PORTCULLIS_NEW_MASTER_KEY"
)

// KeySize is the size of master and data keys: AES-256.
const KeySize = 32

// MaxValueBytes bounds a secret's value: secrets are keys and passwords,
// not files.
const MaxValueBytes = 64 << 10

// ErrNoMasterKey is what sealing or opening without a master key returns.
var ErrNoMasterKey = errors.New("no master key: set " + EnvMasterKey + " (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or " + EnvMasterKey + "_FILE")

// Key is a master key.
type Key struct {
	id   string
	aead cipher.AEAD
}

// NewKey returns the master key of 32 raw bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("a master key is %d bytes, got %d", KeySize, len(raw))
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return &Key{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ParseKey returns the master key whose base64 text (standard or URL
// alphabet, padded or not) is text.
func ParseKey(text string) (*Key, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(text); err == nil {
			return NewKey(raw)
		}
	}
	return nil, errors.New("a master key is the base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
}

// ID identifies the key without disclosing it: the first 8 bytes of its
// SHA-256, in hex.
func (k *Key) ID() string { return k.id }

// Keyring is the master keys a process holds: the current one, which
// seals, and previous ones, which only open. A nil Keyring holds none.
type Keyring struct {
	current  *Key
	previous []*Key
}

// NewKeyring returns a keyring sealing with current and opening with it
// and previous.
func NewKeyring(current *Key, previous ...*Key) *Keyring {
	return &Keyring{current: current, previous: previous}
}

// LoadKeyring reads EnvMasterKey and EnvPreviousMasterKey (or their _FILE
// forms) with getenv. It returns nil, and no error, when no master key is
// set: the store then holds no secret this node can use.
func LoadKeyring(getenv func(string) string, log *slog.Logger) (*Keyring, error) {
	current, err := KeyFromEnv(getenv, EnvMasterKey, log)
	if err != nil || current == nil {
		return nil, err
	}
	r := NewKeyring(current)
	prev, err := KeyFromEnv(getenv, EnvPreviousMasterKey, log)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.ID() != current.ID() {
		r.previous = append(r.previous, prev)
	}
	return r, nil
}

// KeyFromEnv reads the key in the variable name, or in the file that
// name_FILE names (not both); nil when neither is set. A key file that
// others may read is refused, one that its group may read is logged.
func KeyFromEnv(getenv func(string) string, name string, log *slog.Logger) (*Key, error) {
	text, file := getenv(name), getenv(name+"_FILE")
	switch {
	case text != "" && file != "":
		return nil, fmt.Errorf("set %s or %s_FILE, not both", name, name)
	case file != "":
		k, err := KeyFromFile(file, log)
		if err != nil {
			return nil, fmt.Errorf("%s_FILE: %w", name, err)
		}
		return k, nil
	case text == "":
		return nil, nil
	}
	k, err := ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// KeyFromFile reads the key whose base64 text is in the file at path. A
// file that others may read is refused, as ssh refuses such a private key;
// one that its group may read (a mounted secret shared with a sidecar) is
// logged.
func KeyFromFile(path string, log *slog.Logger) (*Key, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("%s: mode %v lets every user of the machine read the master key; chmod 600 it", path, perm)
	} else if perm&0o070 != 0 {
		log.Warn("the master key file is readable by its group; 0600 or 0400 is safer", "file", path, "mode", perm.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Current returns the key that seals; nil when the keyring is nil.
func (r *Keyring) Current() *Key {
	if r == nil {
		return nil
	}
	return r.current
}

// RotateTo returns a keyring that seals with next and opens with next and
// every key of r: the keyring of a master key rotation (see Rewrap).
func (r *Keyring) RotateTo(next *Key) *Keyring {
	out := NewKeyring(next)
	if r != nil {
		for _, k := range append([]*Key{r.current}, r.previous...) {
			if k.id != next.id {
				out.previous = append(out.previous, k)
			}
		}
	}
	return out
}

// key returns the key of that ID, or nil.
func (r *Keyring) key(id string) *Key {
	if r == nil {
		return nil
	}
	for _, k := range append([]*Key{r.current}, r.previous...) {
		if k.id == id {
			return k
		}
	}
	return nil
}

// Seal encrypts value as the secret name under a fresh data key, the data
// key under the current master key.
func (r *Keyring) Seal(name string, value []byte) (store.SecretRecord, error) {
	if len(value) > MaxValueBytes {
		return store.SecretRecord{}, fmt.Errorf("a secret's value is at most %d bytes", MaxValueBytes)
	}
	return r.SealData(name, value)
}

// SealData is Seal for data of any size under a name that is not a
// secret's: the audit trail's batches ("audit").
func (r *Keyring) SealData(name string, value []byte) (store.SecretRecord, error) {
	k := r.Current()
	if k == nil {
		return store.SecretRecord{}, ErrNoMasterKey
	}
	dataKey := make([]byte, KeySize)
	_, _ = rand.Read(dataKey) // never fails (crypto/rand)
	defer clear(dataKey)
	aead, err := newAEAD(dataKey)
	if err != nil {
		return store.SecretRecord{}, err
	}
	nonce := randomNonce(aead)
	return store.SecretRecord{
		Name:       name,
		KeyID:      k.id,
		WrappedKey: k.wrap(name, dataKey),
		Nonce:      nonce,
		Ciphertext: aead.Seal(nil, nonce, value, valueAD(name)),
	}, nil
}

// Open decrypts a sealed secret with the master key that sealed it. A
// record sealed under another name, altered, or sealed with a key this
// keyring does not hold, does not open.
func (r *Keyring) Open(rec store.SecretRecord) ([]byte, error) {
	dataKey, err := r.unwrap(rec)
	if err != nil {
		return nil, err
	}
	defer clear(dataKey)
	aead, err := newAEAD(dataKey)
	if err != nil {
		return nil, err
	}
	value, err := aead.Open(nil, rec.Nonce, rec.Ciphertext, valueAD(rec.Name))
	if err != nil {
		return nil, fmt.Errorf("secret %s: the value does not decrypt: the record was altered or moved", rec.Name)
	}
	return value, nil
}

// Rewrap re-seals rec's data key with the current master key, opening it
// with whichever key of the keyring sealed it; the value's ciphertext is
// unchanged. A record already sealed with the current key is returned as
// it is. It is store.Store.RewrapSecrets' function for rotation.
func (r *Keyring) Rewrap(rec store.SecretRecord) (store.SecretRecord, error) {
	k := r.Current()
	if k == nil {
		return rec, ErrNoMasterKey
	}
	if rec.KeyID == k.id {
		return rec, nil
	}
	dataKey, err := r.unwrap(rec)
	if err != nil {
		return rec, err
	}
	defer clear(dataKey)
	rec.KeyID, rec.WrappedKey = k.id, k.wrap(rec.Name, dataKey)
	return rec, nil
}

// unwrap opens rec's data key.
func (r *Keyring) unwrap(rec store.SecretRecord) ([]byte, error) {
	if r == nil {
		return nil, ErrNoMasterKey
	}
	k := r.key(rec.KeyID)
	if k == nil {
		return nil, fmt.Errorf("secret %s was sealed with master key %s, which this process does not hold (it has %s)", rec.Name, rec.KeyID, r.ids())
	}
	n := k.aead.NonceSize()
	if len(rec.WrappedKey) < n {
		return nil, fmt.Errorf("secret %s: the wrapped data key is truncated", rec.Name)
	}
	dataKey, err := k.aead.Open(nil, rec.WrappedKey[:n], rec.WrappedKey[n:], keyAD(rec.Name))
	if err != nil || len(dataKey) != KeySize {
		return nil, fmt.Errorf("secret %s: the data key does not decrypt with master key %s: the record was altered or moved", rec.Name, k.id)
	}
	return dataKey, nil
}

// ids lists the IDs of the keyring's keys, for errors.
func (r *Keyring) ids() string {
	ids := []string{r.current.id}
	for _, k := range r.previous {
		ids = append(ids, k.id)
	}
	return strings.Join(ids, ", ")
}

// wrap seals a data key: a random nonce, then the sealed key.
func (k *Key) wrap(name string, dataKey []byte) []byte {
	nonce := randomNonce(k.aead)
	return k.aead.Seal(nonce, nonce, dataKey, keyAD(name))
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func randomNonce(aead cipher.AEAD) []byte {
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return nonce
}

// valueAD and keyAD are the additional data of the two seals: the name,
// and what is sealed, so that neither ciphertext passes for the other.
func valueAD(name string) []byte { return []byte("portcullis secret value\x00" + name) }
func keyAD(name string) []byte   { return []byte("portcullis secret data key\x00" + name) }

// ValidName reports whether name is a valid secret name: an environment
// variable name, [A-Z_][A-Z0-9_]*, since manifests name secrets as they
// name environment variables.
func ValidName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i, c := range []byte(name) {
		if c != '_' && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
