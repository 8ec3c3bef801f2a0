package lifecycle

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

func TestSamePolicyHasNoChanges(t *testing.T) {
	text := manifests(t, "route.rateLimit: {requests: 1, interval: 1s}", "monitor.autoBlock: {enabled: true}", "route2.name: r2")
	p := policyFrom(t, "a.yaml", text)
	for name, r := range map[string]Report{
		"itself":     Diff(p, p),
		"read again": Diff(p, policyFrom(t, "b.yaml", text)),
	} {
		if len(r.Changes)+len(r.Weakening) > 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

// TestValidatedPolicies diffs policies as config.Load gives them.
func TestValidatedPolicies(t *testing.T) {
	p, err := config.Load("../../examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	if r := Diff(p, p); len(r.Changes) > 0 {
		t.Errorf("Diff(p, p) = %+v", r)
	}
	r := Diff(nil, p)
	routes := 0
	for _, c := range r.Changes {
		if c.Op != OpAdded {
			t.Errorf("first version: %+v is not an addition", c)
		}
		if c.Kind == KindRoute {
			routes++
		}
	}
	if routes == 0 || len(r.Weakening) != routes {
		t.Errorf("first version of the quickstart (no authentication yet): %d routes, weakening %q", routes, weakeningLines(r))
	}
}

func TestFirstVersion(t *testing.T) {
	r := Diff(nil, policy(t, "route2.name: r2", "monitor.autoBlock: {enabled: true}"))
	var got []string
	for _, c := range r.Changes {
		if c.Op != OpAdded || c.Field != "" || c.From != nil || c.To == nil {
			t.Errorf("first version: %+v", c)
		}
		got = append(got, c.Kind+" "+c.Name)
	}
	want := []string{"AIProvider llm", "AIProvider llm2", "AuthProvider idp", "Consumer alice", "Gateway gw", "Listener web", "Monitor mon", "Route r", "Route r2", "Service svc"}
	if !slices.Equal(got, want) {
		t.Errorf("added:\n  got  %q\n  want %q", got, want)
	}
	if lines := weakeningLines(r); !slices.Equal(lines, []string{"Route r2 authentication: new route with no authentication"}) {
		t.Errorf("weakening: %q", lines)
	}
}

func TestChangePaths(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new []string
		want     []string // "KIND NAME OP FIELD FROM → TO"
	}{
		{"route moved to one listener", []string{"listener2.name: secure"}, []string{"listener2.name: secure", "route.@on: secure"},
			[]string{`Route r changed listeners ["secure","web"] → ["secure"]`}},
		{"review added", nil, []string{"gateway.review: {owner: sec, reviewBy: 2027-03-01}"},
			[]string{`Gateway gw changed review null → {"owner":"sec","reviewBy":"2027-03-01"}`}},
		{"map entries, plain and not", []string{"monitor.detectors: {scan.paths: {threshold: 20}, waf.burst: {window: 1m}}"}, []string{"monitor.detectors: {scan.paths: {threshold: 30}}"},
			[]string{
				`Monitor mon changed detectors["scan.paths"].threshold 20 → 30`,
				`Monitor mon changed detectors["waf.burst"] {"window":"1m"} → null`,
			}},
		{"named list items", []string{"consumer.apiKeys: [{id: a, sha256: " + hash("a") + "}, {id: b, sha256: " + hash("b") + "}]"},
			[]string{"consumer.apiKeys: [{id: b, sha256: " + hash("c") + "}, {id: c, sha256: " + hash("d") + "}]"},
			[]string{
				`Consumer alice changed apiKeys["a"] {"id":"a","sha256":"` + hash("a") + `"} → null`,
				`Consumer alice changed apiKeys["b"].sha256 "` + hash("b") + `" → "` + hash("c") + `"`,
				`Consumer alice changed apiKeys["c"] null → {"id":"c","sha256":"` + hash("d") + `"}`,
			}},
		{"pointer set and unset", []string{"route.validation: {maxBodyBytes: 10}"}, []string{"route.validation: {contentTypes: [text/plain]}", "route.stripPrefix: true"},
			[]string{
				`Route r changed stripPrefix false → true`,
				`Route r changed validation.contentTypes null → ["text/plain"]`,
				`Route r changed validation.maxBodyBytes 10 → null`,
			}},
		{"objects added and removed", []string{"route2.name: r2"}, []string{"listener2.name: secure"},
			[]string{
				`Listener secure added  null → {"address":"0.0.0.0","port":8443,"protocol":"HTTPS","tls":{"certFile":"c.pem","keyFile":"k.pem"}}`,
				`Route r changed listeners ["web"] → ["secure","web"]`,
				`Route r2 removed  {"listeners":["web"],"match":{"pathPrefix":"/r2"},"to":"svc"} → null`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Diff(policy(t, tc.old...), policy(t, tc.new...))
			var got []string
			for _, c := range r.Changes {
				from, _ := json.Marshal(c.From)
				to, _ := json.Marshal(c.To)
				got = append(got, fmt.Sprintf("%s %s %s %s %s → %s", c.Kind, c.Name, c.Op, c.Field, from, to))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n  got  %q\n  want %q", got, tc.want)
			}
		})
	}
}

// hash is a fake SHA-256 in hex, made of one letter.
func hash(letter string) string { return strings.Repeat(letter, 64) }

func TestRenamedSingletons(t *testing.T) {
	old, cur := policy(t, "monitor.autoBlock: {enabled: true}"), policy(t, "monitor.autoBlock: {enabled: true}")
	cur.Gateway.Metadata.Name = "edge"
	cur.Monitor.Metadata.Name = "watch"
	r := Diff(old, cur)
	want := []Change{
		{Kind: config.KindGateway, Name: "edge", Op: OpChanged, Field: "metadata.name", From: "gw", To: "edge"},
		{Kind: config.KindMonitor, Name: "watch", Op: OpChanged, Field: "metadata.name", From: "mon", To: "watch"},
	}
	if !reflect.DeepEqual(r.Changes, want) || len(r.Weakening) > 0 {
		t.Errorf("got %+v", r)
	}
}

// TestDeterminism diffs the same policies many times, their documents,
// listeners and routes in other orders: the report is the same every time.
func TestDeterminism(t *testing.T) {
	first, err := json.Marshal(Diff(readPolicy(t, "old.yaml"), readPolicy(t, "new.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		old, cur := readPolicy(t, "old.yaml"), readPolicy(t, "new.yaml")
		if i%2 == 1 {
			for _, p := range []*config.Policy{old, cur} {
				slices.Reverse(p.Services)
				slices.Reverse(p.AuthProviders)
				slices.Reverse(p.Consumers)
				slices.Reverse(p.AIProviders)
				slices.Reverse(p.Gateway.Spec.Listeners)
				slices.Reverse(p.Gateway.Spec.Routes)
			}
		}
		got, err := json.Marshal(Diff(old, cur))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(first) {
			t.Fatalf("run %d differs:\n%s\nfirst:\n%s", i, got, first)
		}
	}
}

// TestEveryFieldIsDiffed fills every field of every kind of object, then changes
// one leaf at a time: the diff must report exactly that field. A field added to
// package config is covered without a change here.
func TestEveryFieldIsDiffed(t *testing.T) {
	for _, o := range []object{
		{kind: config.KindGateway, value: &config.GatewaySpec{}, skip: skipGateway},
		{kind: KindListener, value: &config.Listener{}, skip: skipListener},
		{kind: KindRoute, value: &routeView{}, skip: skipName},
		{kind: config.KindService, value: &config.ServiceSpec{}},
		{kind: config.KindAuthProvider, value: &config.AuthProviderSpec{}},
		{kind: config.KindConsumer, value: &config.ConsumerSpec{}},
		{kind: config.KindAIProvider, value: &config.AIProviderSpec{}},
		{kind: config.KindPolicyTest, value: &config.PolicyTestSpec{}},
		{kind: config.KindMonitor, value: &config.MonitorSpec{}},
	} {
		t.Run(o.kind, func(t *testing.T) {
			typ := reflect.TypeOf(o.value).Elem()
			build := func(variant string) (object, []string) {
				v := reflect.New(typ)
				leaves := fill(v.Elem(), "", variant, o.skip)
				return object{kind: o.kind, name: "x", value: v.Interface(), skip: o.skip}, leaves
			}
			base, leaves := build("")
			if len(leaves) < 3 {
				t.Fatalf("leaves: %q", leaves)
			}
			same, _ := build("")
			if changes := diffObjects(base, same); len(changes) > 0 {
				t.Fatalf("two equal objects differ: %+v", changes)
			}
			for _, leaf := range leaves {
				other, _ := build(leaf)
				changes := diffObjects(base, other)
				if len(changes) != 1 || changes[0].Field != leaf || reflect.DeepEqual(changes[0].From, changes[0].To) {
					t.Errorf("changing %s: got %+v", leaf, changes)
				}
			}
		})
	}
}

// fill sets every field below v to a value that is not zero, and the leaf at
// path variant to another one, and returns the paths of the leaves: the values
// the diff compares whole. skip names fields of v left out.
func fill(v reflect.Value, path, variant string, skip map[string]bool) []string {
	n := 1
	if path == variant {
		n = 2
	}
	switch v.Type() {
	case durationType:
		v.Set(reflect.ValueOf(config.Duration(time.Duration(n) * time.Second)))
		return []string{path}
	case dateType:
		v.Set(reflect.ValueOf(config.Date{Time: time.Date(2027, 1, n, 0, 0, 0, 0, time.UTC)}))
		return []string{path}
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return fill(v.Elem(), path, variant, skip)
	case reflect.Struct:
		var leaves []string
		for _, f := range fieldsOf(v.Type()) {
			if !skip[f.name] {
				leaves = append(leaves, fill(v.FieldByIndex(f.index), fieldPath(path, f.name), variant, nil)...)
			}
		}
		return leaves
	case reflect.Slice:
		item := reflect.New(v.Type().Elem()).Elem()
		if key := itemKey(item.Type()); key != nil {
			name := fieldsOf(item.Type())[slices.IndexFunc(fieldsOf(item.Type()), func(f field) bool { return slices.Equal(f.index, key) })].name
			leaves := fill(item, itemPath(path, "k"), variant, map[string]bool{name: true})
			item.FieldByIndex(key).SetString("k")
			v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), item))
			return leaves
		}
		fill(item, path+"[]", "", nil)
		s := reflect.MakeSlice(v.Type(), 0, n)
		for range n {
			s = reflect.Append(s, item)
		}
		v.Set(s)
		return []string{path}
	case reflect.Map:
		elem := reflect.New(v.Type().Elem()).Elem()
		leaves := fill(elem, keyPath(path, "k"), variant, nil)
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.ValueOf("k"), elem)
		v.Set(m)
		return leaves
	case reflect.Interface:
		v.Set(reflect.ValueOf(n))
	case reflect.String:
		v.SetString(fmt.Sprint("v", n))
	case reflect.Bool:
		v.SetBool(n == 1)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(n))
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.5)
	default:
		panic("fill: no value for " + v.Type().String())
	}
	return []string{path}
}

