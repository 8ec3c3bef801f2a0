package test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver, to fill a store fast

	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// fillKeys makes the SQLite store at path hold n consumers with one API key
// each, in one transaction (through the API, n transactions would take
// minutes).
func fillKeys(t *testing.T, path string, n int) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path) // the schema
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	hash := make([]byte, 32)
	for i := range n {
		name := fmt.Sprintf("consumer-%06d", i)
		_, _ = rand.Read(hash)
		if _, err := tx.Exec(`INSERT INTO consumers (name, roles, created_at) VALUES (?, '["reader"]', ?)`, name, now); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO api_keys (id, consumer, name, hash, prefix, created_at, change_seq) VALUES (?, ?, '', ?, 'pck_abcd', ?, ?)`,
			fmt.Sprintf("key_%06d", i), name, hash, now, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(`UPDATE change_sequences SET value = ? WHERE kind = 'keys'`, n); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// residentMB is the process's resident memory (VmRSS), in MB.
func residentMB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestKeysResidentMemory: a gateway with 100,000 consumers and keys loaded
// stays under 64 MB of resident memory more than one with none (issue #4),
// with its default GC setting.
func TestKeysResidentMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a store with 100,000 keys")
	}
	if raceEnabled {
		// The race detector multiplies memory and time: `make test` runs
		// this test again without it.
		t.Skip("resident memory is measured without the race detector (make test runs it so)")
	}
	up, _ := echoUpstream(t)
	config := monitorPolicy(up.URL, "")
	measure := func(storePath string) float64 {
		g := startGatewayOn(t, "sqlite:"+storePath, config, "public")
		// Settle: a few requests, then let the loading's garbage be collected.
		for range 20 {
			get(t, g.url("public")+"/open/x")
		}
		time.Sleep(2 * time.Second)
		rss := residentMB(t, g.cmd.Process.Pid)
		g.stop()
		return rss
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	full := filepath.Join(dir, "full.db")
	fillKeys(t, full, 100_000)
	base, loaded := measure(empty), measure(full)
	t.Logf("resident memory: %.1f MB with no keys, %.1f MB with 100,000 consumers and keys (+%.1f MB)", base, loaded, loaded-base)
	if loaded-base >= 64 {
		t.Errorf("100,000 keys cost %.1f MB of resident memory, want under 64", loaded-base)
	}
}
