// Package ftw reads WAF regression tests in the ftw YAML format (as the OWASP
// CRS v4 writes them for go-ftw) and runs them against a Target: it builds
// each request's raw bytes as go-ftw does, sends them over a plain TCP
// connection (so that malformed requests stay malformed), and checks the
// status, the response and the rule ids the target logged for that request.
//
// The format is decoded strictly: a field this package does not implement is
// an error, never silently ignored.
package ftw

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"

	"go.yaml.in/yaml/v3"
)

// File is one YAML test file: the tests of one rule.
type File struct {
	Path   string `yaml:"-"` // where it was loaded from
	Meta   Meta   `yaml:"meta"`
	RuleID int    `yaml:"rule_id"`
	Tests  []Test `yaml:"tests"`
	// Author is meta.author misplaced at the top level, as one CRS file
	// (932271.yaml) has it; accepted so that strict decoding does not
	// refuse that file.
	Author string `yaml:"author"`
}

// Meta describes a file.
type Meta struct {
	Author      string   `yaml:"author"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Version     string   `yaml:"version"`
	Enabled     *bool    `yaml:"enabled"` // deprecated by go-ftw and ignored there too
	Tags        []string `yaml:"tags"`
}

// Test is one test case: one or more stages, run in order.
type Test struct {
	TestID int      `yaml:"test_id"` // 0 in the file: its position, from 1
	Title  string   `yaml:"test_title"`
	Desc   string   `yaml:"desc"`
	Tags   []string `yaml:"tags"`
	Stages []Stage  `yaml:"stages"`
}

// Stage is one request and what is expected of its answer.
type Stage struct {
	Description string `yaml:"description"`
	Input       Input  `yaml:"input"`
	Output      Output `yaml:"output"`
}

// Input describes the request. The destination (dest_addr, port) is read but
// not used: the runner sends everything to its Target.
type Input struct {
	DestAddr string  `yaml:"dest_addr"`
	Port     int     `yaml:"port"`
	Protocol string  `yaml:"protocol"` // "" or "http": the only one supported
	Method   *string `yaml:"method"`   // nil: GET
	URI      *string `yaml:"uri"`      // nil: /
	Version  *string `yaml:"version"`  // nil: HTTP/1.1; "" stays empty
	Headers  Headers `yaml:"headers"`
	// OrderedHeaders is go-ftw's later, ordered spelling of Headers; they
	// are sent after Headers.
	OrderedHeaders []Header `yaml:"ordered_headers"`
	// Data is the body. It is a Go template (go-ftw evaluates it with
	// sprig's functions; only `repeat` is supported here).
	Data *string `yaml:"data"`
	// EncodedData is the body, base64-encoded.
	EncodedData string `yaml:"encoded_data"`
	// AutocompleteHeaders (default true) adds Content-Type for a body,
	// Connection: close and Content-Length, as go-ftw does.
	AutocompleteHeaders *bool `yaml:"autocomplete_headers"`
	StopMagic           *bool `yaml:"stop_magic"` // deprecated: the opposite of AutocompleteHeaders
	// EncodedRequest is the whole request, base64-encoded, sent as is.
	EncodedRequest string `yaml:"encoded_request"`
	// RawRequest is the whole request, sent as is (deprecated).
	RawRequest string `yaml:"raw_request"`
	// SaveCookie sends the cookies this stage's response sets with the
	// test's following stages.
	SaveCookie bool `yaml:"save_cookie"`
}

// Header is one request header.
type Header struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// Headers are a stage's headers: a YAML map (sent sorted by name, as go-ftw
// does) or a list of {name, value} (sent in order, repeats allowed).
type Headers []Header

// UnmarshalYAML accepts a map or a list.
func (h *Headers) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]string{}
		if err := n.Decode(&m); err != nil {
			return err
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			*h = append(*h, Header{Name: name, Value: m[name]})
		}
		return nil
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: headers: want {name, value}", item.Line)
			}
			var hd Header
			for i := 0; i+1 < len(item.Content); i += 2 {
				k, v := item.Content[i], item.Content[i+1]
				switch k.Value {
				case "name":
					hd.Name = v.Value
				case "value":
					hd.Value = v.Value
				default:
					return fmt.Errorf("line %d: headers: field %q not supported", k.Line, k.Value)
				}
			}
			*h = append(*h, hd)
		}
		return nil
	}
	return fmt.Errorf("line %d: headers: want a map or a list", n.Line)
}

// Output is what a stage expects.
type Output struct {
	Status           Statuses `yaml:"status"`            // any of these; empty: any status
	ResponseContains string   `yaml:"response_contains"` // a regular expression on the raw response
	LogContains      string   `yaml:"log_contains"`      // deprecated: a regular expression some log line matches
	NoLogContains    string   `yaml:"no_log_contains"`   // deprecated: a regular expression no log line matches
	Log              Log      `yaml:"log"`
	// ExpectError: the target must fail the exchange (close, reset, or
	// answer something that is not HTTP); nothing else is checked.
	ExpectError *bool `yaml:"expect_error"`
	// RetryOnce runs a failing stage a second time (go-ftw's workaround for
	// its log-file races; harmless here).
	RetryOnce *bool `yaml:"retry_once"`
}

// Log is what the target's log for the request must (not) hold.
type Log struct {
	ExpectIDs    []int  `yaml:"expect_ids"`     // all logged
	NoExpectIDs  []int  `yaml:"no_expect_ids"`  // none logged
	MatchRegex   string `yaml:"match_regex"`    // some line matches
	NoMatchRegex string `yaml:"no_match_regex"` // no line matches
}

// Statuses is `status`: one code or a list (older ftw files).
type Statuses []int

// UnmarshalYAML accepts an int or a list of ints.
func (s *Statuses) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var one int
		if err := n.Decode(&one); err != nil {
			return err
		}
		*s = Statuses{one}
		return nil
	}
	var list []int
	if err := n.Decode(&list); err != nil {
		return err
	}
	*s = list
	return nil
}

// ID names a test as go-ftw does: RULE-TEST, e.g. 920100-4.
func (f *File) ID(t Test) string { return fmt.Sprintf("%d-%d", f.RuleID, t.TestID) }

// Parse decodes one file. A file with no YAML document (all comments) has no
// tests.
func Parse(data []byte) (*File, error) {
	f := &File{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		return nil, err
	}
	for i := range f.Tests {
		t := &f.Tests[i]
		if t.TestID == 0 {
			t.TestID = i + 1
		}
		if len(t.Stages) == 0 {
			return nil, fmt.Errorf("test %s: no stages", f.ID(*t))
		}
		for j, s := range t.Stages {
			if err := s.Input.check(); err != nil {
				return nil, fmt.Errorf("test %s stage %d: %w", f.ID(*t), j+1, err)
			}
		}
	}
	return f, nil
}

// check refuses what go-ftw refuses, and what this runner cannot send.
func (in *Input) check() error {
	sources := 0
	for _, set := range []bool{in.Data != nil || in.EncodedData != "", in.EncodedRequest != "", in.RawRequest != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("choose one of data (or encoded_data), encoded_request and raw_request")
	}
	if in.Data != nil && in.EncodedData != "" {
		return errors.New("choose one of data and encoded_data")
	}
	if in.Protocol != "" && in.Protocol != "http" {
		return fmt.Errorf("protocol %q: only http is supported", in.Protocol)
	}
	return nil
}

// Load parses every .yaml file under root in fsys, in path order.
func Load(fsys fs.FS, root string) ([]*File, error) {
	var files []*File
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f, err := Parse(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		f.Path = p
		files = append(files, f)
		return nil
	})
	return files, err
}
