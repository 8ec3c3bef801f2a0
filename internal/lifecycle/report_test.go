package lifecycle

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// readPolicy reads a policy of testdata/ (see policyFrom).
func readPolicy(t *testing.T, name string) *config.Policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return policyFrom(t, name, string(data))
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to rewrite it, then review the diff):\n%s", path, got)
	}
}

// TestGoldenReport diffs a realistic pair of policies, testdata/old.yaml and
// testdata/new.yaml.
func TestGoldenReport(t *testing.T) {
	r := Diff(readPolicy(t, "old.yaml"), readPolicy(t, "new.yaml"))
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.json", append(js, '\n'))
	golden(t, "summary.golden.txt", []byte(r.Summary()+"\n"))
	if bytes.Contains(js, []byte("eyJhbGciOiJSUzI1NiJ9")) {
		t.Error("the report shows a credential of a PolicyTest request")
	}
}

func TestSummary(t *testing.T) {
	rateLimit := Change{Kind: KindRoute, Name: "orders", Op: OpChanged, Field: "rateLimit", Reason: "rate limit raised from 100 to 1000 per 1m0s"}
	for _, tc := range []struct {
		r    Report
		want string
	}{
		{Report{}, "no changes"},
		{Report{Changes: make([]Change, 1)}, "1 change, no weakening"},
		{Report{Changes: make([]Change, 3), Weakening: []Change{rateLimit}},
			`3 changes, 1 weakening: route "orders": rate limit raised from 100 to 1000 per 1m0s`},
		{Report{Changes: make([]Change, 2), Weakening: []Change{
			{Kind: "AuthProvider", Name: "idp", Reason: "clock skew raised from 30s to 5m0s"},
			{Kind: "Future", Name: "x", Reason: "why"},
		}}, `2 changes, 2 weakening: auth provider "idp": clock skew raised from 30s to 5m0s; Future "x": why`},
	} {
		if got := tc.r.Summary(); got != tc.want {
			t.Errorf("Summary() = %q, want %q", got, tc.want)
		}
	}
}

func TestReportJSONHasEmptyLists(t *testing.T) {
	js, err := json.Marshal(Diff(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"changes":[],"weakening":[]}`; string(js) != want {
		t.Errorf("Diff(nil, nil) = %s, want %s", js, want)
	}
}
