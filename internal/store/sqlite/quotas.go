package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// AddQuotaCounts implements store.Store.
func (s *Store) AddQuotaCounts(ctx context.Context, counts []store.QuotaCount, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, c := range counts {
			if c.Count < 0 {
				return fmt.Errorf("%w quota count: negative", store.ErrInvalid)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO quota_counters (key, period_end, count) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET count = count + excluded.count`,
				[]byte(c.Key), formatTime(c.End), c.Count); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM quota_counters WHERE period_end < ?`, formatTime(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("add quota counts: %w", err)
	}
	return nil
}

// QuotaCounts implements store.Store.
func (s *Store) QuotaCounts(ctx context.Context, now time.Time) ([]store.QuotaCount, error) {
	var out []store.QuotaCount
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT key, period_end, count FROM quota_counters WHERE period_end > ? ORDER BY key`, formatTime(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var key []byte
			var end string
			var c store.QuotaCount
			if err := rows.Scan(&key, &end, &c.Count); err != nil {
				return err
			}
			if c.End, err = parseTime(end); err != nil {
				return err
			}
			c.Key = string(key)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("quota counts: %w", err)
	}
	return out, nil
}
