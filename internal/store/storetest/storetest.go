// Package storetest is the conformance suite that every store backend
// passes: one set of tests, one meaning of store.Store. A backend's own test
// calls Run with a way to make fresh, empty storage for each test.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Storage is one test's fresh, empty storage: a SQLite file, a PostgreSQL
// schema.
type Storage struct {
	// Open opens a store on the storage. Called again, it opens another store
	// on the same data. The suite closes every store it opens.
	Open func(t *testing.T) store.Store
	// Tamper changes a stored version behind every store's back, with the
	// backend's own SQL, as someone with access to the database could.
	Tamper func(t *testing.T, version int64, what Tampering)
}

// Tampering is what Storage.Tamper changes.
type Tampering int

// The ways Storage.Tamper changes a version.
const (
	TamperReason  Tampering = iota // the version's reason: append " (edited)"
	TamperContent                  // the content of the version's first file, by name: append "#"
)

// Run runs the suite. fresh is called once per test, which may run in
// parallel with the others.
func Run(t *testing.T, fresh func(t *testing.T) Storage) {
	tests := []struct {
		name string
		run  func(t *testing.T, st Storage)
	}{
		{"EmptyStore", testEmptyStore},
		{"AppendLinksVersions", testAppendLinksVersions},
		{"FilesRoundTrip", testFilesRoundTrip},
		{"RollbackFieldsRoundTrip", testRollbackFieldsRoundTrip},
		{"InvalidVersions", testInvalidVersions},
		{"ExpectBase", testExpectBase},
		{"ConcurrentExpectBase", testConcurrentExpectBase},
		{"ConcurrentAppendsNoGaps", testConcurrentAppendsNoGaps},
		{"VersionsPaging", testVersionsPaging},
		{"NotFound", testNotFound},
		{"Consumers", testConsumers},
		{"Keys", testKeys},
		{"KeysChangedSince", testKeysChangedSince},
		{"KeysChangedSinceConcurrent", testKeysChangedSinceConcurrent},
		{"TamperedReason", func(t *testing.T, st Storage) { testTampered(t, st, TamperReason) }},
		{"TamperedContent", func(t *testing.T, st Storage) { testTampered(t, st, TamperContent) }},
		{"QuotaCounts", testQuotaCounts},
		{"QuotaCountsConcurrent", testQuotaCountsConcurrent},
		{"Blocks", testBlocks},
		{"InvalidBlocks", testInvalidBlocks},
		{"BlocksChangedSince", testBlocksChangedSince},
		{"WatchBlocks", testWatchBlocks},
		{"Audit", testAudit},
		{"AuditQuery", testAuditQuery},
		{"PruneAudit", testPruneAudit},
		{"AuditSealed", testAuditSealed},
		{"Alerts", testAlerts},
		{"Secrets", testSecrets},
		{"WatchSecrets", testWatchSecrets},
		{"RewrapSecrets", testRewrapSecrets},
		{"Watch", testWatch},
		{"WatchEndsWithContext", testWatchEndsWithContext},
		{"Close", testClose},
		{"Reopen", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, fresh(t))
		})
	}
}

// open opens a store on st and closes it when the test ends.
func open(t *testing.T, st Storage) store.Store {
	t.Helper()
	s := st.Open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// ctx returns a context that ends with the test, or after a minute.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// apiVersion returns a NewVersion from the admin API, appended whatever the
// base.
func apiVersion(reason string, files ...store.File) store.NewVersion {
	return store.NewVersion{Files: files, Reason: reason, Author: "admin", Source: store.SourceAPI, ExpectBase: -1}
}

func mustAppend(t *testing.T, s store.Store, nv store.NewVersion) store.Version {
	t.Helper()
	v, err := s.AppendVersion(ctx(t), nv)
	if err != nil {
		t.Fatalf("AppendVersion(%q): %v", nv.Reason, err)
	}
	return v
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}
