package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// aliasBudget bounds how many YAML nodes the aliases of a manifest set may
// expand to, so that aliases of aliases cannot make decoding take exponential
// time and memory.
const aliasBudget = 1 << 17

var (
	durationType = reflect.TypeFor[Duration]()
	dateType     = reflect.TypeFor[Date]()
)

// document is one decoded manifest and the fields of it that could not be decoded.
type document struct {
	m   manifest
	bad map[string]bool // paths whose value could not be decoded
}

// decodeFile decodes every document of one file, reporting what it cannot decode.
// complete is false when part of the file was lost to a syntax error or was not
// a document with a known kind and a name, so that validation does not report
// references to what was lost. budget is what is left of the set's aliasBudget.
func decodeFile(file string, data []byte, budget *int, probs *Problems) (docs []*document, complete bool) {
	complete = true
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			return docs, complete
		}
		if err != nil {
			at, msg := syntaxError(file, data, err)
			probs.add(at, "YAML syntax error: %s", msg)
			return docs, false
		}
		doc, ok := decodeDocument(file, &root, budget, probs)
		if doc != nil {
			docs = append(docs, doc)
		}
		complete = complete && ok
	}
}

// decodeDocument decodes one YAML document into the manifest its kind names. It
// returns nil for an empty document and for one whose kind is missing or unknown;
// ok is false when the document has no usable kind or name.
func decodeDocument(file string, root *yaml.Node, budget *int, probs *Problems) (doc *document, ok bool) {
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		return nil, true
	}
	n := root.Content[0]
	d := &decoder{file: file, probs: probs, pos: Positions{}, bad: map[string]bool{}, merging: map[*yaml.Node]bool{}, budget: budget}
	d.pos[""] = d.at(n)
	if n.Kind != yaml.MappingNode {
		probs.add(d.at(n), "a manifest must be a mapping with apiVersion, kind, metadata and spec, not %s", describe(n))
		return nil, false
	}
	m, rest := d.header(n)
	if m == nil {
		return nil, false
	}
	d.setFields(rest, reflect.ValueOf(m).Elem(), "")
	if *d.budget == 0 {
		return nil, false
	}
	md, src := m.header()
	*src = Source{File: file, Line: n.Line, Positions: d.pos}
	ok = d.checkName(md.Name)
	return &document{m: m, bad: d.bad}, ok
}

// header checks the apiVersion and kind of a document's mapping n, and returns
// an empty manifest of that kind (nil when the kind is missing or unknown) and the
// entries of n other than apiVersion and kind.
func (d *decoder) header(n *yaml.Node) (m manifest, rest []entry) {
	var version, kind *yaml.Node
	seen := map[string]*yaml.Node{}
	for _, e := range d.entries(n, "") {
		name := e.key.Value
		if name != "apiVersion" && name != "kind" || e.key.Kind != yaml.ScalarNode {
			rest = append(rest, e)
			continue
		}
		if _, ok := d.key(e, "", seen); !ok {
			continue
		}
		d.record(name, e)
		if name == "apiVersion" {
			version = deref(e.val)
		} else {
			kind = deref(e.val)
		}
	}
	switch {
	case version == nil || isNull(version):
		d.probs.add(d.pos.Of("apiVersion"), "apiVersion is required (%s)", APIVersion)
	case version.Kind != yaml.ScalarNode || version.Value != APIVersion:
		d.probs.add(d.at(version), "apiVersion must be %q, not %s", APIVersion, describe(version))
	}
	switch {
	case kind == nil || isNull(kind):
		d.probs.add(d.pos.Of("kind"), "kind is required (one of %s)", strings.Join(kinds, ", "))
	case kind.Kind != yaml.ScalarNode:
		d.probs.add(d.at(kind), "kind must be a string, not %s", describe(kind))
	case newManifest(kind.Value) == nil:
		d.probs.add(d.at(kind), "kind %q is not one of %s%s", kind.Value, strings.Join(kinds, ", "), suggest(kind.Value, kinds))
	default:
		return newManifest(kind.Value), rest
	}
	return nil, nil
}

