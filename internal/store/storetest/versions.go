package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

func testEmptyStore(t *testing.T, st Storage) {
	s := open(t, st)
	_, err := s.ActiveVersion(ctx(t))
	wantErr(t, "ActiveVersion of an empty store", err, store.ErrNotFound)
	vs, err := s.Versions(ctx(t), 10, 0)
	if err != nil || len(vs) != 0 {
		t.Errorf("Versions of an empty store = %v, %v; want none", vs, err)
	}
	r, err := s.VerifyChain(ctx(t))
	if err != nil || r != (store.ChainReport{OK: true}) {
		t.Errorf("VerifyChain of an empty store = %+v, %v; want OK with 0 versions", r, err)
	}
}

func testAppendLinksVersions(t *testing.T, st Storage) {
	s := open(t, st)
	before := time.Now()
	nv := store.NewVersion{
		Files:      []store.File{{Name: "b.yaml", Content: "kind: Service\n"}, {Name: "a.yaml", Content: "kind: Gateway\n"}},
		Reason:     "first policy",
		Author:     "alice",
		Source:     store.SourceFile,
		ExpectBase: 0,
	}
	v1 := mustAppend(t, s, nv)
	after := time.Now()
	if v1.Number != 1 || v1.PrevHash != "" {
		t.Errorf("first version: number %d, prevHash %q; want 1 and empty", v1.Number, v1.PrevHash)
	}
	if want := []store.File{nv.Files[1], nv.Files[0]}; !reflect.DeepEqual(v1.Files, want) {
		t.Errorf("files = %v, want them sorted by name: %v", v1.Files, want)
	}
	if v1.Reason != nv.Reason || v1.Author != nv.Author || v1.Source != nv.Source || v1.Weakening || v1.Rollback || v1.RollbackOf != 0 {
		t.Errorf("first version = %+v, does not carry %+v", v1, nv)
	}
	if v1.CreatedAt != store.Timestamp(v1.CreatedAt) || v1.CreatedAt.Before(store.Timestamp(before)) || v1.CreatedAt.After(after) {
		t.Errorf("createdAt %v: want the time of the append in UTC to the microsecond", v1.CreatedAt)
	}
	if len(v1.Hash) != 64 || v1.Hash != store.VersionHash(v1) {
		t.Errorf("hash %q, want VersionHash %q", v1.Hash, store.VersionHash(v1))
	}

	v2 := mustAppend(t, s, apiVersion("second", store.File{Name: "a.yaml", Content: "kind: Gateway # 2\n"}))
	if v2.Number != 2 || v2.PrevHash != v1.Hash || v2.Hash != store.VersionHash(v2) {
		t.Errorf("second version: number %d, prevHash %q, hash %q; want 2, %q, %q", v2.Number, v2.PrevHash, v2.Hash, v1.Hash, store.VersionHash(v2))
	}

	active, err := s.ActiveVersion(ctx(t))
	if err != nil || !reflect.DeepEqual(active, v2) {
		t.Errorf("ActiveVersion = %+v, %v; want %+v", active, err, v2)
	}
	got1, err := s.Version(ctx(t), 1)
	if err != nil || !reflect.DeepEqual(got1, v1) {
		t.Errorf("Version(1) = %+v, %v; want %+v", got1, err, v1)
	}
	r, err := s.VerifyChain(ctx(t))
	if err != nil || r != (store.ChainReport{OK: true, Versions: 2}) {
		t.Errorf("VerifyChain = %+v, %v; want OK with 2 versions", r, err)
	}
}

func testFilesRoundTrip(t *testing.T, st Storage) {
	s := open(t, st)
	big := strings.Repeat("routes:\n  - path: /ä/€/𝄞\n", 20000) // ~0.5 MB, multi-byte UTF-8
	cases := [][]store.File{
		nil, // a version may have no files
		{{Name: "empty.yaml", Content: ""}},
		{{Name: "big.yaml", Content: big}, {Name: "sub/dir/x.yml", Content: "'quotes' \"and\" \\ back\r\nslashes\t"}},
		{{Name: "B.yaml", Content: "upper"}, {Name: "a.yaml", Content: "lower"}, {Name: "ä.yaml", Content: "umlaut"}, {Name: "Z.yaml", Content: "upper z"}},
	}
	for i, files := range cases {
		v := mustAppend(t, s, apiVersion(fmt.Sprintf("files case %d", i), files...))
		got, err := s.Version(ctx(t), v.Number)
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("case %d: Version = %+v, %v; want %+v", i, got.Files, err, v.Files)
		}
		want := slices.Clone(files)
		slices.SortFunc(want, func(a, b store.File) int { return strings.Compare(a.Name, b.Name) })
		if !reflect.DeepEqual(got.Files, want) {
			t.Errorf("case %d: files %q, want sorted bytewise %q", i, names(got.Files), names(want))
		}
	}
	if r, err := s.VerifyChain(ctx(t)); err != nil || !r.OK {
		t.Errorf("VerifyChain = %+v, %v", r, err)
	}
}

