package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/internal/auditbatch"
)

// AppendAudit implements store.Store: the records go in as one batch row.
// Several nodes append at once; each takes its range of sequence numbers
// under audit_sequence's row lock, held to commit, so a reader never sees a
// batch appear below one it has already paged past.
func (s *Store) AppendAudit(ctx context.Context, records []store.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	b, err := auditbatch.EncodeSealed(records, s.auditSealer) // the sequence numbers are the batch's FirstSeq on
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(records), err)
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE audit_sequence SET next = next + $1 RETURNING next - $1`, b.Count).Scan(&b.FirstSeq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_batches (first_seq, count, min_time, max_time, consumers, routes, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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
	recs, next, err := auditbatch.Page(q, s.auditSealer, func(below int64, n int) ([]auditbatch.Batch, error) {
		rows, err := s.pool.Query(ctx, `SELECT first_seq, data FROM audit_batches
			WHERE ($1::bigint = 0 OR first_seq < $1) AND ($2::bigint = 0 OR max_time >= $2)
			  AND ($3 = '' OR strpos(consumers, $4) > 0) AND ($5 = '' OR strpos(routes, $6) > 0)
			ORDER BY first_seq DESC LIMIT $7`,
			below, since, q.Consumer, auditbatch.Member(q.Consumer), q.Route, auditbatch.Member(q.Route), n)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (auditbatch.Batch, error) {
			var b auditbatch.Batch
			err := row.Scan(&b.FirstSeq, &b.Data)
			return b, err
		})
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
	err := s.write(ctx, func(tx pgx.Tx) error {
		n = 0
		if err := tx.QueryRow(ctx, `WITH gone AS (DELETE FROM audit_batches WHERE max_time < $1 RETURNING count)
			SELECT COALESCE(SUM(count), 0) FROM gone`, cut).Scan(&n); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT first_seq, data FROM audit_batches WHERE min_time < $1 FOR UPDATE`, cut)
		if err != nil {
			return err
		}
		straddling, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auditbatch.Batch, error) {
			var b auditbatch.Batch
			err := row.Scan(&b.FirstSeq, &b.Data)
			return b, err
		})
		if err != nil {
			return err
		}
		trimmed, err := auditbatch.TrimEach(straddling, before, s.auditSealer, func(t auditbatch.Batch) error {
			_, err := tx.Exec(ctx, `UPDATE audit_batches SET count = $1, min_time = $2, max_time = $3, consumers = $4, routes = $5, data = $6 WHERE first_seq = $7`,
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

// RewrapAudit implements store.Store. The batches are locked, so that a
// node pruning at the same time waits.
func (s *Store) RewrapAudit(ctx context.Context, sealer store.AuditSealer) (int, error) {
	n := 0
	err := s.write(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT first_seq, data FROM audit_batches WHERE get_byte(data, 0) = 2 FOR UPDATE`)
		if err != nil {
			return err
		}
		batches, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auditbatch.Batch, error) {
			var b auditbatch.Batch
			err := row.Scan(&b.FirstSeq, &b.Data)
			return b, err
		})
		if err != nil {
			return err
		}
		return auditbatch.RewrapEach(batches, sealer, func(b auditbatch.Batch) error {
			n++
			_, err := tx.Exec(ctx, `UPDATE audit_batches SET data = $1 WHERE first_seq = $2`, b.Data, b.FirstSeq)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("rewrap audit batches: %w", err)
	}
	return n, nil
}