// checkName reports a missing or malformed metadata.name and says whether the
// name is usable.
func (d *decoder) checkName(name string) bool {
	const path = "metadata.name"
	switch {
	case d.bad[path] || d.bad["metadata"]:
		return false
	case name == "":
		d.probs.add(d.pos.Of(path), "metadata.name is required")
		return false
	case !isName(name):
		d.probs.add(d.pos.Of(path), "metadata.name %q is invalid: %s", name, nameRule)
	}
	return true
}

// decoder turns the YAML nodes of one document into a manifest, driven by the
// yaml tags of its struct fields. It records where every field is written, and a
// problem (at the node) for every value it cannot decode, then goes on.
type decoder struct {
	file    string
	probs   *Problems
	pos     Positions
	bad     map[string]bool
	merging map[*yaml.Node]bool // mappings whose merge keys are being expanded
	aliased int                 // how many aliases the node being decoded is reached through
	budget  *int                // what is left of the set's aliasBudget
}

// entry is one key and value of a YAML mapping.
type entry struct{ key, val *yaml.Node }

func (d *decoder) at(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Col: n.Column}
}

// fail reports a value that cannot be decoded and marks its path bad, so that
// validation does not report it again.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.probs.add(d.at(n), format, args...)
}

// record notes where a field is written: at its value when that is a scalar, at
// its key when it is a mapping, a list or empty.
func (d *decoder) record(path string, e entry) {
	if e.val.Kind == yaml.ScalarNode && !isNull(e.val) {
		d.pos[path] = d.at(e.val)
	} else {
		d.pos[path] = d.at(e.key)
	}
}

// resolve follows aliases to the node they name. It spends one node of the alias
// budget for an alias and for every node reached through one, and reports false
// once the budget is spent.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, bool) {
	if *d.budget == 0 {
		return nil, false
	}
	if d.aliased > 0 || n.Kind == yaml.AliasNode {
		*d.budget--
		if *d.budget == 0 {
			d.probs.add(d.at(n), "aliases expand to too many nodes (more than %d)", aliasBudget)
			return nil, false
		}
	}
	return deref(n), true
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// value decodes node n into v, whose path is path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		d.aliased++
		defer func() { d.aliased-- }()
	}
	n, ok := d.resolve(n)
	if !ok || isNull(n) {
		return
	}
	switch v.Type() {
	case durationType:
		d.duration(n, v, path)
		return
	case dateType:
		d.date(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping (%s), got %s", typeName(v.Type()), describe(n))
			return
		}
		d.setFields(d.entries(n, path), v, path)
	case reflect.Slice:
		d.list(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	case reflect.Interface:
		var raw any
		if err := n.Decode(&raw); err != nil {
			d.fail(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		v.Set(reflect.ValueOf(&raw).Elem())
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		d.scalar(n, v, path, "a boolean (true or false)", "!!bool")
	case reflect.Int, reflect.Int64:
		d.scalar(n, v, path, "an integer", "!!int")
	case reflect.Float64:
		if d.scalar(n, v, path, "a number", "!!float", "!!int") && (math.IsInf(v.Float(), 0) || math.IsNaN(v.Float())) {
			d.fail(n, path, "%s is not a finite number", describe(n))
		}
	default:
		panic("config: no decoding for " + v.Type().String())
	}
}

// scalar decodes a boolean or a number with YAML's own rules, once the node's tag
// says it is one of the tags wanted.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path, what string, tags ...string) bool {
	switch {
	case n.Kind != yaml.ScalarNode:
		d.fail(n, path, "expected %s, got %s", what, describe(n))
	case !slices.Contains(tags, n.ShortTag()):
		d.fail(n, path, "%s is not %s", describe(n), what)
	case n.Decode(v.Addr().Interface()) != nil:
		d.fail(n, path, "%s is out of range", describe(n))
	default:
		return true
	}
	return false
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a duration, got %s", describe(n))
		return
	}
	t, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		d.fail(n, path, "%q is not a duration (like 500ms, 1m or 24h)", n.Value)
	case t < 0:
		d.fail(n, path, "duration %q is negative", n.Value)
	default:
		v.Set(reflect.ValueOf(Duration(t)))
	}
}

func (d *decoder) date(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a date, got %s", describe(n))
		return
	}
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		d.fail(n, path, "%q is not a date (YYYY-MM-DD)", n.Value)
		return
	}
	v.Set(reflect.ValueOf(Date{t}))
}

