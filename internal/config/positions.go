package config

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Position is where something is written in a manifest file. Line and Col count
// from 1.
type Position struct {
	File string
	Line int
	Col  int
}

// String formats the position as FILE:LINE:COL.
func (p Position) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Positions maps the field paths of one document to where each is written. A path
// reads like "spec.listeners[0].routes[1].to"; a map entry is "pricing.gpt-4o" (or
// `pricing["odd key"]` when the key is not a plain word); "" is the document itself.
// A scalar field is at its value; a mapping, a list or an empty field at its key.
type Positions map[string]Position

// Of returns where path is written or, when it is not written, where its nearest
// written parent is. It is the zero Position only for an empty Positions.
func (ps Positions) Of(path string) Position {
	for {
		if p, ok := ps[path]; ok || path == "" {
			return p
		}
		path = parentPath(path)
	}
}

// fieldPath is the path of a struct field of parent.
func fieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// indexPath is the path of a list item of parent.
func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath is the path of a map entry of parent.
func keyPath(parent, key string) string {
	if plainKey.MatchString(key) {
		return fieldPath(parent, key)
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

// parentPath drops the last element of a path.
func parentPath(path string) string {
	cut := strings.LastIndex(path, ".")
	if strings.HasSuffix(path, "]") {
		cut = strings.LastIndex(path, "[")
		if strings.HasSuffix(path, `"]`) {
			// A quoted key: strconv.Quote escapes every quote inside it, so
			// the last `["` opens it.
			cut = strings.LastIndex(path, `["`)
		}
	}
	return path[:max(cut, 0)]
}

// comparePositions orders positions by file, line and column.
func comparePositions(a, b Position) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}
