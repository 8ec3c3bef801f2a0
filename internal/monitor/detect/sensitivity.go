package detect

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// detectorFields names each detector's settings struct in Config.
var detectorFields = map[string]string{
	KindAuthBruteforce:  "AuthBruteforce",
	KindKeyEnumeration:  "KeyEnumeration",
	KindScanPaths:       "ScanPaths",
	KindTrafficSurge:    "TrafficSurge",
	KindWAFBurst:        "WAFBurst",
	KindRateLimitSurge:  "RateLimitSurge",
	KindUpstreamErrors:  "UpstreamErrors",
	KindTokenBurn:       "TokenBurn",
	KindPromptInjection: "PromptInjection",
}

// raisedIsLess are the settings a larger value of makes a detector alert
// later or never: counts, ratios and the surge factors.
var raisedIsLess = []string{"Threshold", "RouteThreshold", "RouteMinClients", "MinRequests", "MinTokens", "Factor", "RouteRatio", "MinRatio", "Ratio"}

// LessSensitive says how now detects less than was, one phrase per change,
// in a fixed order: a detector turned off, a threshold, ratio or factor
// raised, a counting window shortened. (The policy lifecycle flags these as
// weakening.) Settings whose effect has no direction, such as the surge
// detectors' interval and smoothing, are not judged.
func LessSensitive(was, now Config) []string {
	var out []string
	wv, nv := reflect.ValueOf(was), reflect.ValueOf(now)
	for _, kind := range slices.Sorted(maps.Keys(detectorFields)) {
		w, n := wv.FieldByName(detectorFields[kind]), nv.FieldByName(detectorFields[kind])
		if !n.FieldByName("Enabled").Bool() {
			if w.FieldByName("Enabled").Bool() {
				out = append(out, fmt.Sprintf("detector %q turned off", kind))
			}
			continue
		}
		for i := range w.NumField() {
			name := w.Type().Field(i).Name
			setting := strings.ToLower(name[:1]) + name[1:]
			wf, nf := w.Field(i), n.Field(i)
			switch {
			case slices.Contains(raisedIsLess, name) && numeric(nf) > numeric(wf):
				out = append(out, fmt.Sprintf("detector %q %s raised from %v to %v", kind, setting, wf.Interface(), nf.Interface()))
			case name == "Window" && nf.Int() < wf.Int():
				out = append(out, fmt.Sprintf("detector %q window shortened from %v to %v", kind, time.Duration(wf.Int()), time.Duration(nf.Int())))
			}
		}
	}
	return out
}

func numeric(v reflect.Value) float64 {
	if v.CanFloat() {
		return v.Float()
	}
	return float64(v.Int())
}
