package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a manifest set, at the field that causes it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"` // from 1
	Col     int    `json:"col"`  // from 1
	Message string `json:"message"`
}

// String formats the problem as FILE:LINE:COL: message.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Message)
}

// Problems is every problem found in a manifest set, sorted by file, line and
// column. Load, Parse and ParseFiles return it as their error when a policy is
// refused.
type Problems []Problem

// Error is one line per problem, FILE:LINE:COL: message.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// add records a problem at a position.
func (ps *Problems) add(at Position, format string, args ...any) {
	*ps = append(*ps, Problem{File: at.File, Line: at.Line, Col: at.Col, Message: fmt.Sprintf(format, args...)})
}

// sorted orders the problems by file, line, column and message, and drops
// repeats.
func (ps Problems) sorted() Problems {
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(comparePositions(a.position(), b.position()), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(ps)
}

func (p Problem) position() Position { return Position{File: p.File, Line: p.Line, Col: p.Col} }
