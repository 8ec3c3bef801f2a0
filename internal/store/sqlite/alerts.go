package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// SaveAlert implements store.Store.
func (s *Store) SaveAlert(ctx context.Context, a store.Alert) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, kind, severity, subject, detail, count, first_time, last_time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, detail = excluded.detail, count = excluded.count, last_time = excluded.last_time`,
			a.ID, a.Kind, a.Severity, a.Subject, a.Detail, a.Count, formatTime(a.First), formatTime(a.Time))
		return err
	})
	if err != nil {
		return fmt.Errorf("save alert %s: %w", a.ID, err)
	}
	return nil
}

// Alerts implements store.Store.
func (s *Store) Alerts(ctx context.Context, limit int) ([]store.Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, severity, subject, detail, count, first_time, last_time
		FROM alerts ORDER BY last_time DESC, id DESC LIMIT ?`, min(max(limit, 0), store.MaxAlerts))
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var out []store.Alert
	for rows.Next() {
		var a store.Alert
		var first, last string
		if err := rows.Scan(&a.ID, &a.Kind, &a.Severity, &a.Subject, &a.Detail, &a.Count, &first, &last); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		if a.First, err = parseTime(first); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		if a.Time, err = parseTime(last); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}

// PruneAlerts implements store.Store.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE last_time < ?`, formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune alerts: %w", err)
	}
	return n, nil
}
