package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that a policy it accepts has
// a Gateway, and that every problem it reports is at a real position of the
// file. Seeds: testdata/fuzz/FuzzParse and every manifest in testdata.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.yaml", "testdata/*/*/*.y*ml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err == nil {
			if p == nil || p.Gateway == nil {
				t.Fatalf("accepted a policy without a Gateway: %+v", p)
			}
			_ = p.Summary()
			return
		}
		var probs Problems
		if !errors.As(err, &probs) || len(probs) == 0 {
			t.Fatalf("error is not Problems: %v", err)
		}
		for _, pr := range probs {
			if pr.File != "f.yaml" || pr.Line < 1 || pr.Col < 1 || pr.Message == "" {
				t.Errorf("problem without a position: %#v", pr)
			}
		}
	})
}
