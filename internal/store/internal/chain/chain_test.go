package chain

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// history makes n chained versions.
func history(t *testing.T, n int) []store.Version {
	t.Helper()
	var vs []store.Version
	var head store.Version
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v, err := Next(head, store.NewVersion{Reason: fmt.Sprintf("v%d", i+1), Source: store.SourceAPI, ExpectBase: head.Number,
			Files: []store.File{{Name: "z.yaml", Content: "z"}, {Name: "a.yaml", Content: fmt.Sprint(i)}}}, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
		head = v
	}
	return vs
}

func TestNext(t *testing.T) {
	vs := history(t, 2)
	if vs[0].Number != 1 || vs[0].PrevHash != "" || vs[1].PrevHash != vs[0].Hash || vs[1].Files[0].Name != "a.yaml" {
		t.Errorf("history = %+v", vs)
	}
	_, err := Next(vs[1], store.NewVersion{Reason: "r", Source: store.SourceAPI, ExpectBase: 1}, time.Now())
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale base: %v, want ErrConflict", err)
	}
	_, err = Next(vs[1], store.NewVersion{Reason: "r", Source: store.SourceRollback, Rollback: true, RollbackOf: 3, ExpectBase: -1}, time.Now())
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("rollback to a future version: %v, want ErrInvalid", err)
	}
}

func TestVerifier(t *testing.T) {
	check := func(vs []store.Version) store.ChainReport {
		var c Verifier
		for _, v := range vs {
			c.Check(v)
		}
		return c.Report()
	}
	if r := check(history(t, 5)); r != (store.ChainReport{OK: true, Versions: 5}) {
		t.Errorf("intact chain: %+v", r)
	}
	for name, tc := range map[string]struct {
		breakIt func(vs []store.Version) []store.Version
		at      int64
		count   int64
	}{
		"edited reason": {func(vs []store.Version) []store.Version { vs[2].Reason += "!"; return vs }, 3, 5},
		"edited file":   {func(vs []store.Version) []store.Version { vs[1].Files[1].Content = "x"; return vs }, 2, 5},
		"rehashed edit": {func(vs []store.Version) []store.Version {
			vs[2].Author = "mallory"
			vs[2].Hash = store.VersionHash(vs[2])
			return vs
		}, 4, 5},
		"missing version": {func(vs []store.Version) []store.Version { return append(vs[:2], vs[3:]...) }, 4, 4},
		"bad first link":  {func(vs []store.Version) []store.Version { vs[0].PrevHash = "x"; return vs }, 1, 5},
	} {
		if r := check(tc.breakIt(history(t, 5))); r != (store.ChainReport{OK: false, Versions: tc.count, BrokenAt: tc.at}) {
			t.Errorf("%s: %+v, want broken at %d of %d", name, r, tc.at, tc.count)
		}
	}
}
