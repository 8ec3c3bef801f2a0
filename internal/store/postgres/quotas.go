package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

// AddQuotaCounts implements store.Store. Rows are written in key order, so
// that two nodes saving at once cannot deadlock on each other's rows.
func (s *Store) AddQuotaCounts(ctx context.Context, counts []store.QuotaCount, now time.Time) error {
	sorted := slices.SortedFunc(slices.Values(counts), func(a, b store.QuotaCount) int { return strings.Compare(a.Key, b.Key) })
	err := s.write(ctx, func(tx pgx.Tx) error {
		for _, c := range sorted {
			if c.Count < 0 {
				return fmt.Errorf("%w quota count: negative", store.ErrInvalid)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO quota_counters (key, period_end, count) VALUES ($1, $2, $3)
				ON CONFLICT (key) DO UPDATE SET count = quota_counters.count + excluded.count`,
				[]byte(c.Key), utc(c.End), c.Count); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM quota_counters WHERE period_end < $1`, utc(now))
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
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT key, period_end, count FROM quota_counters WHERE period_end > $1 ORDER BY key`, utc(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var key []byte
			var c store.QuotaCount
			if err := rows.Scan(&key, &c.End, &c.Count); err != nil {
				return err
			}
			c.Key, c.End = string(key), c.End.UTC()
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("quota counts: %w", err)
	}
	return out, nil
}
