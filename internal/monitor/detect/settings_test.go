package detect

import (
	"slices"
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
		"ai.token_burn": {"minTokens": 200000, "interval": "5m", "factor": 3.5, "alpha": 0.2,
			"enabled": true},
		"ai.prompt_injection": {"enabled": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.AuthBruteforce.Threshold, want.AuthBruteforce.Window, want.AuthBruteforce.RouteRatio = 30, 2*time.Minute, 0.5
	want.ScanPaths.Threshold = 40
	want.TrafficSurge.Factor, want.TrafficSurge.Interval = 8, 30*time.Second
	want.WAFBurst.Enabled = false
	want.TokenBurn = TokenBurnConfig{Enabled: true, Interval: 5 * time.Minute, Factor: 3.5, MinTokens: 200000, Alpha: 0.2}
	want.PromptInjection.Enabled = false
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
		{"token burn", map[string]map[string]any{"ai.token_burn": {"minTokens": 0, "factor": 0.5, "alpha": 1.5, "interval": "10ms", "window": "1m"}},
			[]string{
				"detectors.ai.token_burn.minTokens: want a whole number of at least 1, got 0",
				"detectors.ai.token_burn.factor: want a number above 1, got 0.5",
				"detectors.ai.token_burn.alpha: want a number in (0, 1], got 1.5",
				"detectors.ai.token_burn.interval: must be at least 1s, got 10ms",
				`detectors.ai.token_burn: unknown setting "window" (known: alpha, enabled, factor, interval, minTokens)`,
			}},
		{"prompt injection takes only enabled", map[string]map[string]any{"ai.prompt_injection": {"enabled": 1, "threshold": 3}},
			[]string{
				"detectors.ai.prompt_injection.enabled: want true or false, got 1",
				`detectors.ai.prompt_injection: unknown setting "threshold" (known: enabled)`,
			}},
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

func TestLessSensitive(t *testing.T) {
	was := DefaultConfig()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"unchanged", func(*Config) {}, nil},
		{"AI detectors off", func(c *Config) { c.TokenBurn.Enabled, c.PromptInjection.Enabled = false, false },
			[]string{`detector "ai.prompt_injection" turned off`, `detector "ai.token_burn" turned off`}},
		{"token burn later", func(c *Config) { c.TokenBurn.MinTokens, c.TokenBurn.Factor = 100000, 8 },
			[]string{`detector "ai.token_burn" factor raised from 5 to 8`, `detector "ai.token_burn" minTokens raised from 50000 to 100000`}},
		{"token burn sooner", func(c *Config) { c.TokenBurn.MinTokens, c.TokenBurn.Factor = 10000, 3 }, nil},
		// Interval and smoothing have no direction, as for traffic.surge.
		{"token burn interval and alpha", func(c *Config) { c.TokenBurn.Interval, c.TokenBurn.Alpha = 10*time.Second, 0.5 }, nil},
		{"ordered by detector", func(c *Config) {
			c.UpstreamErrors.Ratio, c.TokenBurn.MinTokens, c.AuthBruteforce.Enabled = 0.9, 60000, false
		}, []string{
			`detector "ai.token_burn" minTokens raised from 50000 to 60000`,
			`detector "auth.bruteforce" turned off`,
			`detector "upstream.errors" ratio raised from 0.5 to 0.9`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := DefaultConfig()
			tc.change(&now)
			if got := LessSensitive(was, now); !slices.Equal(got, tc.want) {
				t.Errorf("LessSensitive = %q\nwant %q", got, tc.want)
			}
		})
	}
	// Turning a detector back on is not weakening.
	off := DefaultConfig()
	off.PromptInjection.Enabled, off.TokenBurn.Enabled = false, false
	if got := LessSensitive(off, DefaultConfig()); got != nil {
		t.Errorf("turning the AI detectors on = %q, want nothing", got)
	}
}