func TestSensitiveNames(t *testing.T) {
	for name, want := range map[string]bool{
		"clientSecret": true, "password": true, "accessToken": true, "privateKey": true, "apiKey": true,
		"secretEnv": false, "clientSecretEnv": false, "apiKeyEnv": false, "apiKeys": false,
		"tokenLimit": false, "tokens": false, "authorization": false, "authentication": false,
	} {
		if got := isSensitiveField(name); got != want {
			t.Errorf("isSensitiveField(%q) = %v, want %v", name, got, want)
		}
	}
	for key, want := range map[string]bool{
		"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "X-API-Key": true, "X-Auth-Token": true,
		"X-Tenant": false, "Accept": false, "fast": false,
	} {
		if got := isSensitiveKey(key); got != want {
			t.Errorf("isSensitiveKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestSecretsAreRedacted: a sensitive field's value never reaches a Change,
// whether it changed, or came with an object added, or sits inside a changed
// value.
func TestSecretsAreRedacted(t *testing.T) {
	type upstream struct {
		User     string `yaml:"user"`
		Password string `yaml:"password"`
	}
	type spec struct {
		Auth    *upstream         `yaml:"auth"`
		Headers map[string]string `yaml:"headers"`
	}
	was := &spec{Auth: &upstream{User: "u", Password: "hunter2"}, Headers: map[string]string{"Cookie": "s=1"}}
	now := &spec{Auth: &upstream{User: "v", Password: "hunter3"}, Headers: map[string]string{"Cookie": "s=2", "X-Tenant": "t"}}
	gone := &spec{}
	var all []Change
	all = append(all, diffObjects(object{kind: "K", value: was}, object{kind: "K", value: now})...)
	all = append(all, diffObjects(object{kind: "K", value: was}, object{kind: "K", value: gone})...)
	all = append(all, Change{To: object{value: now}.plain()})
	js, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter", "s=1", "s=2"} {
		if strings.Contains(string(js), secret) {
			t.Errorf("%q shown: %s", secret, js)
		}
	}
	for _, shown := range []string{
		`"field":"auth.password","from":"[redacted]","to":"[redacted]"`,
		`"field":"headers.Cookie","from":"[redacted]","to":"[redacted]"`,
		`"password":"[redacted]"`, `"X-Tenant":"t"`, `"user":"v"`,
	} {
		if !strings.Contains(string(js), shown) {
			t.Errorf("%s not in %s", shown, js)
		}
	}
}