func names(fs []store.File) []string {
	var ns []string
	for _, f := range fs {
		ns = append(ns, f.Name)
	}
	return ns
}

func testRollbackFieldsRoundTrip(t *testing.T, st Storage) {
	s := open(t, st)
	v1 := mustAppend(t, s, apiVersion("one", store.File{Name: "a.yaml", Content: "1"}))
	mustAppend(t, s, store.NewVersion{Files: []store.File{{Name: "a.yaml", Content: "2"}}, Reason: "weaker", Author: "bob",
		Source: store.SourceAPI, Weakening: true, ExpectBase: 1})
	rb := mustAppend(t, s, store.NewVersion{Files: v1.Files, Reason: "back to one", Author: "carol",
		Source: store.SourceRollback, Rollback: true, RollbackOf: 1, ExpectBase: 2})
	for n, want := range map[int64]func(store.Version) bool{
		2: func(v store.Version) bool { return v.Weakening && !v.Rollback && v.Author == "bob" },
		3: func(v store.Version) bool {
			return v.Rollback && v.RollbackOf == 1 && v.Source == store.SourceRollback && reflect.DeepEqual(v, rb)
		},
	} {
		v, err := s.Version(ctx(t), n)
		if err != nil || !want(v) {
			t.Errorf("Version(%d) = %+v, %v", n, v, err)
		}
	}
	// The listing carries the flags too.
	vs, err := s.Versions(ctx(t), 0, 0)
	if err != nil || len(vs) != 3 || !vs[0].Rollback || vs[0].RollbackOf != 1 || !vs[1].Weakening || vs[2].Weakening {
		t.Errorf("Versions = %+v, %v", vs, err)
	}
}

func testInvalidVersions(t *testing.T, st Storage) {
	s := open(t, st)
	mustAppend(t, s, apiVersion("one"))
	ok := apiVersion("fine", store.File{Name: "a.yaml", Content: "x"})
	for name, mutate := range map[string]func(*store.NewVersion){
		"no reason":              func(v *store.NewVersion) { v.Reason = " " },
		"unknown source":         func(v *store.NewVersion) { v.Source = "ftp" },
		"duplicate file":         func(v *store.NewVersion) { v.Files = append(v.Files, v.Files[0]) },
		"file without name":      func(v *store.NewVersion) { v.Files = append(v.Files, store.File{Content: "y"}) },
		"rollback without of":    func(v *store.NewVersion) { v.Rollback = true },
		"of without rollback":    func(v *store.NewVersion) { v.RollbackOf = 1 },
		"rollback to the future": func(v *store.NewVersion) { v.Rollback, v.RollbackOf = true, 2 },
		"bad expectBase":         func(v *store.NewVersion) { v.ExpectBase = -2 },
	} {
		nv := ok
		nv.Files = slices.Clone(ok.Files)
		mutate(&nv)
		_, err := s.AppendVersion(ctx(t), nv)
		wantErr(t, name, err, store.ErrInvalid)
	}
	if active, err := s.ActiveVersion(ctx(t)); err != nil || active.Number != 1 {
		t.Errorf("after invalid appends, active = %d, %v; want 1", active.Number, err)
	}
}

func testExpectBase(t *testing.T, st Storage) {
	s := open(t, st)
	first := apiVersion("first")
	first.ExpectBase = 1
	_, err := s.AppendVersion(ctx(t), first)
	wantErr(t, "ExpectBase 1 on an empty store", err, store.ErrConflict)
	first.ExpectBase = 0
	mustAppend(t, s, first)
	mustAppend(t, s, apiVersion("second"))
	for _, base := range []int64{0, 1, 3} {
		nv := apiVersion("stale")
		nv.ExpectBase = base
		_, err := s.AppendVersion(ctx(t), nv)
		wantErr(t, fmt.Sprintf("ExpectBase %d with newest 2", base), err, store.ErrConflict)
	}
	nv := apiVersion("third")
	nv.ExpectBase = 2
	if v := mustAppend(t, s, nv); v.Number != 3 {
		t.Errorf("append on base 2 made version %d", v.Number)
	}
}

