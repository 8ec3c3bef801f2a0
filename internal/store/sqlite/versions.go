package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/internal/chain"
)

const versionColumns = `number, hash, prev_hash, reason, author, source, weakening, rollback, rollback_of, created_at`

// AppendVersion implements store.Store.
func (s *Store) AppendVersion(ctx context.Context, nv store.NewVersion) (store.Version, error) {
	var v store.Version
	err := s.write(ctx, func(tx *sql.Tx) error {
		var head store.Version
		err := tx.QueryRowContext(ctx, `SELECT number, hash FROM policy_versions ORDER BY number DESC LIMIT 1`).Scan(&head.Number, &head.Hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if v, err = chain.Next(head, nv, time.Now()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_versions (`+versionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.Number, v.Hash, v.PrevHash, v.Reason, v.Author, v.Source, v.Weakening, v.Rollback, v.RollbackOf, formatTime(v.CreatedAt)); err != nil {
			return err
		}
		for _, f := range v.Files {
			if _, err := tx.ExecContext(ctx, `INSERT INTO policy_files (version, name, content) VALUES (?, ?, ?)`, v.Number, f.Name, f.Content); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Version{}, fmt.Errorf("append version: %w", err)
	}
	s.feed.Publish(store.Change{Kind: store.KindPolicy, Version: v.Number})
	return v, nil
}

// ActiveVersion implements store.Store.
func (s *Store) ActiveVersion(ctx context.Context) (store.Version, error) {
	return s.oneVersion(ctx, `SELECT `+versionColumns+` FROM policy_versions ORDER BY number DESC LIMIT 1`)
}

// Version implements store.Store.
func (s *Store) Version(ctx context.Context, n int64) (store.Version, error) {
	v, err := s.oneVersion(ctx, `SELECT `+versionColumns+` FROM policy_versions WHERE number = ?`, n)
	if errors.Is(err, store.ErrNotFound) {
		return store.Version{}, fmt.Errorf("version %d: %w", n, store.ErrNotFound)
	}
	return v, err
}

// oneVersion reads the version query selects, with its files.
func (s *Store) oneVersion(ctx context.Context, query string, args ...any) (store.Version, error) {
	var v store.Version
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		v, err = scanVersion(tx.QueryRowContext(ctx, query, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("policy version: %w", store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		files, err := readFiles(ctx, tx, v.Number, v.Number)
		v.Files = files[v.Number]
		return err
	})
	if err != nil {
		return store.Version{}, err
	}
	return v, nil
}

// Versions implements store.Store.
func (s *Store) Versions(ctx context.Context, limit int, before int64) ([]store.Version, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+versionColumns+` FROM policy_versions WHERE number < ? ORDER BY number DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	defer rows.Close()
	var vs []store.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("versions: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return vs, nil
}

// verifyBatch is how many versions VerifyChain reads at a time.
const verifyBatch = 256

// VerifyChain implements store.Store.
func (s *Store) VerifyChain(ctx context.Context) (store.ChainReport, error) {
	var c chain.Verifier
	err := s.read(ctx, func(tx *sql.Tx) error {
		for last := int64(0); ; {
			vs, err := versionsAfter(ctx, tx, last)
			if err != nil || len(vs) == 0 {
				return err
			}
			files, err := readFiles(ctx, tx, vs[0].Number, vs[len(vs)-1].Number)
			if err != nil {
				return err
			}
			for _, v := range vs {
				v.Files = files[v.Number]
				c.Check(v)
			}
			last = vs[len(vs)-1].Number
		}
	})
	if err != nil {
		return store.ChainReport{}, fmt.Errorf("verify chain: %w", err)
	}
	return c.Report(), nil
}

// versionsAfter returns up to verifyBatch versions numbered above last,
// oldest first, without files.
func versionsAfter(ctx context.Context, tx *sql.Tx, last int64) ([]store.Version, error) {
	return collect(ctx, tx, func(rows *sql.Rows) (store.Version, error) { return scanVersion(rows) },
		`SELECT `+versionColumns+` FROM policy_versions WHERE number > ? ORDER BY number LIMIT ?`, last, verifyBatch)
}

// readFiles returns the files of versions from..to, by version, each list
// sorted by name.
func readFiles(ctx context.Context, tx *sql.Tx, from, to int64) (map[int64][]store.File, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version, name, content FROM policy_files WHERE version BETWEEN ? AND ? ORDER BY version, name`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	files := map[int64][]store.File{}
	for rows.Next() {
		var n int64
		var f store.File
		if err := rows.Scan(&n, &f.Name, &f.Content); err != nil {
			return nil, err
		}
		files[n] = append(files[n], f)
	}
	return files, rows.Err()
}

func scanVersion(row interface{ Scan(...any) error }) (store.Version, error) {
	var v store.Version
	var created string
	if err := row.Scan(&v.Number, &v.Hash, &v.PrevHash, &v.Reason, &v.Author, &v.Source, &v.Weakening, &v.Rollback, &v.RollbackOf, &created); err != nil {
		return store.Version{}, err
	}
	t, err := parseTime(created)
	v.CreatedAt = t
	return v, err
}
