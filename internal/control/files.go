package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/portcullis/portcullis/internal/store"
)

// ReadFiles reads the manifests at path — a YAML file, or every *.yaml and
// *.yml directly in a folder, by name — as a version's files, named by their
// base names.
func ReadFiles(path string) ([]store.File, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	paths := []string{path}
	if info.IsDir() {
		paths = nil
		for _, pattern := range []string{"*.yaml", "*.yml"} {
			m, err := filepath.Glob(filepath.Join(path, pattern))
			if err != nil {
				return nil, err
			}
			paths = append(paths, m...)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml files", path)
		}
	}
	files := make([]store.File, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, store.File{Name: filepath.Base(p), Content: string(data)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// ConfigDir is the folder relative manifest paths resolve against for a
// --config PATH: PATH itself when it is a folder, else the file's folder.
func ConfigDir(path string) string {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return path
	}
	return filepath.Dir(path)
}

// SyncFile makes the manifests at path the active policy when they differ from
// it, as a new version. The file is authoritative (the embedded store, at
// start and on SIGHUP): its weakening changes are applied, logged and flagged
// in the history, never refused. When they are the active version's already,
// the active version is compiled again all the same: the files they name (a
// Service's CA or client certificate) may have changed, and a reload is when
// those are read.
func (p *Plane) SyncFile(ctx context.Context, path, reason string) (Outcome, error) {
	files, err := ReadFiles(path)
	if err != nil {
		return Outcome{}, err
	}
	out, err := p.Propose(ctx, Proposal{Files: files, Reason: reason, Author: "file", Source: store.SourceFile, AllowWeakening: true, Base: -1})
	if err != nil || out.Changed {
		return out, err
	}
	return out, p.Recompile()
}
