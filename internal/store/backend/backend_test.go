package backend_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/backend"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

func TestOpenPicksBackend(t *testing.T) {
	for _, url := range []string{"sqlite::memory:", "sqlite:" + filepath.Join(t.TempDir(), "p.db")} {
		s, err := backend.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if _, ok := s.(*sqlite.Store); !ok {
			t.Errorf("Open(%q) = %T, want *sqlite.Store", url, s)
		}
		if _, err := s.AppendVersion(t.Context(), store.NewVersion{Reason: "r", Source: store.SourceAPI}); err != nil {
			t.Errorf("Open(%q): AppendVersion: %v", url, err)
		}
		s.Close()
	}
}

func TestOpenRefuses(t *testing.T) {
	const password = "pa55word"
	for url, want := range map[string]string{
		"portcullis.db":                   "no scheme",
		"mysql://u:" + password + "@h/db": `unknown scheme "mysql"`,
		"sqlite:///var/lib/p.db":          "sqlite:PATH",
		"sqlite:":                         "file path",
		"postgres://u:" + password + "@127.0.0.1:1/db?connect_timeout=2": "postgres store",
		"postgresql://u:" + password + "@127.0.0.1:1/db?sslmode=nope":    "postgres store",
	} {
		s, err := backend.Open(t.Context(), url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), password) {
			t.Errorf("Open(%q) = %v; want an error about %q, without the password", url, err, want)
		}
	}
}
