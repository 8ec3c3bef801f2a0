package detect

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// ParseSettings applies the Monitor manifest's `detectors:` map (detector
// name, i.e. alert kind → setting name → value, as decoded from YAML or JSON)
// over DefaultConfig. Setting names are the config fields in lowerCamelCase
// (`threshold`, `window`, `routeMinClients`, …); durations are strings such
// as "90s", counts whole numbers, ratios numbers in (0, 1]. Every problem is
// reported, each naming its detector and setting: unknown names are errors,
// like the manifest's other unknown fields.
func ParseSettings(raw map[string]map[string]any) (Config, error) {
	cfg := DefaultConfig()
	known := settingsOf(&cfg)
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		settings, ok := known[name]
		if !ok {
			errs = append(errs, fmt.Errorf("detectors: unknown detector %q (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(known)), ", ")))
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(raw[name])) {
			set, ok := settings[key]
			if !ok {
				errs = append(errs, fmt.Errorf("detectors.%s: unknown setting %q (known: %s)", name, key, strings.Join(slices.Sorted(maps.Keys(settings)), ", ")))
				continue
			}
			if err := set(raw[name][key]); err != nil {
				errs = append(errs, fmt.Errorf("detectors.%s.%s: %w", name, key, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// setter parses one setting's value into its place in a Config.
type setter func(v any) error

// settingsOf maps each detector's manifest name and settings to their place
// in cfg: the one table both parsing and its error messages read.
func settingsOf(cfg *Config) map[string]map[string]setter {
	ab, ke, sp, ts := &cfg.AuthBruteforce, &cfg.KeyEnumeration, &cfg.ScanPaths, &cfg.TrafficSurge
	wb, rl, up := &cfg.WAFBurst, &cfg.RateLimitSurge, &cfg.UpstreamErrors
	tb, pi := &cfg.TokenBurn, &cfg.PromptInjection
	return map[string]map[string]setter{
		KindAuthBruteforce: {
			"enabled": boolSetting(&ab.Enabled), "window": durationSetting(&ab.Window),
			"threshold": countSetting(&ab.Threshold), "routeThreshold": countSetting(&ab.RouteThreshold),
			"routeMinClients": countSetting(&ab.RouteMinClients), "routeRatio": ratioSetting(&ab.RouteRatio),
		},
		KindKeyEnumeration: {
			"enabled": boolSetting(&ke.Enabled), "window": durationSetting(&ke.Window),
			"threshold": countSetting(&ke.Threshold),
		},
		KindScanPaths: {
			"enabled": boolSetting(&sp.Enabled), "window": durationSetting(&sp.Window),
			"threshold": countSetting(&sp.Threshold), "minRatio": ratioSetting(&sp.MinRatio),
		},
		KindTrafficSurge: {
			"enabled": boolSetting(&ts.Enabled), "interval": durationSetting(&ts.Interval),
			"factor": factorSetting(&ts.Factor), "minRequests": countSetting(&ts.MinRequests),
			"alpha": ratioSetting(&ts.Alpha),
		},
		KindWAFBurst: {
			"enabled": boolSetting(&wb.Enabled), "window": durationSetting(&wb.Window),
			"threshold": countSetting(&wb.Threshold), "routeThreshold": countSetting(&wb.RouteThreshold),
		},
		KindRateLimitSurge: {
			"enabled": boolSetting(&rl.Enabled), "window": durationSetting(&rl.Window),
			"threshold": countSetting(&rl.Threshold), "minRatio": ratioSetting(&rl.MinRatio),
		},
		KindUpstreamErrors: {
			"enabled": boolSetting(&up.Enabled), "window": durationSetting(&up.Window),
			"minRequests": countSetting(&up.MinRequests), "ratio": ratioSetting(&up.Ratio),
		},
		KindTokenBurn: {
			"enabled": boolSetting(&tb.Enabled), "interval": durationSetting(&tb.Interval),
			"factor": factorSetting(&tb.Factor), "minTokens": countSetting(&tb.MinTokens),
			"alpha": ratioSetting(&tb.Alpha),
		},
		KindPromptInjection: {"enabled": boolSetting(&pi.Enabled)},
	}
}

func boolSetting(dst *bool) setter {
	return func(v any) error {
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %v", v)
		}
		*dst = b
		return nil
	}
}

// durationSetting takes a Go/Kubernetes duration string ("90s", "5m") or a
// time.Duration, at least one second (windows are bucketed below that).
func durationSetting(dst *time.Duration) setter {
	return func(v any) error {
		var d time.Duration
		switch x := v.(type) {
		case string:
			var err error
			if d, err = time.ParseDuration(x); err != nil {
				return fmt.Errorf("want a duration such as \"60s\", got %q", x)
			}
		case time.Duration:
			d = x
		default:
			return fmt.Errorf("want a duration such as \"60s\", got %v", v)
		}
		if d < time.Second {
			return fmt.Errorf("must be at least 1s, got %s", d)
		}
		*dst = d
		return nil
	}
}

// countSetting takes a positive whole number, as YAML (int) or JSON
// (float64) decoders deliver it.
func countSetting(dst *int) setter {
	return func(v any) error {
		f, ok := number(v)
		if !ok || f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
			return fmt.Errorf("want a whole number of at least 1, got %v", v)
		}
		*dst = int(f)
		return nil
	}
}

// ratioSetting takes a number in (0, 1].
func ratioSetting(dst *float64) setter {
	return func(v any) error {
		f, ok := number(v)
		if !ok || !(f > 0 && f <= 1) {
			return fmt.Errorf("want a number in (0, 1], got %v", v)
		}
		*dst = f
		return nil
	}
}

// factorSetting takes a multiplier above 1 (a surge is more than the baseline).
func factorSetting(dst *float64) setter {
	return func(v any) error {
		f, ok := number(v)
		if !ok || !(f > 1) || math.IsInf(f, 1) {
			return fmt.Errorf("want a number above 1, got %v", v)
		}
		*dst = f
		return nil
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
