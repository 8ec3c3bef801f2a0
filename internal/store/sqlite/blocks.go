package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

const blockColumns = `id, kind, value, reason, author, created_at, expires_at, removed_at`

// CreateBlock implements store.Store.
func (s *Store) CreateBlock(ctx context.Context, b store.Block) (store.Block, error) {
	now := store.Timestamp(time.Now())
	b, err := b.Normalized(now)
	if err != nil {
		return store.Block{}, err
	}
	b.CreatedAt = now
	b.ExpiresAt = store.Timestamp(b.ExpiresAt)
	var seq int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if seq, err = bumpSequence(ctx, tx, store.KindBlocks); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO blocks (`+blockColumns+`, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
			b.ID, b.Kind, b.Value, b.Reason, b.Author, formatTime(b.CreatedAt), formatTime(b.ExpiresAt), seq)
		if isUniqueViolation(err) {
			return fmt.Errorf("a block with this id: %w", store.ErrExists)
		}
		return err
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = scanBlock(tx.QueryRowContext(ctx, `SELECT `+blockColumns+` FROM blocks WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || b.RemovedAt != nil {
			return err
		}
		if seq, err = bumpSequence(ctx, tx, store.KindBlocks); err != nil {
			return err
		}
		now := store.Timestamp(time.Now())
		b.RemovedAt = &now
		_, err = tx.ExecContext(ctx, `UPDATE blocks SET removed_at = ?, change_seq = ? WHERE id = ?`, formatTime(now), seq, id)
		return err
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
		WHERE removed_at IS NULL AND expires_at > ? ORDER BY created_at, id`, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("blocks: %w", err)
	}
	return blocks, nil
}

// BlockCursor implements store.Store.
func (s *Store) BlockCursor(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM change_sequences WHERE kind = 'blocks'`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("block cursor: %w", err)
	}
	return seq, nil
}

// BlocksChangedSince implements store.Store.
func (s *Store) BlocksChangedSince(ctx context.Context, cursor int64) ([]store.Block, int64, error) {
	blocks, last, err := s.queryBlocks(ctx, `SELECT `+blockColumns+`, change_seq FROM blocks WHERE change_seq > ? ORDER BY change_seq`, cursor)
	if err != nil {
		return nil, cursor, fmt.Errorf("blocks changed since %d: %w", cursor, err)
	}
	return blocks, max(cursor, last), nil
}

// queryBlocks runs a query of blockColumns and change_seq, and returns the
// blocks and the largest change_seq among them.
func (s *Store) queryBlocks(ctx context.Context, query string, args ...any) ([]store.Block, int64, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
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
func scanBlock(row interface{ Scan(...any) error }, extra ...any) (store.Block, error) {
	var b store.Block
	var created, expires string
	var removed sql.NullString
	if err := row.Scan(append([]any{&b.ID, &b.Kind, &b.Value, &b.Reason, &b.Author, &created, &expires, &removed}, extra...)...); err != nil {
		return store.Block{}, err
	}
	var errs [3]error
	b.CreatedAt, errs[0] = parseTime(created)
	b.ExpiresAt, errs[1] = parseTime(expires)
	b.RemovedAt, errs[2] = parseOptionalTime(removed)
	return b, errors.Join(errs[:]...)
}
