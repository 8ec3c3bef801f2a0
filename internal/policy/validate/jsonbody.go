package validate

import (
	"encoding/json"
	"strconv"

	"github.com/portcullis/portcullis/internal/httperr"
)

// jsonDepth returns how deeply data nests arrays and objects, or a number
// above limit as soon as it passes limit. It is a byte scan, not a parse: it
// allocates nothing, skips strings (a bracket inside one does not count) and
// checks nothing else, which the decoder does afterwards.
func jsonDepth(data []byte, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			// Skip to the closing quote; a backslash escapes the next byte.
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// checkSyntax refuses a malformed JSON body without building its value.
func checkSyntax(data []byte) *httperr.Error {
	if json.Valid(data) {
		return nil
	}
	_, err := decodeJSON(data) // only to say where
	return invalid(bodyMessage(err), nil)
}

func errTooDeep(limit int) string {
	return "body: JSON nests deeper than " + strconv.Itoa(limit) + " levels"
}
