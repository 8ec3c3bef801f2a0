package config

import "testing"

func TestPositionsOfFallsBackToTheNearestParent(t *testing.T) {
	ps := Positions{
		"":                        {"f", 1, 1},
		"spec":                    {"f", 4, 1},
		"spec.listeners[0]":       {"f", 6, 7},
		`spec.pricing["a.b[1]"]`:  {"f", 9, 5},
		"spec.pricing.m":          {"f", 10, 5},
		"spec.listeners[0].port":  {"f", 7, 13},
		`spec.pricing["a\"]"].x`:  {"f", 11, 5},
		`spec.pricing["a\"]"]`:    {"f", 12, 5},
		"spec.ai.models.fast[0]":  {"f", 13, 5},
		"spec.ai.models.fast":     {"f", 13, 3},
		"spec.listeners[0].tls.x": {"f", 14, 1},
	}
	tests := []struct {
		path string
		want Position
	}{
		{"spec.listeners[0].port", Position{"f", 7, 13}},
		{"spec.listeners[0].address", Position{"f", 6, 7}},
		{"spec.listeners[0].routes[3].to", Position{"f", 6, 7}},
		{"spec.listeners[2].port", Position{"f", 4, 1}},
		{`spec.pricing["a.b[1]"].inputPerMTok`, Position{"f", 9, 5}},
		{`spec.pricing["a\"]"].y`, Position{"f", 12, 5}},
		{"spec.pricing.m.inputPerMTok", Position{"f", 10, 5}},
		{"spec.ai.models.fast[1]", Position{"f", 13, 3}},
		{"kind", Position{"f", 1, 1}},
		{"", Position{"f", 1, 1}},
		{"odd]", Position{"f", 1, 1}},
	}
	for _, tt := range tests {
		if got := ps.Of(tt.path); got != tt.want {
			t.Errorf("Of(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if got := (Positions{}).Of("spec.x"); got != (Position{}) {
		t.Errorf("empty Positions: Of = %v", got)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct{ got, want string }{
		{fieldPath("", "spec"), "spec"},
		{fieldPath("spec", "listeners"), "spec.listeners"},
		{indexPath("spec.listeners", 2), "spec.listeners[2]"},
		{keyPath("spec.pricing", "gpt-4o_mini"), "spec.pricing.gpt-4o_mini"},
		{keyPath("spec.pricing", "a.b"), `spec.pricing["a.b"]`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
