package lifecycle

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	yaml "go.yaml.in/yaml/v3"
)

// policyFrom builds a policy from YAML manifests for a test.
//
// Package config refuses the components not implemented yet (its
// unimplemented.go), and most weakening rules judge those, so the manifests are
// decoded here without validation and given config's defaults. config.Parse
// still reads them: every problem it reports must be such a refusal, so the
// manifests are valid but for what is yet to come (or for the OpenAPI and JSON
// Schema documents they name, which these tests do not provide: the rules judge
// manifests, not documents); and when it accepts them, its policy must be the
// one built here.
func policyFrom(t testing.TB, file, text string) *config.Policy {
	t.Helper()
	p, err := decodePolicy(text)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	fillDefaults(p)

	parsed, err := config.Parse(file, []byte(text))
	var probs config.Problems
	switch {
	case errors.As(err, &probs):
		for _, pr := range probs {
			if !strings.Contains(pr.Message, "is not implemented yet") && !strings.Contains(pr.Message, "no such file or directory") {
				t.Fatalf("the manifests of this test are invalid: %s\n%s", pr, text)
			}
		}
	case err != nil:
		t.Fatalf("%s: %v", file, err)
	default:
		clearSources(parsed)
		if !reflect.DeepEqual(parsed, p) {
			t.Fatalf("%s: config.Parse and the test decoder disagree:\nparsed %+v\ndecoded %+v", file, parsed, p)
		}
	}
	return p
}

// decodePolicy decodes every document of text into a policy, strictly (an
// unknown field is an error) but without validation.
func decodePolicy(text string) (*config.Policy, error) {
	p := &config.Policy{}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return p, nil
		} else if err != nil {
			return nil, err
		}
		var head struct {
			Kind     string    `yaml:"kind"`
			Metadata yaml.Node `yaml:"metadata"`
			Spec     yaml.Node `yaml:"spec"`
		}
		if err := doc.Decode(&head); err != nil {
			return nil, err
		}
		var md config.Metadata
		if err := decodeValue(&head.Metadata, reflect.ValueOf(&md).Elem()); err != nil {
			return nil, err
		}
		var spec any
		switch head.Kind {
		case config.KindGateway:
			p.Gateway = &config.Gateway{Metadata: md}
			spec = &p.Gateway.Spec
		case config.KindService:
			p.Services = append(p.Services, &config.Service{Metadata: md})
			spec = &p.Services[len(p.Services)-1].Spec
		case config.KindAuthProvider:
			p.AuthProviders = append(p.AuthProviders, &config.AuthProvider{Metadata: md})
			spec = &p.AuthProviders[len(p.AuthProviders)-1].Spec
		case config.KindConsumer:
			p.Consumers = append(p.Consumers, &config.Consumer{Metadata: md})
			spec = &p.Consumers[len(p.Consumers)-1].Spec
		case config.KindAIProvider:
			p.AIProviders = append(p.AIProviders, &config.AIProvider{Metadata: md})
			spec = &p.AIProviders[len(p.AIProviders)-1].Spec
		case config.KindPolicyTest:
			p.PolicyTests = append(p.PolicyTests, &config.PolicyTest{Metadata: md})
			spec = &p.PolicyTests[len(p.PolicyTests)-1].Spec
		case config.KindMonitor:
			p.Monitor = &config.Monitor{Metadata: md}
			spec = &p.Monitor.Spec
		default:
			return nil, fmt.Errorf("line %d: unknown kind %q", doc.Line, head.Kind)
		}
		if err := decodeValue(&head.Spec, reflect.ValueOf(spec).Elem()); err != nil {
			return nil, fmt.Errorf("%s %q: %w", head.Kind, md.Name, err)
		}
	}
}

// decodeValue decodes node n into v through the yaml names of struct fields.
func decodeValue(n *yaml.Node, v reflect.Value) error {
	if n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	switch v.Type() {
	case durationType:
		d, err := time.ParseDuration(n.Value)
		v.Set(reflect.ValueOf(config.Duration(d)))
		return err
	case dateType:
		d, err := time.Parse(time.DateOnly, n.Value)
		v.Set(reflect.ValueOf(config.Date{Time: d}))
		return err
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return decodeValue(n, v.Elem())
	case reflect.Struct:
		fields := map[string][]int{}
		for _, f := range fieldsOf(v.Type()) {
			fields[f.name] = f.index
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			index, ok := fields[n.Content[i].Value]
			if !ok {
				return fmt.Errorf("line %d: unknown field %q in %s", n.Content[i].Line, n.Content[i].Value, v.Type())
			}
			if err := decodeValue(n.Content[i+1], v.FieldByIndex(index)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := decodeValue(item, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := decodeValue(n.Content[i+1], elem); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(n.Content[i].Value), elem)
		}
		v.Set(m)
		return nil
	}
	return n.Decode(v.Addr().Interface())
}

// fillDefaults gives a decoded policy what config gives a valid one: route
// names, and the defaults of its ApplyDefaults.
func fillDefaults(p *config.Policy) {
	if p.Gateway == nil {
		return
	}
	s := &p.Gateway.Spec
	for i := range s.Listeners {
		l := &s.Listeners[i]
		l.Address = cmp.Or(l.Address, "0.0.0.0")
		l.Protocol = cmp.Or(l.Protocol, "HTTP")
		for j := range l.Routes {
			l.Routes[j].Name = cmp.Or(l.Routes[j].Name, fmt.Sprintf("route-%s-%d", l.Name, j))
		}
	}
	for j := range s.Routes {
		s.Routes[j].Name = cmp.Or(s.Routes[j].Name, fmt.Sprintf("route-%d", j))
	}
	config.ApplyDefaults(p)
}

// clearSources drops where each document of a parsed policy was written, which
// the test decoder does not record.
func clearSources(p *config.Policy) {
	if p.Gateway != nil {
		p.Gateway.Source = config.Source{}
	}
	for _, s := range p.Services {
		s.Source = config.Source{}
	}
	for _, a := range p.AuthProviders {
		a.Source = config.Source{}
	}
	for _, c := range p.Consumers {
		c.Source = config.Source{}
	}
	for _, a := range p.AIProviders {
		a.Source = config.Source{}
	}
	for _, pt := range p.PolicyTests {
		pt.Source = config.Source{}
	}
	if p.Monitor != nil {
		p.Monitor.Source = config.Source{}
	}
}
