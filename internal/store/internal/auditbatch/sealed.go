package auditbatch

import (
	"encoding/binary"
	"fmt"

	"github.com/portcullis/portcullis/internal/store"
)

// Sealer is what seals batches: store.AuditSealer.
type Sealer = store.AuditSealer

// sealedName is the name audit batches are sealed under (the additional
// data that binds them to the trail).
const sealedName = "audit"

// formatSealed is the first byte of a sealed batch's Data: uvarint-length
// key id, wrapped data key, nonce and ciphertext (of a formatV1 or
// formatV2 Data).
const formatSealed = 2

// Seal returns data (an encoded batch) sealed with s.
func Seal(s Sealer, data []byte) ([]byte, error) {
	rec, err := s.SealData(sealedName, data)
	if err != nil {
		return nil, err
	}
	return marshalSealed(rec), nil
}

func marshalSealed(rec store.SecretRecord) []byte {
	out := []byte{formatSealed}
	for _, f := range [][]byte{[]byte(rec.KeyID), rec.WrappedKey, rec.Nonce, rec.Ciphertext} {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

func unmarshalSealed(data []byte) (store.SecretRecord, error) {
	if len(data) == 0 || data[0] != formatSealed {
		return store.SecretRecord{}, fmt.Errorf("%w: not sealed", errCorrupt)
	}
	d := decoder{data: data[1:]}
	var fields [4][]byte
	for i := range fields {
		n := d.uvarint()
		if d.err || n > uint64(len(d.data)) {
			return store.SecretRecord{}, fmt.Errorf("%w: sealed batch truncated", errCorrupt)
		}
		fields[i], d.data = d.data[:n], d.data[n:]
	}
	if len(d.data) != 0 {
		return store.SecretRecord{}, fmt.Errorf("%w: trailing bytes after a sealed batch", errCorrupt)
	}
	return store.SecretRecord{Name: sealedName, KeyID: string(fields[0]), WrappedKey: fields[1], Nonce: fields[2], Ciphertext: fields[3]}, nil
}

// IsSealed reports whether data is a sealed batch.
func IsSealed(data []byte) bool { return len(data) > 0 && data[0] == formatSealed }

// Unseal returns the encoded batch in data: data itself when it is not
// sealed, opened with s when it is (an error without s).
func Unseal(s Sealer, data []byte) ([]byte, error) {
	if !IsSealed(data) {
		return data, nil
	}
	if s == nil {
		return nil, fmt.Errorf("an audit batch is encrypted and this node has no master key (set PORTCULLIS_MASTER_KEY)")
	}
	rec, err := unmarshalSealed(data)
	if err != nil {
		return nil, err
	}
	return s.Open(rec)
}

// Rewrap re-seals a sealed batch's data key with s's current master key
// (rotation); the ciphertext is unchanged. Data that is not sealed is
// returned as it is.
func Rewrap(s Sealer, data []byte) ([]byte, error) {
	if !IsSealed(data) {
		return data, nil
	}
	rec, err := unmarshalSealed(data)
	if err != nil {
		return nil, err
	}
	if rec, err = s.Rewrap(rec); err != nil {
		return nil, err
	}
	return marshalSealed(rec), nil
}

// RewrapEach rewraps every sealed batch of batches (see Rewrap) and hands
// those that changed to update.
func RewrapEach(batches []Batch, s Sealer, update func(Batch) error) error {
	for _, b := range batches {
		data, err := Rewrap(s, b.Data)
		if err != nil {
			return fmt.Errorf("audit batch %d: %w", b.FirstSeq, err)
		}
		if string(data) == string(b.Data) {
			continue
		}
		b.Data = data
		if err := update(b); err != nil {
			return err
		}
	}
	return nil
}
