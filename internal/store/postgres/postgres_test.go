package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/postgres"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// The tests reach PostgreSQL at $PORTCULLIS_TEST_POSTGRES, or at
// defaultTestDSN. Each test gets a schema of its own, dropped at cleanup.
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	adminOnce sync.Once
	adminPool *pgxpool.Pool
	adminErr  error
)

// testDSN returns the connection string the tests use.
func testDSN() string {
	if dsn := os.Getenv("PORTCULLIS_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return defaultTestDSN
}

// admin returns a pool on the test database, shared by the package's tests,
// for making and dropping schemas and for tampering. When PostgreSQL cannot
// be reached the test is skipped — or fails when CI is set.
func admin(t *testing.T) *pgxpool.Pool {
	t.Helper()
	adminOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		adminPool, adminErr = pgxpool.New(ctx, testDSN())
		if adminErr == nil {
			if adminErr = adminPool.Ping(ctx); adminErr != nil {
				adminPool.Close()
			}
		}
	})
	if adminErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL required in CI (PORTCULLIS_TEST_POSTGRES or %s): %v", defaultTestDSN, adminErr)
		}
		t.Skipf("PostgreSQL not reachable (set PORTCULLIS_TEST_POSTGRES; default %s): %v", defaultTestDSN, adminErr)
	}
	return adminPool
}

// freshSchema creates an empty schema with a random name and drops it with
// everything in it when the test ends.
func freshSchema(t *testing.T) string {
	t.Helper()
	pool := admin(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "portcullis_test_" + hex.EncodeToString(b)
	if _, err := pool.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return schema
}

// openStore opens a store on schema; the caller closes it.
func openStore(t *testing.T, schema string, opts postgres.Options) *postgres.Store {
	t.Helper()
	opts.Schema = schema
	s, err := postgres.Open(t.Context(), testDSN(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	admin(t)
	storetest.Run(t, func(t *testing.T) storetest.Storage {
		schema := freshSchema(t)
		return storetest.Storage{
			Open: func(t *testing.T) store.Store {
				return openStore(t, schema, postgres.Options{PollInterval: 200 * time.Millisecond})
			},
			Tamper: func(t *testing.T, version int64, what storetest.Tampering) {
				query := map[storetest.Tampering]string{
					storetest.TamperReason: `UPDATE %s.policy_versions SET reason = reason || ' (edited)' WHERE number = $1`,
					storetest.TamperContent: `UPDATE %[1]s.policy_files SET content = content || '#'
						WHERE version = $1 AND name = (SELECT min(name) FROM %[1]s.policy_files WHERE version = $1)`,
				}[what]
				rawExec(t, schema, query, version)
			},
		}
	})
}

// rawExec runs query, with %s standing for the schema, behind every store's
// back, and fails unless it changed exactly one row.
func rawExec(t *testing.T, schema, query string, args ...any) {
	t.Helper()
	query = strings.ReplaceAll(query, "%[1]s", "%s")
	query = strings.ReplaceAll(query, "%s", pgx.Identifier{schema}.Sanitize())
	tag, err := admin(t).Exec(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("%s changed %d rows, want 1", query, tag.RowsAffected())
	}
}

// TestTwoNodes: a store sees another store's append on the same schema
// within a second.
func TestTwoNodes(t *testing.T) {
	schema := freshSchema(t)
	a := openStore(t, schema, postgres.Options{})
	defer a.Close()
	b := openStore(t, schema, postgres.Options{})
	defer b.Close()
	ch, err := b.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitListening(t, b)
	for i := range 3 {
		start := time.Now()
		v, err := a.AppendVersion(t.Context(), store.NewVersion{Reason: "from node a", Source: store.SourceAPI, ExpectBase: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		storetest.WaitForChange(t, ch, store.KindPolicy, v.Number, time.Second)
		t.Logf("node b saw version %d after %v", v.Number, time.Since(start))
		got, err := b.ActiveVersion(t.Context())
		if err != nil || got.Hash != v.Hash {
			t.Fatalf("node b's active version = %+v, %v; want %+v", got, err, v)
		}
	}
	if _, err := a.CreateConsumer(t.Context(), store.Consumer{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	storetest.WaitForChange(t, ch, store.KindConsumers, 1, time.Second)
}

// waitListening waits until s's LISTEN connection is up.
func waitListening(t *testing.T, s *postgres.Store) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.ListenerPID() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the store did not start listening within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListenerReconnects: with polling out of the picture, notifications
// still arrive after the LISTEN connection is killed.
func TestListenerReconnects(t *testing.T) {
	schema := freshSchema(t)
	a := openStore(t, schema, postgres.Options{})
	defer a.Close()
	b := openStore(t, schema, postgres.Options{PollInterval: time.Hour})
	defer b.Close()
	ch, err := b.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitListening(t, b)
	for round := range 2 {
		pid := b.ListenerPID()
		var killed bool
		if err := admin(t).QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&killed); err != nil || !killed {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
		}
		for deadline := time.Now().Add(5 * time.Second); b.ListenerPID() == pid; {
			if time.Now().After(deadline) {
				t.Fatal("the store did not reconnect within 5s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		v, err := a.AppendVersion(t.Context(), store.NewVersion{Reason: "after the drop", Source: store.SourceAPI, ExpectBase: int64(round)})
		if err != nil {
			t.Fatal(err)
		}
		storetest.WaitForChange(t, ch, store.KindPolicy, v.Number, time.Second)
	}
}

// TestPollCatchesMissedNotification: a change that sent no notification
// (as if it were lost) still reaches a watcher by polling.
func TestPollCatchesMissedNotification(t *testing.T) {
	schema := freshSchema(t)
	s := openStore(t, schema, postgres.Options{PollInterval: 100 * time.Millisecond})
	defer s.Close()
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rawExec(t, schema, `UPDATE %s.change_sequences SET value = value + 1 WHERE kind = $1`, store.KindConsumers)
	storetest.WaitForChange(t, ch, store.KindConsumers, 1, time.Second)
}

// TestConcurrentMigrations: nodes starting together on an empty schema
// migrate it once.
func TestConcurrentMigrations(t *testing.T) {
	schema := freshSchema(t)
	const nodes = 5
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), testDSN(), postgres.Options{Schema: schema})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := admin(t).QueryRow(t.Context(), `SELECT count(*) FROM `+pgx.Identifier{schema}.Sanitize()+`.schema_migrations`).Scan(&n); err != nil || n != 8 {
		t.Errorf("schema_migrations has %d rows (%v), want one per migration (8)", n, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	schema := freshSchema(t)
	openStore(t, schema, postgres.Options{}).Close()
	rawExec(t, schema, `INSERT INTO %s.schema_migrations (version, name) VALUES (99, '0099_future.sql')`)
	_, err := postgres.Open(t.Context(), testDSN(), postgres.Options{Schema: schema})
	if err == nil || !strings.Contains(err.Error(), "newer than this binary knows") {
		t.Fatalf("Open of a store with schema 99 = %v, want a refusal", err)
	}
}

// TestErrorsHidePassword: a failing connection's error never shows the
// password of its connection string.
func TestErrorsHidePassword(t *testing.T) {
	const password = "s3cr3t-pa55word"
	for _, dsn := range []string{
		"postgres://nobody:" + password + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
		"postgres://nobody:" + password + "@127.0.0.1:1/test?sslmode=bogus",
		"host=127.0.0.1 port=1 user=nobody password=" + password + " connect_timeout=2",
	} {
		_, err := postgres.Open(t.Context(), dsn, postgres.Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
