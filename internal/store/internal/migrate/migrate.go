// Package migrate reads a backend's embedded schema migrations — files
// named NNNN_description.sql, numbered from 0001 without gaps — and decides
// which of them a database still needs. Each backend applies them in its
// own transaction and records them in its schema_migrations table.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema step.
type Migration struct {
	Version int64  // NNNN of the file name
	Name    string // the file name
	SQL     string
}

// Load returns the migrations in dir of fsys, in order. It fails on a file
// not named NNNN_description.sql or on a gap in the numbering.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if e.IsDir() || !ok || len(num) != 4 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: want a file named NNNN_description.sql", name)
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: want a file named NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != int64(i+1) {
			return nil, fmt.Errorf("migration %s: expected number %04d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Pending returns the migrations a database at version current still needs.
// A database newer than the newest migration is refused: this binary does
// not know its schema.
func Pending(ms []Migration, current int64) ([]Migration, error) {
	if current > int64(len(ms)) {
		return nil, fmt.Errorf("the store's schema is version %d, newer than this binary knows (%d): upgrade portcullis before opening it", current, len(ms))
	}
	return ms[current:], nil
}
