package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// DocumentError is a problem in an OpenAPI or JSON Schema document, at its
// place: a line and column where they are known, else the JSON pointer of
// the element.
type DocumentError struct {
	File    string // the document that holds the problem (maybe one a $ref names)
	Line    int    // 1-based; 0 when unknown
	Column  int    // 1-based; 0 when unknown
	Pointer string // JSON pointer of the element; "" when unknown or the whole document
	Message string
}

// Error is "FILE:LINE:COL: message", or "FILE: at POINTER: message".
func (e *DocumentError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	case e.Pointer != "":
		return fmt.Sprintf("%s: at %s: %s", e.File, e.Pointer, e.Message)
	}
	return e.File + ": " + e.Message
}

// maxNodes bounds the values a YAML document may expand to, aliases
// included, so that a few lines of anchors cannot make billions.
const maxNodes = 1_000_000

const tooLarge = "document too large (aliases expand to more than a million values)"

// loadJSONValue reads a document as JSON values (numbers as json.Number): as
// JSON when its name ends in .json, else as YAML.
func loadJSONValue(file string) (any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &DocumentError{File: file, Message: err.Error()}
	}
	if strings.EqualFold(filepath.Ext(file), ".json") {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			de := &DocumentError{File: file, Message: "malformed JSON: " + err.Error()}
			var se *json.SyntaxError
			if errors.As(err, &se) {
				de.Line, de.Column = lineColumn(data, se.Offset)
			}
			return nil, de
		}
		return v, nil
	}
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	budget := maxNodes
	return yamlValue(file, root, &budget)
}

// yamlLine finds the line in a YAML parser's message.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML parses a YAML (or JSON) document into its node tree.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		de := &DocumentError{File: file, Message: "malformed YAML: " + err.Error()}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			de.Line, _ = strconv.Atoi(m[1])
			de.Message = "malformed YAML: " + strings.TrimPrefix(err.Error(), m[0])
		}
		return nil, de
	}
	if len(root.Content) == 0 {
		return nil, &DocumentError{File: file, Message: "empty document"}
	}
	return root.Content[0], nil
}

// yamlValue converts a YAML node to JSON values.
func yamlValue(file string, n *yaml.Node, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, nodeError(file, n, tooLarge)
	}
	switch n.Kind {
	case yaml.AliasNode:
		v, err := yamlValue(file, n.Alias, budget)
		if err != nil && *budget < 0 {
			return nil, nodeError(file, n, tooLarge) // at the outermost alias, where it expands
		}
		return v, err
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return nil, nodeError(file, k, "keys must be plain strings (JSON has no other kind)")
			}
			if _, dup := m[k.Value]; dup {
				return nil, nodeError(file, k, fmt.Sprintf("duplicate key %q", k.Value))
			}
			v, err := yamlValue(file, n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(file, c, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	}
	return yamlScalar(file, n)
}

// yamlScalar converts a scalar by its resolved tag; numbers keep their
// digits when they are already JSON numbers.
func yamlScalar(file string, n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, nodeError(file, n, err.Error())
		}
		return b, nil
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			return json.Number(n.Value), nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, nodeError(file, n, err.Error())
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nodeError(file, n, "JSON has no NaN or infinite numbers")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return n.Value, nil
}

// isJSONNumber reports whether s is a number as JSON writes it.
func isJSONNumber(s string) bool {
	return s != "" && (s[0] == '-' || ('0' <= s[0] && s[0] <= '9')) && json.Valid([]byte(s))
}

func nodeError(file string, n *yaml.Node, msg string) *DocumentError {
	return &DocumentError{File: file, Line: n.Line, Column: n.Column, Message: msg}
}

// lineColumn converts a byte offset into data to a 1-based line and column.
func lineColumn(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// locateURL places msg at a "file URL#pointer" (or a plain path).
func locateURL(fallback, u, msg string) *DocumentError {
	file, ptr := splitURL(fallback, u)
	return locate(file, ptr, msg)
}

// locate places msg at a JSON pointer in file by finding its node; without
// the node, the pointer is named.
func locate(file, ptr, msg string) *DocumentError {
	de := &DocumentError{File: file, Pointer: ptr, Message: msg}
	if root := readTree(file); root != nil {
		if n := nodeAt(root, ptr); n != nil {
			de.Line, de.Column = n.Line, n.Column
		}
	}
	return de
}

// locateRef places msg at the $ref in file that names target (a resolved
// URL); when none is found, msg is said of the document.
func locateRef(file, target, msg string) *DocumentError {
	de := &DocumentError{File: file, Message: msg}
	root := readTree(file)
	if root == nil {
		return de
	}
	targetFile, targetPtr := splitURL("", target)
	if n := findRef(root, func(ref string) bool {
		refFile, refPtr := splitURL("", ref)
		switch {
		case refPtr != targetPtr:
			return false
		case refFile == "":
			return targetFile == file
		case strings.Contains(refFile, "://"):
			return refFile == targetFile
		}
		return filepath.Join(filepath.Dir(file), refFile) == targetFile
	}); n != nil {
		de.Line, de.Column = n.Line, n.Column
	}
	return de
}

// splitURL splits a schema URL (file:///dir/x.yaml#/a/b) into a file path
// (or the URL, when it is not a file's) and an unescaped JSON pointer; a URL
// without a file is in fallback.
func splitURL(fallback, u string) (file, ptr string) {
	base, frag, _ := strings.Cut(u, "#")
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	switch {
	case base == "":
		return fallback, frag
	case strings.HasPrefix(base, "file://"):
		if f, err := (jsonschema.FileLoader{}).ToFile(base); err == nil {
			return filepath.Clean(f), frag
		}
	}
	return base, frag
}

// readTree parses a document for locating problems in it, or returns nil.
func readTree(file string) *yaml.Node {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	root, err := parseYAML(file, data)
	if err != nil {
		return nil
	}
	return root
}

// nodeAt finds the node a JSON pointer names: for an object member, its key
// (where an editor would put the cursor). Where the pointer leaves the tree,
// the deepest node found is returned.
func nodeAt(n *yaml.Node, ptr string) *yaml.Node {
	if ptr == "" || ptr == "/" {
		return n
	}
	at := n
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					at, n, found = n.Content[i], n.Content[i+1], true
					break
				}
			}
			if !found {
				return at
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return at
			}
			n = n.Content[i]
			at = n
		default:
			return at
		}
	}
	return at
}

// findRef returns the first "$ref" key (in document order) whose value
// satisfies match.
func findRef(n *yaml.Node, match func(string) bool) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "$ref" && v.Kind == yaml.ScalarNode && match(v.Value) {
				return k
			}
			if r := findRef(v, match); r != nil {
				return r
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if r := findRef(c, match); r != nil {
				return r
			}
		}
	}
	return nil
}
