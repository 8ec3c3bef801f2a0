package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Storage {
		path := filepath.Join(t.TempDir(), "portcullis.db")
		return storetest.Storage{
			Open: func(t *testing.T) store.Store {
				return open(t, path)
			},
			Tamper: func(t *testing.T, version int64, what storetest.Tampering) {
				query := map[storetest.Tampering]string{
					storetest.TamperReason: `UPDATE policy_versions SET reason = reason || ' (edited)' WHERE number = ?1`,
					storetest.TamperContent: `UPDATE policy_files SET content = content || '#'
						WHERE version = ?1 AND name = (SELECT min(name) FROM policy_files WHERE version = ?1)`,
				}[what]
				rawExec(t, path, query, version)
			},
		}
	})
}

// open opens a store at path; the caller closes it.
func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// rawExec runs one statement on the database at path, behind any store's
// back, and fails unless it changed exactly one row.
func rawExec(t *testing.T, path, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s changed %d rows, want 1", query, n)
	}
}

func TestConnectionSettings(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	defer s.Close()
	// Hold several connections at once so that each one's settings are seen.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.DB().Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"synchronous":  "2", // FULL
			"foreign_keys": "1",
			"busy_timeout": "5000",
		} {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, pragma, got, want)
			}
		}
		c.Close()
	}
}

func TestMemory(t *testing.T) {
	s, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	v, err := s.AppendVersion(ctx, store.NewVersion{Reason: "in memory", Source: store.SourceAPI, ExpectBase: 0,
		Files: []store.File{{Name: "a.yaml", Content: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Reads and writes share the one connection of the in-memory database.
	if _, err := s.CreateConsumer(ctx, store.Consumer{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ActiveVersion(ctx)
	if err != nil || got.Hash != v.Hash || len(got.Files) != 1 {
		t.Errorf("ActiveVersion = %+v, %v; want %+v", got, err, v)
	}
	if r, err := s.VerifyChain(ctx); err != nil || !r.OK {
		t.Errorf("VerifyChain = %+v, %v", r, err)
	}
}

// migrations is how many migrations the store has.
const migrations = 8

// TestUpgradeFromFirstSchema: a store made by a version with only the first
// migration gets the later ones at Open, and keeps its data.
func TestUpgradeFromFirstSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s := open(t, path)
	if _, err := s.CreateConsumer(t.Context(), store.Consumer{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE quota_counters`, `DROP TABLE blocks`, `DROP TABLE audit_batches`, `DROP TABLE audit_sequence`, `DROP TABLE alerts`, `DROP TABLE secrets`, `DELETE FROM change_sequences WHERE kind IN ('blocks', 'secrets')`,
		`DELETE FROM schema_migrations WHERE version > 1`} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, path)
	defer s.Close()
	if _, err := s.Consumer(t.Context(), "alice"); err != nil {
		t.Errorf("the data of the first schema: %v", err)
	}
	if err := s.AddQuotaCounts(t.Context(), []store.QuotaCount{{Key: "k", End: time.Now().Add(time.Hour), Count: 1}}, time.Now()); err != nil {
		t.Errorf("the second migration was not applied: %v", err)
	}
	if _, err := s.CreateBlock(t.Context(), store.Block{ID: "b1", Kind: store.BlockIP, Value: "192.0.2.1", Reason: "r", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("the third migration was not applied: %v", err)
	}
}

func TestMigrationsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	for range 2 { // the second Open finds nothing to do
		s := open(t, path)
		var n, version int64
		if err := s.DB().QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
			t.Fatal(err)
		}
		if n != migrations || version != migrations {
			t.Errorf("schema_migrations: %d rows up to version %d, want %d rows", n, version, migrations)
		}
		s.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	open(t, path).Close()
	rawExec(t, path, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', '2030-01-01T00:00:00.000000Z')`)
	_, err := sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary knows") {
		t.Fatalf("Open of a store with schema 99 = %v, want a refusal", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, path := range []string{"", "a.db?mode=ro", filepath.Join(t.TempDir(), "missing", "dir", "p.db")} {
		if s, err := sqlite.Open(context.Background(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}