// setFields decodes mapping entries into the fields of struct v named by their
// yaml tags.
func (d *decoder) setFields(entries []entry, v reflect.Value, path string) {
	t := v.Type()
	seen := map[string]*yaml.Node{}
	for _, e := range entries {
		name, ok := d.key(e, path, seen)
		if !ok {
			continue
		}
		f, ok := fieldByTag(t, name)
		if !ok {
			d.probs.add(d.at(e.key), "unknown field %q in %s%s", name, typeName(t), suggest(name, tagNames(t)))
			continue
		}
		fp := fieldPath(path, name)
		d.record(fp, e)
		d.value(e.val, v.FieldByIndex(f.Index), fp)
	}
}

// key checks that a mapping key is a string written once, and returns it.
func (d *decoder) key(e entry, path string, seen map[string]*yaml.Node) (string, bool) {
	if e.key.Kind != yaml.ScalarNode {
		d.probs.add(d.at(e.key), "a key must be a string, not %s", describe(e.key))
		return "", false
	}
	name := e.key.Value
	if first := seen[name]; first != nil {
		d.fail(e.key, keyPath(path, name), "%q is already set at line %d", name, first.Line)
		return "", false
	}
	seen[name] = e.key
	return name, true
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := indexPath(path, i)
		d.pos[ip] = d.at(item)
		d.value(item, s.Index(i), ip)
	}
	v.Set(s)
}

func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	seen := map[string]*yaml.Node{}
	for _, e := range d.entries(n, path) {
		key, ok := d.key(e, path, seen)
		if !ok {
			continue
		}
		kp := keyPath(path, key)
		d.record(kp, e)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(e.val, elem, kp)
		m.SetMapIndex(reflect.ValueOf(key), elem)
	}
	v.Set(m)
}

// entries lists the keys and values of mapping n, expanding merge keys
// ("<<: *defaults"): keys written in the mapping win over merged ones, and
// earlier merges over later ones.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		e := entry{n.Content[i], n.Content[i+1]}
		if e.key.Kind == yaml.ScalarNode && e.key.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(e.val, path)...)
		} else {
			own = append(own, e)
		}
	}
	written := map[string]bool{}
	for _, e := range own {
		written[e.key.Value] = true
	}
	for _, e := range merged {
		if !written[e.key.Value] {
			written[e.key.Value] = true
			own = append(own, e)
		}
	}
	return own
}

// merge lists the entries a merge key brings in: those of a mapping, or of a
// list of mappings.
func (d *decoder) merge(n *yaml.Node, path string) []entry {
	n, ok := d.resolve(n)
	if !ok {
		return nil
	}
	sources := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		sources = n.Content
	}
	var out []entry
	for _, src := range sources {
		if src, ok = d.resolve(src); !ok {
			return out
		}
		switch {
		case src.Kind != yaml.MappingNode:
			d.fail(src, path, "<< must merge a mapping or a list of mappings, not %s", describe(src))
		case d.merging[src]:
			d.fail(src, path, "<< merges a mapping into itself")
		default:
			d.merging[src] = true
			out = append(out, d.entries(src, path)...)
			delete(d.merging, src)
		}
	}
	return out
}

// fieldByTag finds the field of struct type t whose yaml tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// tagNames lists the yaml names of struct type t's fields.
func tagNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name := tagName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// tagName is a field's yaml name, or "" for a field that is not decoded.
func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// typeName names a struct type for messages: "Route", "Gateway spec".
func typeName(t reflect.Type) string {
	if name, ok := strings.CutSuffix(t.Name(), "Spec"); ok {
		return name + " spec"
	}
	return t.Name()
}

// describe names what a node holds for messages: a quoted scalar, "a list" or
// "a mapping".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// suggest returns ` (did you mean "x"?)` when word is a likely misspelling of
// one of the candidates, and "" otherwise.
func suggest(word string, candidates []string) string {
	for _, c := range candidates {
		if strings.EqualFold(word, c) || editDistance(word, c) <= 2 && len(c) > 3 {
			return fmt.Sprintf(" (did you mean %q?)", c)
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
