package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

const secretColumns = `name, key_id, wrapped_key, nonce, ciphertext, author, updated_at`

// PutSecret implements store.Store.
func (s *Store) PutSecret(ctx context.Context, r store.SecretRecord) (store.SecretRecord, error) {
	if err := r.Validate(); err != nil {
		return store.SecretRecord{}, err
	}
	r.UpdatedAt = store.Timestamp(time.Now())
	var seq int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if seq, err = bumpSequence(ctx, tx, store.KindSecrets); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO secrets (`+secretColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, wrapped_key = excluded.wrapped_key, nonce = excluded.nonce,
				ciphertext = excluded.ciphertext, author = excluded.author, updated_at = excluded.updated_at`,
			r.Name, r.KeyID, r.WrappedKey, r.Nonce, r.Ciphertext, r.Author, formatTime(r.UpdatedAt))
		return err
	})
	if err != nil {
		return store.SecretRecord{}, fmt.Errorf("put secret %s: %w", r.Name, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindSecrets, Version: seq})
	return r, nil
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string) (store.SecretRecord, error) {
	r, err := scanSecret(s.db.QueryRowContext(ctx, `SELECT `+secretColumns+` FROM secrets WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.SecretRecord{}, fmt.Errorf("secret %s: %w", name, err)
	}
	return r, nil
}

// Secrets implements store.Store.
func (s *Store) Secrets(ctx context.Context) ([]store.SecretRecord, error) {
	out, err := querySecrets(ctx, s.db, `SELECT `+secretColumns+` FROM secrets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return out, nil
}

// DeleteSecret implements store.Store.
func (s *Store) DeleteSecret(ctx context.Context, name string) error {
	var seq int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, store.ErrNotFound)
		}
		seq, err = bumpSequence(ctx, tx, store.KindSecrets)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindSecrets, Version: seq})
	return nil
}

// RewrapSecrets implements store.Store. The write transaction takes
// SQLite's write lock at BEGIN (_txlock=immediate), which keeps every other
// writer, of this process or another, out until it ends.
func (s *Store) RewrapSecrets(ctx context.Context, rewrap func(store.SecretRecord) (store.SecretRecord, error)) (int, error) {
	changed := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		recs, err := querySecrets(ctx, tx, `SELECT `+secretColumns+` FROM secrets ORDER BY name`)
		if err != nil {
			return err
		}
		for _, r := range recs {
			nr, err := rewrap(r)
			if err != nil {
				return err
			}
			if nr.KeyID == r.KeyID {
				continue
			}
			r.KeyID, r.WrappedKey = nr.KeyID, nr.WrappedKey
			if err := r.Validate(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE secrets SET key_id = ?, wrapped_key = ? WHERE name = ?`, r.KeyID, r.WrappedKey, r.Name); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rewrap secrets: %w", err)
	}
	return changed, nil
}

// querySecrets runs a query of secretColumns on db or a transaction.
func querySecrets(ctx context.Context, q querier, query string, args ...any) ([]store.SecretRecord, error) {
	return collect(ctx, q, func(rows *sql.Rows) (store.SecretRecord, error) { return scanSecret(rows) }, query, args...)
}

func scanSecret(row interface{ Scan(...any) error }) (store.SecretRecord, error) {
	var r store.SecretRecord
	var updated string
	if err := row.Scan(&r.Name, &r.KeyID, &r.WrappedKey, &r.Nonce, &r.Ciphertext, &r.Author, &updated); err != nil {
		return store.SecretRecord{}, err
	}
	var err error
	r.UpdatedAt, err = parseTime(updated)
	return r, err
}
