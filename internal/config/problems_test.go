package config

import "testing"

func TestProblemsSortedAndFormatted(t *testing.T) {
	ps := Problems{
		{"b.yaml", 1, 1, "third"},
		{"a.yaml", 10, 2, "second"},
		{"a.yaml", 2, 30, "first"},
		{"b.yaml", 1, 1, "third"},
		{"b.yaml", 1, 1, "also third"},
		{"a.yaml", 10, 2, "second"},
	}.sorted()
	want := "a.yaml:2:30: first\na.yaml:10:2: second\nb.yaml:1:1: also third\nb.yaml:1:1: third"
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant:\n%s", got, want)
	}
}
