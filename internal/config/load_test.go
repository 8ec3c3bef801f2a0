package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadValidPolicyWithDefaults(t *testing.T) {
	const file = "testdata/valid/gateway.yaml"
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	g := p.Gateway
	if g.Metadata.Name != "api-gateway" || g.Source.File != file || g.Source.Line != 2 {
		t.Errorf("gateway %q from %s:%d", g.Metadata.Name, g.Source.File, g.Source.Line)
	}
	s := g.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"gatewayClass", s.GatewayClass, "api-gateway-class"},
		{"review", *s.Review, Review{Owner: "sec-team", ReviewBy: Date{time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}}},
		{"trustedProxies", s.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.7/32", "2001:db8::1/128"}},
		{"accessLog.enabled", *s.AccessLog.Enabled, true},
		{"accessLog.path", s.AccessLog.Path, filepath.Join("testdata/valid", "logs/access.log")},
		{"limits", *s.Limits, Limits{MaxHeaderBytes: 32768, MaxHeaderCount: 50, BodyIdleTimeout: Duration(30 * time.Second)}},
		{"listener 0 address", s.Listeners[0].Address, "0.0.0.0"},
		{"listener 0 protocol", s.Listeners[0].Protocol, "HTTP"},
		{"listener 1 address", s.Listeners[1].Address, "127.0.0.1"},
		{"route names", []string{s.Listeners[0].Routes[0].Name, s.Listeners[0].Routes[1].Name, s.Routes[0].Name}, []string{"orders", "route-public-1", "route-0"}},
		{"methods upper-cased, deduplicated", s.Listeners[0].Routes[0].Methods, []string{"GET", "POST"}},
		{"host lowercased", *s.Listeners[0].Routes[0].Match, Match{PathPrefix: "/orders", Host: "api.example.com"}},
		{"stripPrefix", s.Listeners[0].Routes[0].StripPrefix, true},
		{"timeout", s.Listeners[0].Routes[0].Timeout.D(), 30 * time.Second},
		{"authentication none kept", *s.Listeners[0].Routes[1].Authentication, Authentication{Type: "none"}},
		{"authentication absent stays nil", s.Listeners[0].Routes[0].Authentication, (*Authentication)(nil)},
		{"websocket", s.Listeners[0].Routes[1].WebSocket, true},
		{"wildcard host", s.Routes[0].Match.Host, "*.example.com"},
		{"service url", p.ServiceByName("orders").Spec.URL, "http://orders.internal:8080"},
		{"service timeout", p.ServiceByName("orders").Spec.Timeout.D(), 90 * time.Second},
		{"service urls", p.ServiceByName("catalog").Spec.URLs, []string{"http://10.0.0.1:8080", "https://catalog.example.com/base"}},
		{"unknown service", p.ServiceByName("nope"), (*Service)(nil)},
		{"position of a field", p.Position(KindGateway, "api-gateway", "spec.listeners[0].routes[1].to"), Position{file, 22, 15}},
		{"position of an absent field", p.Position(KindGateway, "api-gateway", "spec.listeners[0].routes[1].quota.by"), Position{file, 22, 11}},
		{"position in a service", p.Position(KindService, "orders", "spec.timeout"), Position{file, 39, 12}},
		{"position of no document", p.Position(KindService, "nope", "spec"), Position{}},
		{"summary", p.Summary(), "valid: 1 gateway, 2 listeners, 3 routes, 2 services, 0 auth providers, 0 consumers"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestLoadFolder(t *testing.T) {
	const dir = "testdata/valid/folder"
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Summary(), "valid: 1 gateway, 1 listener, 1 route, 1 service, 2 auth providers, 1 consumer, 1 AI provider"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	idp := p.AuthProviders[0]
	if idp.Source.File != filepath.Join(dir, "others.yml") || idp.Source.Line != 9 {
		t.Errorf("idp from %s:%d", idp.Source.File, idp.Source.Line)
	}
	if want := filepath.Join(dir, "certs/idp-ca.pem"); idp.Spec.CAFile != want {
		t.Errorf("caFile = %q, want %q (relative to the manifest's folder)", idp.Spec.CAFile, want)
	}
	if got := p.AIProviders[0].Spec.Pricing["gpt-4o-mini"]; got != (Pricing{InputPerMTok: 0.15, OutputPerMTok: 0.6}) {
		t.Errorf("pricing = %+v", got)
	}
	if got := p.Consumers[0].Spec.APIKeys; len(got) != 1 || got[0].ID != "k1" {
		t.Errorf("apiKeys = %+v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "no *.yaml or *.yml files") {
		t.Errorf("Load(empty folder) = %v", err)
	}
	if _, err := Load(filepath.Join(empty, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing file) = %v", err)
	}
	if _, err := ParseFiles(nil); err == nil {
		t.Error("ParseFiles(nil) accepted")
	}
}

// The brief's example is valid as written.
func TestSeedIsValid(t *testing.T) {
	const file = "../../examples/seed/gateway.yaml" // the brief's example, kept in step with shared/ by test/cli_test.go
	p, err := Load(file)
	if err != nil {
		t.Fatalf("the brief's example: %v", err)
	}
	if got, want := p.Summary(), "valid: 1 gateway, 1 listener, 1 route, 1 service, 1 auth provider, 0 consumers"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestRelativeFilePathsAreResolvedAgainstTheManifestFolder(t *testing.T) {
	src := map[string]string{
		KindGateway: `spec:
  accessLog: {path: stderr}
  listeners: [{tls: {certFile: certs/gw.pem, keyFile: /etc/gw.key, clientCAFile: ca.pem}}]
  routes: [{validation: {openapi: api/openapi.yaml, jsonSchema: schema.json}}]`,
		KindService:      "spec: {tls: {caFile: ca.pem, certFile: c.pem, keyFile: k.pem}}",
		KindAuthProvider: "spec: {caFile: ../idp-ca.pem}",
	}
	dir := filepath.Join("conf", "prod")
	got := map[string][]string{}
	for kind, spec := range src {
		var probs Problems
		budget := aliasBudget
		docs, _ := decodeFile(filepath.Join(dir, "x.yaml"), []byte(header+"kind: "+kind+"\n"+spec), &budget, &probs)
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		resolveFiles(docs[0].m)
		switch m := docs[0].m.(type) {
		case *Gateway:
			l, v := m.Spec.Listeners[0].TLS, m.Spec.Routes[0].Validation
			got[kind] = []string{m.Spec.AccessLog.Path, l.CertFile, l.KeyFile, l.ClientCAFile, v.OpenAPI, v.JSONSchema}
		case *Service:
			got[kind] = []string{m.Spec.TLS.CAFile, m.Spec.TLS.CertFile, m.Spec.TLS.KeyFile}
		case *AuthProvider:
			got[kind] = []string{m.Spec.CAFile}
		}
	}
	want := map[string][]string{
		KindGateway:      {"stderr", filepath.Join(dir, "certs/gw.pem"), "/etc/gw.key", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "api/openapi.yaml"), filepath.Join(dir, "schema.json")},
		KindService:      {filepath.Join(dir, "ca.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")},
		KindAuthProvider: {filepath.Join("conf", "idp-ca.pem")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
