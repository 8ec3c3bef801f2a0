package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

const auditColumns = `time, request_id, consumer, client_ip, method, path, route, status, decision, reason, policy_version, latency_ms, listener, key_id`

// AppendAudit implements store.Store.
func (s *Store) AppendAudit(ctx context.Context, records []store.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_records (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range records {
			if _, err := stmt.ExecContext(ctx, formatTime(r.Time), r.RequestID, r.Consumer, r.ClientIP, r.Method, r.Path, r.Route,
				r.Status, r.Decision, r.Reason, r.PolicyVersion, r.LatencyMs, r.Listener, r.KeyID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(records), err)
	}
	return nil
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, string, error) {
	below, err := store.ParseAuditCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	var where []string
	var args []any
	if below > 0 {
		where, args = append(where, "seq < ?"), append(args, below)
	}
	if q.Consumer != "" {
		where, args = append(where, "consumer = ?"), append(args, q.Consumer)
	}
	if q.Route != "" {
		where, args = append(where, "route = ?"), append(args, q.Route)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, formatTime(q.Since))
	}
	query := `SELECT seq, ` + auditColumns + ` FROM audit_records`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := q.PageLimit()
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1) // one more tells whether another page follows
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var t string
		if err := rows.Scan(&r.Seq, &t, &r.RequestID, &r.Consumer, &r.ClientIP, &r.Method, &r.Path, &r.Route,
			&r.Status, &r.Decision, &r.Reason, &r.PolicyVersion, &r.LatencyMs, &r.Listener, &r.KeyID); err != nil {
			return nil, "", fmt.Errorf("audit: %w", err)
		}
		if r.Time, err = parseTime(t); err != nil {
			return nil, "", fmt.Errorf("audit: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	if len(out) > limit {
		out = out[:limit]
		return out, store.AuditCursor(out[limit-1].Seq), nil
	}
	return out, "", nil
}

// PruneAudit implements store.Store.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_records WHERE time < ?`, formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit records: %w", err)
	}
	return n, nil
}
