package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// goldenVersion is the input of TestVersionHashGolden.
var goldenVersion = store.Version{
	Number:     7,
	PrevHash:   "5f0c1e0d2b3a49587766554433221100ffeeddccbbaa99887766554433221100",
	Files:      []store.File{{Name: "b.yaml", Content: "kind: Service\n"}, {Name: "a.yaml", Content: "kind: Gateway\nmetadata: {name: gw}\n"}},
	Reason:     "tighten rate limits, ticket SEC-42",
	Author:     "alice",
	Source:     store.SourceRollback,
	Weakening:  true,
	Rollback:   true,
	RollbackOf: 3,
	CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
}

// TestVersionHashGolden pins the hash encoding: the pre-image written out
// as VersionHash's doc comment describes it, and its hash. If this test
// fails, stored chains no longer verify: change the encoding only with a new
// domain tag and a migration.
func TestVersionHashGolden(t *testing.T) {
	const preimage = "28:portcullis/policy-version/v1," +
		"1:7," +
		"1:2," +
		"6:a.yaml,35:kind: Gateway\nmetadata: {name: gw}\n," +
		"6:b.yaml,14:kind: Service\n," +
		"34:tighten rate limits, ticket SEC-42," +
		"5:alice," +
		"8:rollback," +
		"1:1," +
		"1:1," +
		"1:3," +
		"27:2026-01-02T03:04:05.000006Z," +
		"64:5f0c1e0d2b3a49587766554433221100ffeeddccbbaa99887766554433221100,"
	const golden = "086d839ab9cecc28b4f51e43a7571bbef0953818eea3f26437f0b76980f45cbe"
	sum := sha256.Sum256([]byte(preimage))
	want := hex.EncodeToString(sum[:])
	if got := store.VersionHash(goldenVersion); got != want {
		t.Errorf("VersionHash = %s, want the hash of the documented encoding %s", got, want)
	}
	if want != golden {
		t.Errorf("the documented encoding hashes to %s, pinned %s", want, golden)
	}
}

func TestVersionHashCoversEveryField(t *testing.T) {
	base := store.VersionHash(goldenVersion)
	for name, change := range map[string]func(*store.Version){
		"number":   func(v *store.Version) { v.Number++ },
		"prevHash": func(v *store.Version) { v.PrevHash = "" },
		"file content": func(v *store.Version) {
			v.Files = []store.File{v.Files[0], {Name: "a.yaml", Content: "kind: Gateway\n"}}
		},
		"file name": func(v *store.Version) {
			v.Files = []store.File{v.Files[0], {Name: "c.yaml", Content: v.Files[1].Content}}
		},
		"file dropped": func(v *store.Version) { v.Files = v.Files[:1] },
		"file boundary": func(v *store.Version) {
			v.Files = []store.File{{Name: "a.yaml", Content: "kind: Gateway\nmetadata: {name: gw}\n6:b.yaml,14:kind: Service\n"}}
		},
		"reason":     func(v *store.Version) { v.Reason += "." },
		"author":     func(v *store.Version) { v.Author = "mallory" },
		"source":     func(v *store.Version) { v.Source = store.SourceAPI },
		"weakening":  func(v *store.Version) { v.Weakening = false },
		"rollback":   func(v *store.Version) { v.Rollback = false },
		"rollbackOf": func(v *store.Version) { v.RollbackOf = 4 },
		"createdAt":  func(v *store.Version) { v.CreatedAt = v.CreatedAt.Add(time.Microsecond) },
		"reason into author": func(v *store.Version) {
			v.Reason, v.Author = "tighten rate limits, ticket SEC-42alice", ""
		},
	} {
		v := goldenVersion
		change(&v)
		if store.VersionHash(v) == base {
			t.Errorf("changing the %s leaves the hash unchanged", name)
		}
	}
	for name, same := range map[string]func(*store.Version){
		"files in another order": func(v *store.Version) { v.Files = []store.File{v.Files[1], v.Files[0]} },
		"the same instant elsewhere": func(v *store.Version) {
			v.CreatedAt = v.CreatedAt.In(time.FixedZone("UTC+2", 7200))
		},
		"the hash field itself": func(v *store.Version) { v.Hash = "anything" },
	} {
		v := goldenVersion
		same(&v)
		if store.VersionHash(v) != base {
			t.Errorf("%s changes the hash", name)
		}
	}
}

func TestNewVersionValidate(t *testing.T) {
	ok := store.NewVersion{Reason: "r", Source: store.SourceFile, ExpectBase: -1, Files: []store.File{{Name: "a", Content: ""}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid version: %v", err)
	}
	bad := store.NewVersion{Source: "?", Rollback: true, ExpectBase: -5, Files: []store.File{{Name: "a"}, {Name: "a"}, {}}}
	err := bad.Validate()
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	t.Log(err) // every problem in one error
}

func TestTimestamp(t *testing.T) {
	in := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", -3600))
	got := store.Timestamp(in)
	if got.Location() != time.UTC || got.Nanosecond() != 123456000 || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Errorf("Timestamp(%v) = %v", in, got)
	}
}
