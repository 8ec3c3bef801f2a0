package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

// The rule tests edit one small policy. Its sections and their fields, in the
// order they are written; "listener2", "route2", "service2" and "monitor" are
// written only when an edit touches them.
var baseSections = []struct {
	name   string
	fields [][2]string
}{
	{"gateway", nil},
	{"listener", [][2]string{{"name", "web"}, {"port", "8080"}}},
	{"listener2", [][2]string{{"name", "secure"}, {"port", "8443"}, {"protocol", "HTTPS"}, {"tls", "{certFile: c.pem, keyFile: k.pem}"}}},
	{"route", [][2]string{{"name", "r"}, {"match", "{pathPrefix: /r}"}, {"to", "svc"}, {"authentication", "{type: jwt, provider: idp}"}}},
	{"route2", [][2]string{{"name", "r2"}, {"match", "{pathPrefix: /r2}"}, {"to", "svc"}}},
	{"service", [][2]string{{"url", "http://127.0.0.1:9000"}}},
	{"service2", [][2]string{{"url", "https://api2.internal"}}},
	{"provider", [][2]string{{"type", "jwt"}, {"issuer", "https://idp.example.com/"}, {"jwksURL", "https://idp.example.com/jwks"}}},
	{"consumer", [][2]string{{"roles", "[reader]"}}},
	{"llm", [][2]string{{"type", "openai"}, {"models", "[gpt-4o]"}, {"pricing", "{gpt-4o: {inputPerMTok: 2.5, outputPerMTok: 10}}"}}},
	{"llm2", [][2]string{{"type", "anthropic"}, {"models", "[claude]"}, {"pricing", "{claude: {inputPerMTok: 3, outputPerMTok: 15}}"}}},
	{"monitor", nil},
}

// optional sections are written only when edited.
var optional = []string{"listener2", "route2", "service2", "monitor"}

// aiRoute edits route "r" into an AI route with these ai settings.
func aiRoute(ai string) []string { return []string{"route.to: ~", "route.ai: " + ai} }

// policy builds the base policy with edits, each "SECTION.FIELD: VALUE" (a
// flow-style YAML value; "~" removes the field). A route's pseudo-field "@on"
// names the listener it is written under (default: spec level, every listener).
func policy(t testing.TB, edits ...string) *config.Policy {
	t.Helper()
	return policyFrom(t, "policy.yaml", manifests(t, edits...))
}

// manifests writes the base policy with edits (see policy).
func manifests(t testing.TB, edits ...string) string {
	t.Helper()
	sections := map[string][][2]string{}
	used := map[string]bool{}
	for _, s := range baseSections {
		sections[s.name] = slices.Clone(s.fields)
	}
	for _, e := range edits {
		path, value, ok := strings.Cut(e, ": ")
		section, field, ok2 := strings.Cut(path, ".")
		if _, known := sections[section]; !ok || !ok2 || !known {
			t.Fatalf("bad edit %q", e)
		}
		used[section] = true
		fs := sections[section]
		i := slices.IndexFunc(fs, func(f [2]string) bool { return f[0] == field })
		switch {
		case value == "~" && i >= 0:
			fs = slices.Delete(fs, i, i+1)
		case value == "~":
		case i >= 0:
			fs[i][1] = value
		default:
			fs = append(fs, [2]string{field, value})
		}
		sections[section] = fs
	}
	written := func(name string) bool { return !slices.Contains(optional, name) || used[name] }

	var b strings.Builder
	item := func(indent string, fs [][2]string) {
		for i, f := range fs {
			lead := indent + "  "
			if i == 0 {
				lead = indent + "- "
			}
			fmt.Fprintf(&b, "%s%s: %s\n", lead, f[0], f[1])
		}
	}
	mapping := func(indent string, fs [][2]string) {
		for _, f := range fs {
			fmt.Fprintf(&b, "%s%s: %s\n", indent, f[0], f[1])
		}
	}
	// Routes, with the listener each is written under ("" for spec level).
	type placed struct {
		on     string
		fields [][2]string
	}
	var routes []placed
	for _, r := range []string{"route", "route2"} {
		if !written(r) {
			continue
		}
		var p placed
		for _, f := range sections[r] {
			if f[0] == "@on" {
				p.on = f[1]
			} else {
				p.fields = append(p.fields, f)
			}
		}
		routes = append(routes, p)
	}
	writeRoutes := func(indent, on string) {
		first := true
		for _, r := range routes {
			if r.on != on {
				continue
			}
			if first {
				fmt.Fprintf(&b, "%sroutes:\n", indent)
				first = false
			}
			item(indent+"  ", r.fields)
		}
	}

	b.WriteString("apiVersion: gateway/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n")
	mapping("  ", sections["gateway"])
	b.WriteString("  listeners:\n")
	for _, l := range []string{"listener", "listener2"} {
		if !written(l) {
			continue
		}
		item("    ", sections[l])
		for _, f := range sections[l] {
			if f[0] == "name" {
				writeRoutes("      ", f[1])
			}
		}
	}
	writeRoutes("  ", "")

	doc := func(kind, name, section string) {
		fmt.Fprintf(&b, "---\napiVersion: gateway/v1\nkind: %s\nmetadata: {name: %s}\nspec:", kind, name)
		if len(sections[section]) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteString("\n")
		mapping("  ", sections[section])
	}
	doc("Service", "svc", "service")
	if written("service2") {
		doc("Service", "svc2", "service2")
	}
	doc("AuthProvider", "idp", "provider")
	doc("Consumer", "alice", "consumer")
	doc("AIProvider", "llm", "llm")
	doc("AIProvider", "llm2", "llm2")
	if written("monitor") {
		doc("Monitor", "mon", "monitor")
	}
	return b.String()
}
