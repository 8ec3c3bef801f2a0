package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

// SaveAlert implements store.Store.
func (s *Store) SaveAlert(ctx context.Context, a store.Alert) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO alerts (id, kind, severity, subject, detail, count, first_time, last_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, detail = excluded.detail, count = excluded.count, last_time = excluded.last_time`,
		a.ID, a.Kind, a.Severity, a.Subject, a.Detail, a.Count, utc(a.First), utc(a.Time))
	if err != nil {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return nil
}

// Alerts implements store.Store.
func (s *Store) Alerts(ctx context.Context, limit int) ([]store.Alert, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, kind, severity, subject, detail, count, first_time, last_time
		FROM alerts ORDER BY last_time DESC, id DESC LIMIT $1`, min(max(limit, 0), store.MaxAlerts))
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Alert, error) {
		var a store.Alert
		var count int32
		err := row.Scan(&a.ID, &a.Kind, &a.Severity, &a.Subject, &a.Detail, &count, &a.First, &a.Time)
		a.Count, a.First, a.Time = int(count), a.First.UTC(), a.Time.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}

// PruneAlerts implements store.Store.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM alerts WHERE last_time < $1`, utc(before))
	if err != nil {
		return 0, fmt.Errorf("prune alerts: %w", err)
	}
	return tag.RowsAffected(), nil
}
