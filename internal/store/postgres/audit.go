package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
)

const auditColumns = `time, request_id, consumer, client_ip, method, path, route, status, decision, reason, policy_version, latency_ms, listener, key_id`

// AppendAudit implements store.Store. The rows go in with COPY: one round
// trip for the batch. Several nodes append at once; seq is an identity, so
// their rows interleave without locking each other out.
func (s *Store) AppendAudit(ctx context.Context, records []store.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_records"}, strings.Split(auditColumns, ", "),
			pgx.CopyFromSlice(len(records), func(i int) ([]any, error) {
				r := records[i]
				return []any{utc(r.Time), r.RequestID, r.Consumer, r.ClientIP, r.Method, r.Path, r.Route,
					int32(r.Status), r.Decision, r.Reason, r.PolicyVersion, r.LatencyMs, r.Listener, r.KeyID}, nil
			}))
		return err
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
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if below > 0 {
		arg("seq <", below)
	}
	if q.Consumer != "" {
		arg("consumer =", q.Consumer)
	}
	if q.Route != "" {
		arg("route =", q.Route)
	}
	if !q.Since.IsZero() {
		arg("time >=", utc(q.Since))
	}
	query := `SELECT seq, ` + auditColumns + ` FROM audit_records`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := q.PageLimit()
	args = append(args, limit+1) // one more tells whether another page follows
	query += ` ORDER BY seq DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var status int32
		if err := rows.Scan(&r.Seq, &r.Time, &r.RequestID, &r.Consumer, &r.ClientIP, &r.Method, &r.Path, &r.Route,
			&status, &r.Decision, &r.Reason, &r.PolicyVersion, &r.LatencyMs, &r.Listener, &r.KeyID); err != nil {
			return nil, "", fmt.Errorf("audit: %w", err)
		}
		r.Status, r.Time = int(status), r.Time.UTC()
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_records WHERE time < $1`, utc(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit records: %w", err)
	}
	return tag.RowsAffected(), nil
}
