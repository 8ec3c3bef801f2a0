package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// decodeOne decodes the one document of src, failing the test on any problem.
func decodeOne(t *testing.T, src string) manifest {
	t.Helper()
	var probs Problems
	budget := aliasBudget
	docs, complete := decodeFile("t.yaml", []byte(src), &budget, &probs)
	if len(probs) > 0 || !complete || len(docs) != 1 {
		t.Fatalf("decode: %d documents, complete %v, problems:\n%v", len(docs), complete, probs)
	}
	return docs[0].m
}

const header = "apiVersion: gateway/v1\nmetadata: {name: x}\n"

func TestDecodeValues(t *testing.T) {
	i64 := func(n int64) *int64 { return &n }
	yes := true
	tests := []struct {
		name string
		src  string // appended to header
		get  func(m manifest) any
		want any
	}{
		{"durations", "kind: Gateway\nspec: {routes: [{timeout: 500ms}, {timeout: 1m}, {timeout: 24h}, {timeout: 0}]}",
			func(m manifest) any {
				var ds []time.Duration
				for _, r := range m.(*Gateway).Spec.Routes {
					ds = append(ds, r.Timeout.D())
				}
				return ds
			},
			[]time.Duration{500 * time.Millisecond, time.Minute, 24 * time.Hour, 0}},
		{"date", "kind: Gateway\nspec: {review: {reviewBy: 2027-03-01}}",
			func(m manifest) any { return m.(*Gateway).Spec.Review.ReviewBy.Format(time.RFC3339) }, "2027-03-01T00:00:00Z"},
		{"pointer set only when present", "kind: Gateway\nspec: {accessLog: {path: stderr}}",
			func(m manifest) any { return m.(*Gateway).Spec.AccessLog.Enabled }, (*bool)(nil)},
		{"pointer to bool", "kind: Gateway\nspec: {accessLog: {enabled: true}}",
			func(m manifest) any { return m.(*Gateway).Spec.AccessLog.Enabled }, &yes},
		{"pointer to int64", "kind: Gateway\nspec: {routes: [{validation: {maxBodyBytes: 0x100}}]}",
			func(m manifest) any { return m.(*Gateway).Spec.Routes[0].Validation.MaxBodyBytes }, i64(256)},
		{"null leaves the zero value", "kind: Gateway\nspec: {limits: ~, listeners: null, gatewayClass: }",
			func(m manifest) any { return m.(*Gateway).Spec }, GatewaySpec{}},
		{"list of ints", "kind: Gateway\nspec: {routes: [{waf: {exclusions: [920350, 1_000]}}]}",
			func(m manifest) any { return m.(*Gateway).Spec.Routes[0].WAF.Exclusions }, []int{920350, 1000}},
		{"map of lists", "kind: Gateway\nspec: {routes: [{ai: {models: {fast: [a/b, c/d], 'odd key': []}}}]}",
			func(m manifest) any { return m.(*Gateway).Spec.Routes[0].AI.Models },
			map[string][]string{"fast": {"a/b", "c/d"}, "odd key": {}}},
		{"numbers", "kind: AIProvider\nspec: {pricing: {m: {inputPerMTok: 3, outputPerMTok: 1.5e1}}}",
			func(m manifest) any { return m.(*AIProvider).Spec.Pricing["m"] }, Pricing{3, 15}},
		{"raw values", "kind: Monitor\nspec: {detectors: {scan: {paths: 20, window: 1m, on: [a, b], deep: {x: true}}}}",
			func(m manifest) any { return m.(*Monitor).Spec.Detectors },
			map[string]map[string]any{"scan": {"paths": 20, "window": "1m", "on": []any{"a", "b"}, "deep": map[string]any{"x": true}}}},
		{"unquoted version string", "kind: Gateway\nspec: {listeners: [{tls: {minVersion: 1.2}}]}",
			func(m manifest) any { return m.(*Gateway).Spec.Listeners[0].TLS.MinVersion }, "1.2"},
		{"any scalar is a string", "kind: Service\nspec: {urls: [1, true, 2.5]}",
			func(m manifest) any { return m.(*Service).Spec.URLs }, []string{"1", "true", "2.5"}},
		{"aliases", "kind: Gateway\nspec:\n  routes:\n    - &r {to: a, methods: &m [GET]}\n    - *r\n    - {to: b, methods: *m}",
			func(m manifest) any {
				rs := m.(*Gateway).Spec.Routes
				return [][]string{{rs[0].To, rs[1].To, rs[2].To}, rs[2].Methods}
			},
			[][]string{{"a", "a", "b"}, {"GET"}}},
		{"merge keys: written keys win, earlier merges win", "kind: Gateway\nspec:\n  routes:\n    - &base {to: a, timeout: 1s, stripPrefix: true}\n    - {<<: [*base, {to: c, websocket: true}], to: b}",
			func(m manifest) any { return m.(*Gateway).Spec.Routes[1] },
			Route{To: "b", Timeout: Duration(time.Second), StripPrefix: true, WebSocket: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeOne(t, header+tt.src)
			if got := tt.get(m); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeRecordsPositions(t *testing.T) {
	m := decodeOne(t, header+`kind: Gateway
spec:
  listeners:
    - name: web
      routes:
        - to: a
          methods: [GET]
  routes: [{ai: {models: {"a.b": [x/y]}}}]
`)
	_, src := m.header()
	for path, want := range map[string]Position{
		"":                                       {"t.yaml", 1, 1},
		"kind":                                   {"t.yaml", 3, 7},
		"metadata":                               {"t.yaml", 2, 1},
		"metadata.name":                          {"t.yaml", 2, 18},
		"spec":                                   {"t.yaml", 4, 1},
		"spec.listeners":                         {"t.yaml", 5, 3},
		"spec.listeners[0]":                      {"t.yaml", 6, 7},
		"spec.listeners[0].name":                 {"t.yaml", 6, 13},
		"spec.listeners[0].routes[0].to":         {"t.yaml", 8, 15},
		"spec.listeners[0].routes[0].methods":    {"t.yaml", 9, 11},
		"spec.listeners[0].routes[0].methods[0]": {"t.yaml", 9, 21},
		`spec.routes[0].ai.models["a.b"][0]`:     {"t.yaml", 10, 35},
	} {
		if got := src.Positions[path]; got != want {
			t.Errorf("Positions[%q] = %v, want %v", path, got, want)
		}
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the problems, one a line, without the file name
	}{
		{"syntax error on line 1", "a: b: c\n",
			"1:1: YAML syntax error: mapping values are not allowed in this context"},
		{"syntax error with a line", "kind: Gateway\nspec:\n\tlisteners: []\n",
			"3:1: YAML syntax error: found character that cannot start any token"},
		{"unknown anchor", "kind: Gateway\nspec: *nope\n",
			"2:7: YAML syntax error: unknown anchor 'nope' referenced"},
		{"control character", "kind: Gateway\nmetadata: {name: \"a\x07b\"}\n",
			"2:20: YAML syntax error: control characters are not allowed"},
		{"invalid UTF-8", "kind: Gateway\nmetadata: {name: é\xff}\n",
			"2:19: YAML syntax error: invalid leading UTF-8 octet"},
		{"merge of a scalar", header + "kind: Gateway\nspec: {<<: 1}\n",
			"4:12: << must merge a mapping or a list of mappings, not \"1\""},
		{"merge into itself", header + "kind: Gateway\nspec: &s {<<: *s}\n",
			"4:7: << merges a mapping into itself"},
		{"integer out of range", header + "kind: Gateway\nspec: {listeners: [{port: 99999999999999999999}]}\n",
			"4:27: \"99999999999999999999\" is not an integer"},
		{"not a finite number", header + "kind: AIProvider\nspec: {pricing: {m: {inputPerMTok: .inf}}}\n",
			"4:36: \".inf\" is not a finite number"},
		{"case typo", header + "kind: AuthProvider\nspec: {jwksUrl: x}\n",
			"4:8: unknown field \"jwksUrl\" in AuthProvider spec (did you mean \"jwksURL\"?)"},
		{"map key twice", header + "kind: AIProvider\nspec: {pricing: {m: {}, m: {}}}\n",
			"4:25: \"m\" is already set at line 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probs Problems
			budget := aliasBudget
			decodeFile("t.yaml", []byte(tt.src), &budget, &probs)
			got := strings.ReplaceAll(probs.sorted().Error(), "t.yaml:", "")
			if got != tt.want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// Aliases of aliases could expand a small document exponentially: decoding
// stops at a budget of nodes for the whole set, with one problem, and drops the
// documents it could not finish.
func TestDecodeStopsAliasExpansion(t *testing.T) {
	many := func(alias string) string { return "[" + strings.Repeat(alias+", ", 999) + alias + "]" }
	src := header + "kind: Gateway\n" +
		"x:\n" +
		"  - &m GET\n" +
		"  - &r {to: x, methods: " + many("*m") + "}\n" +
		"  - &l {name: a, port: 80, routes: " + many("*r") + "}\n" +
		"spec: {listeners: " + many("*l") + "}\n"
	start := time.Now()
	var probs Problems
	budget := aliasBudget
	docs, complete := decodeFile("t.yaml", []byte(src+"---\n"+src), &budget, &probs)
	if len(docs) != 0 || complete {
		t.Errorf("%d documents decoded, complete %v", len(docs), complete)
	}
	var exhausted int
	for _, p := range probs {
		if strings.Contains(p.Message, "aliases expand to too many nodes") {
			exhausted++
		}
	}
	if exhausted != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("after %v, problems:\n%v", time.Since(start), probs)
	}
}

// Every field of every manifest kind has a type the decoder knows; a new field
// of another type must be taught to it (value would panic).
func TestEveryFieldTypeDecodes(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var check func(t reflect.Type, where string)
	check = func(typ reflect.Type, where string) {
		if seen[typ] || typ == durationType || typ == dateType {
			return
		}
		seen[typ] = true
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice:
			check(typ.Elem(), where)
		case reflect.Map:
			if typ.Key().Kind() != reflect.String {
				t.Errorf("%s: map keys must be strings", where)
			}
			check(typ.Elem(), where)
		case reflect.Struct:
			for i := range typ.NumField() {
				if f := typ.Field(i); tagName(f) != "" {
					check(f.Type, typ.Name()+"."+f.Name)
				}
			}
		case reflect.Interface, reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		default:
			t.Errorf("%s: no decoding for %s", where, typ)
		}
	}
	for _, kind := range kinds {
		check(reflect.TypeOf(newManifest(kind)), kind)
	}
}
