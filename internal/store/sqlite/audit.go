package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/internal/auditbatch"
)

// AppendAudit implements store.Store: the records go in as one batch row.
func (s *Store) AppendAudit(ctx context.Context, records []store.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	b, err := auditbatch.EncodeSealed(records, s.auditSealer) // the sequence numbers are the batch's FirstSeq on
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(records), err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `UPDATE audit_sequence SET next = next + ? RETURNING next - ?`, b.Count, b.Count).Scan(&b.FirstSeq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_batches (first_seq, count, min_time, max_time, consumers, routes, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.FirstSeq, b.Count, b.MinTime, b.MaxTime, b.Consumers, b.Routes, b.Data)
		return err
	})
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(records), err)
	}
	return nil
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, string, error) {
	since := int64(0)
	if !q.Since.IsZero() {
		since = store.Timestamp(q.Since).UnixMicro()
	}
	// Each fetch is a statement of its own: a page may see batches
	// appended while it reads, and the cursor keeps pages apart.
	recs, next, err := auditbatch.Page(q, s.auditSealer, func(below int64, n int) ([]auditbatch.Batch, error) {
		rows, err := s.db.QueryContext(ctx, `SELECT first_seq, data FROM audit_batches
			WHERE (? = 0 OR first_seq < ?) AND (? = 0 OR max_time >= ?)
			  AND (? = '' OR instr(consumers, ?) > 0) AND (? = '' OR instr(routes, ?) > 0)
			ORDER BY first_seq DESC LIMIT ?`,
			below, below, since, since, q.Consumer, auditbatch.Member(q.Consumer), q.Route, auditbatch.Member(q.Route), n)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []auditbatch.Batch
		for rows.Next() {
			var b auditbatch.Batch
			if err := rows.Scan(&b.FirstSeq, &b.Data); err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, rows.Err()
	})
	if err != nil {
		return nil, "", fmt.Errorf("audit: %w", err)
	}
	return recs, next, nil
}

// PruneAudit implements store.Store: it deletes the batches wholly older
// than before, and trims the records older than before out of those that
// straddle it.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	cut := store.Timestamp(before).UnixMicro()
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(count), 0) FROM audit_batches WHERE max_time < ?`, cut).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_batches WHERE max_time < ?`, cut); err != nil {
			return err
		}
		var straddling []auditbatch.Batch
		rows, err := tx.QueryContext(ctx, `SELECT first_seq, count, data FROM audit_batches WHERE min_time < ?`, cut)
		if err != nil {
			return err
		}
		for rows.Next() {
			var b auditbatch.Batch
			if err := rows.Scan(&b.FirstSeq, &b.Count, &b.Data); err != nil {
				rows.Close()
				return err
			}
			straddling = append(straddling, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		trimmed, err := auditbatch.TrimEach(straddling, before, s.auditSealer, func(t auditbatch.Batch) error {
			_, err := tx.ExecContext(ctx, `UPDATE audit_batches SET count = ?, min_time = ?, max_time = ?, consumers = ?, routes = ?, data = ? WHERE first_seq = ?`,
				t.Count, t.MinTime, t.MaxTime, t.Consumers, t.Routes, t.Data, t.FirstSeq)
			return err
		})
		n += trimmed
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit records: %w", err)
	}
	return n, nil
}

// SetAuditSealer implements store.Store.
func (s *Store) SetAuditSealer(sealer store.AuditSealer) { s.auditSealer = sealer }

// RewrapAudit implements store.Store.
func (s *Store) RewrapAudit(ctx context.Context, sealer store.AuditSealer) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		batches, err := collect(ctx, tx, func(rows *sql.Rows) (auditbatch.Batch, error) {
			var b auditbatch.Batch
			err := rows.Scan(&b.FirstSeq, &b.Data)
			return b, err
		}, `SELECT first_seq, data FROM audit_batches WHERE substr(data, 1, 1) = x'02'`)
		if err != nil {
			return err
		}
		return auditbatch.RewrapEach(batches, sealer, func(b auditbatch.Batch) error {
			n++
			_, err := tx.ExecContext(ctx, `UPDATE audit_batches SET data = ? WHERE first_seq = ?`, b.Data, b.FirstSeq)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("rewrap audit batches: %w", err)
	}
	return n, nil
}
