package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

const keyColumns = `id, consumer, name, hash, prefix, created_at, expires_at, revoked_at`

// CreateKey implements store.Store.
func (s *Store) CreateKey(ctx context.Context, k store.Key) (store.Key, error) {
	if err := k.Validate(); err != nil {
		return store.Key{}, err
	}
	k.Hash = append([]byte(nil), k.Hash...)
	k.CreatedAt = store.Timestamp(time.Now())
	if k.ExpiresAt != nil {
		t := store.Timestamp(*k.ExpiresAt)
		k.ExpiresAt = &t
	}
	var seq int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM consumers WHERE name = ?`, k.Consumer).Scan(new(int)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("consumer %q: %w", k.Consumer, store.ErrNotFound)
			}
			return err
		}
		var err error
		if seq, err = bumpSequence(ctx, tx, store.KindKeys); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
			k.ID, k.Consumer, k.Name, k.Hash, k.Prefix, formatTime(k.CreatedAt), formatOptionalTime(k.ExpiresAt), seq)
		if isUniqueViolation(err) {
			return fmt.Errorf("a key with this id or hash: %w", store.ErrExists)
		}
		return err
	})
	if err != nil {
		return store.Key{}, fmt.Errorf("create key %q: %w", k.ID, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindKeys, Version: seq})
	return k, nil
}

// KeyByHash implements store.Store.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("key by hash: %w", err)
	}
	return k, nil
}

// RevokeKey implements store.Store.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	var seq int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_keys WHERE id = ?`, id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || revoked.Valid {
			return err
		}
		if seq, err = bumpSequence(ctx, tx, store.KindKeys); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ?, change_seq = ? WHERE id = ?`, formatTime(time.Now()), seq, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke key %q: %w", id, err)
	}
	if seq != 0 {
		s.feed.Publish(store.Change{Kind: store.KindKeys, Version: seq})
	}
	return nil
}

// Keys implements store.Store.
func (s *Store) Keys(ctx context.Context, consumer string) ([]store.Key, error) {
	var keys []store.Key
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM consumers WHERE name = ?`, consumer).Scan(new(int)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		var err error
		keys, err = queryKeys(ctx, tx, `SELECT `+keyColumns+` FROM api_keys WHERE consumer = ? ORDER BY created_at, id`, consumer)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("keys of consumer %q: %w", consumer, err)
	}
	return keys, nil
}

// KeysChangedSince implements store.Store.
func (s *Store) KeysChangedSince(ctx context.Context, cursor int64) ([]store.Key, int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+`, change_seq FROM api_keys WHERE change_seq > ? ORDER BY change_seq`, cursor)
	if err != nil {
		return nil, cursor, fmt.Errorf("keys changed since %d: %w", cursor, err)
	}
	defer rows.Close()
	var keys []store.Key
	next := cursor
	for rows.Next() {
		k, err := scanKey(rows, &next)
		if err != nil {
			return nil, cursor, fmt.Errorf("keys changed since %d: %w", cursor, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, cursor, fmt.Errorf("keys changed since %d: %w", cursor, err)
	}
	return keys, next, nil
}

func queryKeys(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]store.Key, error) {
	return collect(ctx, tx, func(rows *sql.Rows) (store.Key, error) { return scanKey(rows) }, query, args...)
}

// scanKey scans keyColumns, then extra.
func scanKey(row interface{ Scan(...any) error }, extra ...any) (store.Key, error) {
	var k store.Key
	var created string
	var expires, revoked sql.NullString
	if err := row.Scan(append([]any{&k.ID, &k.Consumer, &k.Name, &k.Hash, &k.Prefix, &created, &expires, &revoked}, extra...)...); err != nil {
		return store.Key{}, err
	}
	var errs [3]error
	k.CreatedAt, errs[0] = parseTime(created)
	k.ExpiresAt, errs[1] = parseOptionalTime(expires)
	k.RevokedAt, errs[2] = parseOptionalTime(revoked)
	return k, errors.Join(errs[:]...)
}
