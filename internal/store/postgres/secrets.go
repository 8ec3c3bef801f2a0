package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

const secretColumns = `name, key_id, wrapped_key, nonce, ciphertext, author, updated_at`

// PutSecret implements store.Store.
func (s *Store) PutSecret(ctx context.Context, r store.SecretRecord) (store.SecretRecord, error) {
	if err := r.Validate(); err != nil {
		return store.SecretRecord{}, err
	}
	r.UpdatedAt = utc(time.Now())
	var seq int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, wrapped_key = excluded.wrapped_key, nonce = excluded.nonce,
				ciphertext = excluded.ciphertext, author = excluded.author, updated_at = excluded.updated_at`,
			r.Name, r.KeyID, r.WrappedKey, r.Nonce, r.Ciphertext, r.Author, r.UpdatedAt)
		if err != nil {
			return err
		}
		if seq, err = bumpSequence(ctx, tx, store.KindSecrets); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindSecrets, Version: seq})
	})
	if err != nil {
		return store.SecretRecord{}, fmt.Errorf("put secret %s: %w", r.Name, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindSecrets, Version: seq})
	return r, nil
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string) (store.SecretRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+secretColumns+` FROM secrets WHERE name = $1`, name)
	if err != nil {
		return store.SecretRecord{}, fmt.Errorf("secret %s: %w", name, err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanSecret)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.SecretRecord{}, fmt.Errorf("secret %s: %w", name, err)
	}
	return r, nil
}

// Secrets implements store.Store.
func (s *Store) Secrets(ctx context.Context) ([]store.SecretRecord, error) {
	out, err := querySecrets(ctx, s.pool, `SELECT `+secretColumns+` FROM secrets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return out, nil
}

// DeleteSecret implements store.Store.
func (s *Store) DeleteSecret(ctx context.Context, name string) error {
	var seq int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM secrets WHERE name = $1`, name)
		if err == nil && tag.RowsAffected() == 0 {
			err = store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if seq, err = bumpSequence(ctx, tx, store.KindSecrets); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindSecrets, Version: seq})
	})
	if err != nil {
		return fmt.Errorf("delete secret %s: %w", name, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindSecrets, Version: seq})
	return nil
}

// RewrapSecrets implements store.Store. The table lock keeps other writers
// of secrets out (a PutSecret waits for the rotation to end) while readers
// go on reading the rows as they were until the commit.
func (s *Store) RewrapSecrets(ctx context.Context, rewrap func(store.SecretRecord) (store.SecretRecord, error)) (int, error) {
	changed := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE secrets IN EXCLUSIVE MODE`); err != nil {
			return err
		}
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
			if _, err := tx.Exec(ctx, `UPDATE secrets SET key_id = $1, wrapped_key = $2 WHERE name = $3`, r.KeyID, r.WrappedKey, r.Name); err != nil {
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

// querySecrets runs a query of secretColumns on the pool or a transaction.
func querySecrets(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]store.SecretRecord, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanSecret)
}

func scanSecret(row pgx.CollectableRow) (store.SecretRecord, error) {
	var r store.SecretRecord
	err := row.Scan(&r.Name, &r.KeyID, &r.WrappedKey, &r.Nonce, &r.Ciphertext, &r.Author, &r.UpdatedAt)
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, err
}
