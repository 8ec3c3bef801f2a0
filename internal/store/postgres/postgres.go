// Package postgres is the store backend that several gateway nodes share:
// PostgreSQL through pgx (pgxpool).
//
// Every write is one transaction that also sends a notification on the
// channel portcullis_changes (payload {"kind":"policy|keys|consumers|blocks",
// "version":N}), which PostgreSQL delivers only once the write commits. A
// watching store LISTENs on a dedicated connection, reconnecting when it
// drops, and also polls every Options.PollInterval, so a missed
// notification delays a change but never loses it. A notification is a cue
// to re-read the state, never trusted on its own: channels are per
// database, so another schema's store may share it.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/internal/feed"
)

// Channel is the LISTEN/NOTIFY channel of change notifications.
const Channel = "portcullis_changes"

// DefaultPollInterval is how often a watching store polls by default.
const DefaultPollInterval = 2 * time.Second

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune a Store; the zero value is the default.
type Options struct {
	// Schema, when set, is the schema that holds the store's tables: every
	// connection's search_path. By default it is the server's search_path.
	Schema string
	// PollInterval is how often a watching store checks for changes that a
	// lost notification would hide. Default DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives the troubles of the notification connection and of
	// polling (never a connection string). Default slog.Default().
	Logger *slog.Logger
}

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool       *pgxpool.Pool
	listenConf *pgx.ConnConfig // the dedicated LISTEN connection's
	opts       Options
	feed       *feed.Feed
	// auditSealer encrypts the audit trail (SetAuditSealer); nil: clear.
	auditSealer store.AuditSealer

	ctx    context.Context // ends at Close; the followers run within it
	cancel context.CancelFunc

	mu        sync.Mutex
	following bool // the listener and the poller run
	closed    bool
	wg        sync.WaitGroup

	listenerPID uint32 // the LISTEN connection's backend, for tests; under mu
}

var _ store.Store = (*Store)(nil)

// Open connects to the database that dsn names (a postgres:// URL or a
// keyword/value string) and brings its schema up to date. Errors never
// include the password.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err) // pgx redacts the password
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	listenConf := cfg.ConnConfig.Copy()
	listenConf.RuntimeParams["application_name"] = "portcullis-listener"
	listenConf.DialFunc = keepAliveDialer.DialContext

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{pool: pool, listenConf: listenConf, opts: opts, feed: feed.New(), ctx: sctx, cancel: cancel}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	// The state as of now is the baseline that changes must exceed.
	if err := s.refresh(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	return s, nil
}

// Watch implements store.Store. The first call starts following the
// database: the LISTEN connection and the poller.
func (s *Store) Watch(ctx context.Context) (<-chan store.Change, error) {
	ch, err := s.feed.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if !s.following && !s.closed {
		s.following = true
		s.wg.Add(2)
		go s.listen()
		go s.poll()
	}
	s.mu.Unlock()
	return ch, nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.feed.Close()
	s.pool.Close()
	return nil
}

// write runs fn in one read-write transaction and commits it when fn
// succeeds.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// read runs fn in one read-only transaction on one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// notify queues a change notification in tx; PostgreSQL sends it at commit.
func notify(ctx context.Context, tx pgx.Tx, c store.Change) error {
	payload, err := json.Marshal(struct {
		Kind    string `json:"kind"`
		Version int64  `json:"version"`
	}{c.Kind, c.Version})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, string(payload))
	return err
}

// bumpSequence advances kind's change sequence within tx and returns its new
// value. The row stays locked until tx ends, so values commit in order.
func bumpSequence(ctx context.Context, tx pgx.Tx, kind string) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `UPDATE change_sequences SET value = value + 1 WHERE kind = $1 RETURNING value`, kind).Scan(&v)
	return v, err
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint failure.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// utc returns t as the store hands times out: UTC, microseconds.
func utc(t time.Time) time.Time { return store.Timestamp(t) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}
