package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Each file (or folder) in testdata/invalid is a policy whose every problem is
// announced where it must be reported, by a comment at the end of its line:
//
//	port: 0  # want 13 `port 0 is out of range (1-65535)`
//
// (column 13, the message exactly; several "COL `message`" may follow one want).
// The test loads it and compares every problem with every announcement.
func TestProblemsAreReportedWhereAnnounced(t *testing.T) {
	entries, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		path := filepath.Join("testdata/invalid", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			want := announced(t, path)
			_, err := Load(path)
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("Load(%s) = %v, want Problems", path, err)
			}
			var got []string
			for _, p := range probs {
				got = append(got, p.String())
			}
			if !slices.IsSortedFunc(probs, func(a, b Problem) int { return comparePositions(a.position(), b.position()) }) {
				t.Errorf("problems are not sorted:\n%s", probs)
			}
			slices.Sort(got)
			slices.Sort(want)
			for _, g := range got {
				if !slices.Contains(want, g) {
					t.Errorf("unexpected: %s", g)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("missing:    %s", w)
				}
			}
		})
	}
}

var (
	wantComment = regexp.MustCompile("# want((?:\\s+\\d+\\s+`[^`]*`)+)\\s*$")
	wantItem    = regexp.MustCompile("(\\d+)\\s+`([^`]*)`")
)

// announced reads the "# want" comments of a file, or of the YAML files of a
// folder, as FILE:LINE:COL: message.
func announced(t *testing.T, path string) []string {
	t.Helper()
	files := []string{path}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.y*ml"))
	}
	var want []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			m := wantComment.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			for _, item := range wantItem.FindAllStringSubmatch(m[1], -1) {
				want = append(want, file+":"+strconv.Itoa(i+1)+":"+item[1]+": "+item[2])
			}
		}
	}
	return want
}
