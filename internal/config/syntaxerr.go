package config

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

var (
	yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// readerErrors are the YAML library's messages for characters it cannot read;
// they carry no line.
var readerErrors = []string{
	"control characters are not allowed",
	"invalid leading UTF-8 octet",
	"incomplete UTF-8 octet sequence",
	"invalid trailing UTF-8 octet",
	"invalid length of a UTF-8 sequence",
	"invalid Unicode character",
}

// syntaxError finds where a YAML syntax error is and what it says. The YAML
// library names the line of most errors (column 1 is reported then); for those
// it leaves without a line, the position is found in the text where it can be,
// else it is the start of the file (errors on line 1 have no line either).
func syntaxError(file string, data []byte, err error) (Position, string) {
	msg := err.Error()
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil && line > 0 {
			return Position{File: file, Line: line, Col: 1}, m[2]
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	offset := -1
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		offset = aliasOffset(data, m[1])
	} else if slices.Contains(readerErrors, msg) {
		offset = badCharOffset(data)
	}
	line, col := lineCol(data, max(offset, 0))
	return Position{File: file, Line: line, Col: col}, msg
}

// aliasOffset is the offset of the first alias "*name" in data, or -1.
func aliasOffset(data []byte, name string) int {
	alias := []byte("*" + name)
	for i := 0; ; {
		j := bytes.Index(data[i:], alias)
		if j < 0 {
			return -1
		}
		end := i + j + len(alias)
		if end == len(data) || bytes.IndexByte([]byte(" \t\r\n,]}"), data[end]) >= 0 {
			return i + j
		}
		i = end
	}
}

// badCharOffset is the offset of the first character YAML does not allow in
// UTF-8 text, or -1.
func badCharOffset(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if !yamlAllows(r, size) {
			return i
		}
		i += size
	}
	return -1
}

// yamlAllows says whether YAML allows rune r (decoded from size bytes) in a
// document.
func yamlAllows(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size <= 1:
		return false
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r < 0x20, r >= 0x7F && r < 0xA0, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return true
}

// lineCol turns a byte offset into a line and a column (in characters), both
// from 1.
func lineCol(data []byte, offset int) (line, col int) {
	before := data[:min(offset, len(data))]
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte("\n")) + 1, utf8.RuneCount(before[lineStart:]) + 1
}
