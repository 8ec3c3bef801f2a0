package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

const blockColumns = `id, kind, value, reason, author, created_at, expires_at, removed_at`

// CreateBlock implements store.Store.
func (s *Store) CreateBlock(ctx context.Context, b store.Block) (store.Block, error) {
	now := utc(time.Now())
	b, err := b.Normalized(now)
	if err != nil {
		return store.Block{}, err
	}
	b.CreatedAt = now
	b.ExpiresAt = utc(b.ExpiresAt)
	var seq int64
	err = s.write(ctx, func(tx pgx.Tx) error {
		var err error
		if seq, err = bumpSequence(ctx, tx, store.KindBlocks); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO blocks (`+blockColumns+`, change_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)`,
			b.ID, b.Kind, b.Value, b.Reason, b.Author, b.CreatedAt, b.ExpiresAt, seq); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("a block with this id: %w", store.ErrExists)
			}
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindBlocks, Version: seq})
	})
	if err != nil {
		return store.Block{}, fmt.Errorf("create block %q: %w", b.ID, err)
	}
	s.feed.Publish(store.Change{Kind: store.KindBlocks, Version: seq})
	return b, nil
}

// RemoveBlock implements store.Store.
func (s *Store) RemoveBlock(ctx context.Context, id string) (store.Block, bool, error) {
	var seq int64
	var b store.Block
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = scanBlock(tx.QueryRow(ctx, `SELECT `+blockColumns+` FROM blocks WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || b.RemovedAt != nil {
			return err
		}
		if seq, err = bumpSequence(ctx, tx, store.KindBlocks); err != nil {
			return err
		}
		now := utc(time.Now())
		b.RemovedAt = &now
		if _, err := tx.Exec(ctx, `UPDATE blocks SET removed_at = $1, change_seq = $2 WHERE id = $3`, now, seq, id); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindBlocks, Version: seq})
	})
	if err != nil {
		return store.Block{}, false, fmt.Errorf("remove block %q: %w", id, err)
	}
	if seq == 0 {
		return b, false, nil
	}
	s.feed.Publish(store.Change{Kind: store.KindBlocks, Version: seq})
	return b, true, nil
}

// Blocks implements store.Store.
func (s *Store) Blocks(ctx context.Context, now time.Time) ([]store.Block, error) {
	blocks, _, err := s.queryBlocks(ctx, `SELECT `+blockColumns+`, change_seq FROM blocks
		WHERE removed_at IS NULL AND expires_at > $1 ORDER BY created_at, id`, utc(now))
	if err != nil {
		return nil, fmt.Errorf("blocks: %w", err)
	}
	return blocks, nil
}

// BlockCursor implements store.Store.
func (s *Store) BlockCursor(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM change_sequences WHERE kind = 'blocks'`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("block cursor: %w", err)
	}
	return seq, nil
}

// BlocksChangedSince implements store.Store.
func (s *Store) BlocksChangedSince(ctx context.Context, cursor int64) ([]store.Block, int64, error) {
	blocks, last, err := s.queryBlocks(ctx, `SELECT `+blockColumns+`, change_seq FROM blocks WHERE change_seq > $1 ORDER BY change_seq`, cursor)
	if err != nil {
		return nil, cursor, fmt.Errorf("blocks changed since %d: %w", cursor, err)
	}
	return blocks, max(cursor, last), nil
}

// queryBlocks runs a query of blockColumns and change_seq, and returns the
// blocks and the largest change_seq among them.
func (s *Store) queryBlocks(ctx context.Context, query string, args ...any) ([]store.Block, int64, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var blocks []store.Block
	var last int64
	for rows.Next() {
		var seq int64
		b, err := scanBlock(rows, &seq)
		if err != nil {
			return nil, 0, err
		}
		blocks = append(blocks, b)
		last = max(last, seq)
	}
	return blocks, last, rows.Err()
}

// scanBlock scans blockColumns, then extra.
func scanBlock(row pgx.Row, extra ...any) (store.Block, error) {
	var b store.Block
	if err := row.Scan(append([]any{&b.ID, &b.Kind, &b.Value, &b.Reason, &b.Author, &b.CreatedAt, &b.ExpiresAt, &b.RemovedAt}, extra...)...); err != nil {
		return store.Block{}, err
	}
	b.CreatedAt = utc(b.CreatedAt)
	b.ExpiresAt = utc(b.ExpiresAt)
	b.RemovedAt = utcPtr(b.RemovedAt)
	return b, nil
}
