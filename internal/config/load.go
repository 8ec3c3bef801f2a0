package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// Load reads, decodes and validates the policy at path: a YAML file, or a folder
// whose *.yaml and *.yml files (not those of its subfolders) are read in name
// order. A file may hold several documents separated by "---". When the policy is
// invalid the error is Problems, with every problem found; reading errors are
// returned as they are.
func Load(path string) (*Policy, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Parse(path, data)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || ext != ".yaml" && ext != ".yml" {
			continue
		}
		name := filepath.Join(path, e.Name())
		if files[name], err = os.ReadFile(name); err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml or *.yml files in %s", path)
	}
	return ParseFiles(files)
}

// Parse decodes and validates the manifests of one file held in memory; file
// names it in problems and is the base of the relative file paths inside it.
func Parse(file string, data []byte) (*Policy, error) {
	return ParseFiles(map[string][]byte{file: data})
}

// ParseFiles decodes and validates a policy held in memory as file name →
// content, the files taken in name order. When the policy is invalid the error
// is Problems, with every problem of every file, and the policy is nil. A valid
// policy has its defaults filled in (see ApplyDefaults).
func ParseFiles(files map[string][]byte) (*Policy, error) {
	if len(files) == 0 {
		return nil, errors.New("no manifest files")
	}
	names := slices.Sorted(maps.Keys(files))
	var probs Problems
	var docs []*document
	complete := true
	budget := aliasBudget
	for _, name := range names {
		fileDocs, ok := decodeFile(name, files[name], &budget, &probs)
		docs = append(docs, fileDocs...)
		complete = complete && ok
	}
	p := &Policy{}
	for _, d := range docs {
		p.add(d.m)
		resolveFiles(d.m)
	}
	v := &validator{p: p, probs: &probs, complete: complete, origin: Position{File: names[0], Line: 1, Col: 1}}
	v.validate(docs)
	if len(probs) > 0 {
		return nil, probs.sorted()
	}
	ApplyDefaults(p)
	return p, nil
}

// resolveFiles makes the relative file paths of a document relative to the
// folder of the manifest that names them.
func resolveFiles(m manifest) {
	_, src := m.header()
	dir := filepath.Dir(src.File)
	resolve := func(path *string) {
		if *path != "" && !filepath.IsAbs(*path) {
			*path = filepath.Join(dir, *path)
		}
	}
	switch m := m.(type) {
	case *Gateway:
		if log := m.Spec.AccessLog; log != nil && log.Path != "stdout" && log.Path != "stderr" {
			resolve(&log.Path)
		}
		for i := range m.Spec.Listeners {
			if t := m.Spec.Listeners[i].TLS; t != nil {
				resolve(&t.CertFile)
				resolve(&t.KeyFile)
				resolve(&t.ClientCAFile)
				for j := range t.Certificates {
					resolve(&t.Certificates[j].CertFile)
					resolve(&t.Certificates[j].KeyFile)
				}
			}
		}
		for _, site := range m.Spec.routeSites() {
			if val := site.r.Validation; val != nil {
				resolve(&val.OpenAPI)
				resolve(&val.JSONSchema)
			}
		}
	case *Service:
		if t := m.Spec.TLS; t != nil {
			resolve(&t.CAFile)
			resolve(&t.CertFile)
			resolve(&t.KeyFile)
		}
	case *AuthProvider:
		resolve(&m.Spec.CAFile)
	}
}
