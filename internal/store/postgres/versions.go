package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/internal/chain"
)

const versionColumns = `number, hash, prev_hash, reason, author, source, weakening, rollback, rollback_of, created_at`

// AppendVersion implements store.Store. Appends take turns on a table lock
// that readers do not wait for.
func (s *Store) AppendVersion(ctx context.Context, nv store.NewVersion) (store.Version, error) {
	var v store.Version
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE policy_versions IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var head store.Version
		err := tx.QueryRow(ctx, `SELECT number, hash FROM policy_versions ORDER BY number DESC LIMIT 1`).Scan(&head.Number, &head.Hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if v, err = chain.Next(head, nv, time.Now()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policy_versions (`+versionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			v.Number, v.Hash, v.PrevHash, v.Reason, v.Author, v.Source, v.Weakening, v.Rollback, v.RollbackOf, v.CreatedAt); err != nil {
			return err
		}
		names, contents := make([]string, len(v.Files)), make([]string, len(v.Files))
		for i, f := range v.Files {
			names[i], contents[i] = f.Name, f.Content
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policy_files (version, name, content) SELECT $1, * FROM unnest($2::text[], $3::text[])`,
			v.Number, names, contents); err != nil {
			return err
		}
		return notify(ctx, tx, store.Change{Kind: store.KindPolicy, Version: v.Number})
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
	v, err := s.oneVersion(ctx, `SELECT `+versionColumns+` FROM policy_versions WHERE number = $1`, n)
	if errors.Is(err, store.ErrNotFound) {
		return store.Version{}, fmt.Errorf("version %d: %w", n, store.ErrNotFound)
	}
	return v, err
}

// oneVersion reads the version query selects, with its files.
func (s *Store) oneVersion(ctx context.Context, query string, args ...any) (store.Version, error) {
	var v store.Version
	err := s.read(ctx, func(tx pgx.Tx) error {
		var err error
		v, err = scanVersion(tx.QueryRow(ctx, query, args...))
		if errors.Is(err, pgx.ErrNoRows) {
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
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM policy_versions WHERE number < $1 ORDER BY number DESC LIMIT $2`, before, lim)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	vs, err := collectVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return vs, nil
}

// verifyBatch is how many versions VerifyChain reads at a time.
const verifyBatch = 256

// VerifyChain implements store.Store.
func (s *Store) VerifyChain(ctx context.Context) (store.ChainReport, error) {
	var c chain.Verifier
	err := s.read(ctx, func(tx pgx.Tx) error {
		for last := int64(0); ; {
			rows, err := tx.Query(ctx, `SELECT `+versionColumns+` FROM policy_versions WHERE number > $1 ORDER BY number LIMIT $2`, last, verifyBatch)
			if err != nil {
				return err
			}
			vs, err := collectVersions(rows)
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

// readFiles returns the files of versions from..to, by version, each list
// sorted by name.
func readFiles(ctx context.Context, tx pgx.Tx, from, to int64) (map[int64][]store.File, error) {
	rows, err := tx.Query(ctx, `SELECT version, name, content FROM policy_files WHERE version BETWEEN $1 AND $2 ORDER BY version, name`, from, to)
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

func collectVersions(rows pgx.Rows) ([]store.Version, error) {
	defer rows.Close()
	var vs []store.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

func scanVersion(row pgx.Row) (store.Version, error) {
	var v store.Version
	err := row.Scan(&v.Number, &v.Hash, &v.PrevHash, &v.Reason, &v.Author, &v.Source, &v.Weakening, &v.Rollback, &v.RollbackOf, &v.CreatedAt)
	v.CreatedAt = utc(v.CreatedAt)
	return v, err
}
