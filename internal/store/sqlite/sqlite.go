// Package sqlite is the embedded store backend: one SQLite file, through the
// pure-Go driver modernc.org/sqlite (no cgo). It suits one gateway node.
//
// Every connection runs in WAL mode with synchronous=FULL (a committed write
// is on disk before the call returns, and a crash leaves the last committed
// state, never a torn one), foreign_keys=on and a busy timeout. Writes are
// serialized — one writer at a time in this process, BEGIN IMMEDIATE across
// processes — while reads run concurrently on their own connections, each in
// one snapshot.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/internal/feed"
)

// Memory is the path of a private in-memory database, for tests: it lives
// as long as its Store.
const Memory = ":memory:"

// busyTimeout is how long a write waits for another process's write lock.
const busyTimeout = 5 * time.Second

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store on a SQLite database.
type Store struct {
	db      *sql.DB
	writeMu sync.Mutex // one write transaction at a time in this process
	feed    *feed.Feed
	// auditSealer encrypts the audit trail (SetAuditSealer); nil: clear.
	auditSealer store.AuditSealer

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path, or a
// private in-memory one for Memory, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite store: want a file path without '?', got %q", path)
	}
	if path != Memory {
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("sqlite store %s: its folder: %w", path, err)
		}
	}
	dsn := path + "?" + strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(FULL)",
		"_txlock=immediate", // read-write transactions take the write lock at BEGIN
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	if path == Memory {
		// Every connection to ":memory:" is a database of its own: keep
		// exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	} else {
		// One writer (writeMu) and concurrent readers.
		n := max(4, runtime.GOMAXPROCS(0)+1)
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, feed: feed.New()}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return s, nil
}

// Watch implements store.Store. A SQLite store sees only its own writes.
func (s *Store) Watch(ctx context.Context) (<-chan store.Change, error) {
	return s.feed.Subscribe(ctx)
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.feed.Close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// write runs fn in one read-write transaction, the only one of this process
// at the time, and commits it when fn succeeds.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in one read-only transaction, so that everything fn reads
// comes from one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// bumpSequence advances kind's change sequence within tx and returns its new
// value.
func bumpSequence(ctx context.Context, tx *sql.Tx, kind string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `UPDATE change_sequences SET value = value + 1 WHERE kind = ? RETURNING value`, kind).Scan(&v)
	return v, err
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// timeLayout is how times are stored: UTC, RFC 3339, six fractional digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string {
	return store.Timestamp(t).Format(timeLayout)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func formatOptionalTime(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(*t), Valid: true}
}

func parseOptionalTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	return &t, err
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// collect runs query on q and scans every row with scan.
func collect[T any](ctx context.Context, q querier, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
