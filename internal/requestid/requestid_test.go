package requestid

import (
	"strings"
	"testing"
)

func TestFromHeader(t *testing.T) {
	if got := FromHeader([]string{"abc-123:x.y_z"}); got != "abc-123:x.y_z" {
		t.Errorf("valid id replaced: %q", got)
	}
	for _, bad := range [][]string{nil, {""}, {"has space"}, {strings.Repeat("a", 129)}, {"a", "b"}, {"<script>"}} {
		got := FromHeader(bad)
		if !Valid(got) || (len(bad) == 1 && got == bad[0]) {
			t.Errorf("FromHeader(%q) = %q", bad, got)
		}
	}
	if a, b := New(), New(); a == b {
		t.Errorf("ids repeat: %q", a)
	}
}