func testConcurrentExpectBase(t *testing.T, st Storage) {
	s := open(t, st)
	mustAppend(t, s, apiVersion("base"))
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			nv := apiVersion(fmt.Sprintf("racer %d", i), store.File{Name: "a.yaml", Content: fmt.Sprint(i)})
			nv.ExpectBase = 1
			_, errs[i] = s.AppendVersion(ctx(t), nv)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d appends on the same base won, want exactly 1", won)
	}
	vs, err := s.Versions(ctx(t), 0, 0)
	if err != nil || len(vs) != 2 || vs[0].Number != 2 {
		t.Errorf("Versions after the race = %+v, %v; want versions 2 and 1", vs, err)
	}
}

func testConcurrentAppendsNoGaps(t *testing.T, st Storage) {
	s := open(t, st)
	const n = 10
	var wg sync.WaitGroup
	numbers := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var v store.Version
			v, errs[i] = s.AppendVersion(ctx(t), apiVersion(fmt.Sprintf("writer %d", i)))
			numbers[i] = v.Number
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent appends: %v", err)
	}
	slices.Sort(numbers)
	for i, got := range numbers {
		if got != int64(i+1) {
			t.Fatalf("numbers %v: want 1..%d without gaps", numbers, n)
		}
	}
	if r, err := s.VerifyChain(ctx(t)); err != nil || r != (store.ChainReport{OK: true, Versions: n}) {
		t.Errorf("VerifyChain = %+v, %v; want OK with %d versions", r, err, n)
	}
}

func testVersionsPaging(t *testing.T, st Storage) {
	s := open(t, st)
	for i := 1; i <= 7; i++ {
		mustAppend(t, s, apiVersion(fmt.Sprintf("v%d", i), store.File{Name: "a.yaml", Content: fmt.Sprint(i)}))
	}
	for _, tc := range []struct {
		limit  int
		before int64
		want   []int64
	}{
		{3, 0, []int64{7, 6, 5}},
		{3, 5, []int64{4, 3, 2}},
		{3, 2, []int64{1}},
		{3, 1, nil},
		{0, 0, []int64{7, 6, 5, 4, 3, 2, 1}},
		{-1, 4, []int64{3, 2, 1}},
		{100, 100, []int64{7, 6, 5, 4, 3, 2, 1}},
	} {
		vs, err := s.Versions(ctx(t), tc.limit, tc.before)
		if err != nil {
			t.Fatalf("Versions(%d, %d): %v", tc.limit, tc.before, err)
		}
		var got []int64
		for _, v := range vs {
			got = append(got, v.Number)
			if v.Files != nil || v.Reason != fmt.Sprintf("v%d", v.Number) || v.Hash == "" || v.CreatedAt.IsZero() {
				t.Errorf("Versions(%d, %d): version %+v: want its metadata and no files", tc.limit, tc.before, v)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Versions(%d, %d) = %v, want %v", tc.limit, tc.before, got, tc.want)
		}
	}
}

func testNotFound(t *testing.T, st Storage) {
	s := open(t, st)
	mustAppend(t, s, apiVersion("one"))
	_, err := s.Version(ctx(t), 2)
	wantErr(t, "Version(2)", err, store.ErrNotFound)
	_, err = s.Version(ctx(t), 0)
	wantErr(t, "Version(0)", err, store.ErrNotFound)
	_, err = s.Consumer(ctx(t), "nobody")
	wantErr(t, "Consumer", err, store.ErrNotFound)
	_, err = s.Keys(ctx(t), "nobody")
	wantErr(t, "Keys", err, store.ErrNotFound)
	_, err = s.KeyByHash(ctx(t), keyHash("nothing"))
	wantErr(t, "KeyByHash", err, store.ErrNotFound)
	wantErr(t, "RevokeKey", s.RevokeKey(ctx(t), "nothing"), store.ErrNotFound)
	_, err = s.CreateKey(ctx(t), store.Key{ID: "k1", Consumer: "nobody", Hash: keyHash("k1")})
	wantErr(t, "CreateKey for a missing consumer", err, store.ErrNotFound)
}

func testTampered(t *testing.T, st Storage, what Tampering) {
	s := open(t, st)
	for i := 1; i <= 4; i++ {
		mustAppend(t, s, apiVersion(fmt.Sprintf("v%d", i), store.File{Name: "a.yaml", Content: fmt.Sprint(i)}, store.File{Name: "b.yaml", Content: "b"}))
	}
	if r, err := s.VerifyChain(ctx(t)); err != nil || !r.OK {
		t.Fatalf("VerifyChain before tampering = %+v, %v", r, err)
	}
	st.Tamper(t, 3, what)
	r, err := s.VerifyChain(ctx(t))
	if err != nil || r != (store.ChainReport{OK: false, Versions: 4, BrokenAt: 3}) {
		t.Errorf("VerifyChain after tampering with version 3 = %+v, %v; want broken at 3 of 4", r, err)
	}
}
