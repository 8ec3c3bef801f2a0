package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

const keyColumns = `id, consumer, name, hash, prefix, created_at, expires_at, revoked_at`

// CreateKey implements store.Store.
func (s *Store) CreateKey(ctx context.Context, k store.Key) (store.Key, error) {
	if err := k.Validate(); err != nil {
		return store.Key{}, err
	}
	k.Hash = append([]byte(nil), k.Hash...)
	k.CreatedAt = utc(time.Now())
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	var seq int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT 1 FROM consumers WHERE name = $1`, k.Consumer).Scan(new(int)); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("consumer %q: %w", k.Consumer, store.ErrNotFound)
			}
			return err
		}
		var err error
		if seq, err = bumpSequence(ctx, tx, store.KindKeys); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`, change_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)`,
			k.ID, k.Consumer, k.Name, k.Hash, k.Prefix, k.CreatedAt, k.ExpiresAt, seq); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("a key with this id or hash: %w", store.ErrExists)
			}
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindKeys, Version: seq})
	})
	if err != nil {
		return store.Key{}, fmt.Errorf("create key %q: %w", k.ID, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindKeys, Version: seq})
	return k, nil
}

// KeyByHash implements store.Store.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT revoked_at FROM api_keys WHERE id = $1 FOR UPDATE`, id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || revoked != nil {
			return err
		}
		if seq, err = bumpSequence(ctx, tx, store.KindKeys); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $1, change_seq = $2 WHERE id = $3`, utc(time.Now()), seq, id); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindKeys, Version: seq})
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
	err := s.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT 1 FROM consumers WHERE name = $1`, consumer).Scan(new(int)); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE consumer = $1 ORDER BY created_at, id`, consumer)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("keys of consumer %q: %w", consumer, err)
	}
	return keys, nil
}

// KeysChangedSince implements store.Store.
func (s *Store) KeysChangedSince(ctx context.Context, cursor int64) ([]store.Key, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+`, change_seq FROM api_keys WHERE change_seq > $1 ORDER BY change_seq`, cursor)
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

// scanKey scans keyColumns, then extra.
func scanKey(row pgx.Row, extra ...any) (store.Key, error) {
	var k store.Key
	if err := row.Scan(append([]any{&k.ID, &k.Consumer, &k.Name, &k.Hash, &k.Prefix, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt}, extra...)...); err != nil {
		return store.Key{}, err
	}
	k.CreatedAt = utc(k.CreatedAt)
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	k.RevokedAt = utcPtr(k.RevokedAt)
	return k, nil
}
