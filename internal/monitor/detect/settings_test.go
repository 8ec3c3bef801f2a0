package detect

import (
	"strings"
	"testing"
	"time"
)

func TestParseSettingsOverDefaults(t *testing.T) {
	cfg, err := ParseSettings(map[string]map[string]any{
		"auth.bruteforce": {"threshold": 30, "window": "2m", "routeRatio": 0.5},
		"scan.paths":      {"threshold": float64(40)}, // as a JSON decoder delivers it
		"traffic.surge":   {"factor": 8, "interval": 30 * time.Second},
		"waf.burst":       {"enabled": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.AuthBruteforce.Threshold, want.AuthBruteforce.Window, want.AuthBruteforce.RouteRatio = 30, 2*time.Minute, 0.5
	want.ScanPaths.Threshold = 40
	want.TrafficSurge.Factor, want.TrafficSurge.Interval = 8, 30*time.Second
	want.WAFBurst.Enabled = false
	if cfg != want {
		t.Errorf("config = %+v\nwant %+v", cfg, want)
	}
	if cfg, err := ParseSettings(nil); err != nil || cfg != DefaultConfig() {
		t.Errorf("ParseSettings(nil) = %+v, %v; want the defaults", cfg, err)
	}
}

func TestParseSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]map[string]any
		want []string // every one must appear in the error
	}{
		{"unknown detector", map[string]map[string]any{"auth.brutefroce": {}},
			[]string{`unknown detector "auth.brutefroce"`, "auth.bruteforce, auth.key_enumeration"}},
		{"unknown setting", map[string]map[string]any{"scan.paths": {"treshold": 3}},
			[]string{`detectors.scan.paths: unknown setting "treshold"`, "enabled, minRatio, threshold, window"}},
		{"negative count", map[string]map[string]any{"waf.burst": {"threshold": -1}},
			[]string{"detectors.waf.burst.threshold: want a whole number of at least 1, got -1"}},
		{"fractional count", map[string]map[string]any{"waf.burst": {"routeThreshold": 2.5}},
			[]string{"detectors.waf.burst.routeThreshold: want a whole number"}},
		{"count as a string", map[string]map[string]any{"auth.key_enumeration": {"threshold": "10"}},
			[]string{"detectors.auth.key_enumeration.threshold: want a whole number"}},
		{"ratio above 1", map[string]map[string]any{"upstream.errors": {"ratio": 1.5}},
			[]string{"detectors.upstream.errors.ratio: want a number in (0, 1], got 1.5"}},
		{"zero ratio", map[string]map[string]any{"ratelimit.surge": {"minRatio": 0}},
			[]string{"detectors.ratelimit.surge.minRatio: want a number in (0, 1]"}},
		{"bad duration", map[string]map[string]any{"auth.bruteforce": {"window": "1 minute"}},
			[]string{`detectors.auth.bruteforce.window: want a duration such as "60s", got "1 minute"`}},
		{"short duration", map[string]map[string]any{"traffic.surge": {"interval": "500ms"}},
			[]string{"detectors.traffic.surge.interval: must be at least 1s, got 500ms"}},
		{"factor not above 1", map[string]map[string]any{"traffic.surge": {"factor": 1}},
			[]string{"detectors.traffic.surge.factor: want a number above 1, got 1"}},
		{"enabled not a bool", map[string]map[string]any{"scan.paths": {"enabled": "yes"}},
			[]string{"detectors.scan.paths.enabled: want true or false, got yes"}},
		{"every problem at once", map[string]map[string]any{
			"nope":          {},
			"scan.paths":    {"threshold": 0, "bogus": 1},
			"traffic.surge": {"alpha": 2},
		}, []string{`unknown detector "nope"`, "scan.paths.threshold", `unknown setting "bogus"`, "traffic.surge.alpha"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSettings(tc.raw)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
