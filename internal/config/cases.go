package config

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// ParseCases reads the request cases of `portcullis policy test --cases
// FILE`: PolicyTest manifests, or bare documents holding a `cases:` list (the
// body of a PolicyTest's spec). Problems come with their positions, as for
// manifests.
func ParseCases(file string, data []byte) ([]TestCase, error) {
	var probs Problems
	var cases []TestCase
	budget := aliasBudget
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			at, msg := syntaxError(file, data, err)
			probs.add(at, "YAML syntax error: %s", msg)
			break
		}
		if len(root.Content) == 0 || isNull(root.Content[0]) {
			continue
		}
		if n := root.Content[0]; n.Kind == yaml.MappingNode && !hasKey(n, "kind") {
			root.Content[0] = asPolicyTest(n)
		}
		doc, _ := decodeDocument(file, &root, &budget, &probs)
		if doc == nil {
			continue
		}
		t, ok := doc.m.(*PolicyTest)
		if !ok {
			_, src := doc.m.header()
			probs.add(src.Positions.Of("kind"), "a cases file holds PolicyTest manifests or a bare cases: list, not a %s", doc.m.kind())
			continue
		}
		v := &validator{probs: &probs}
		checker{v: v, d: doc}.policyTest(&t.Spec)
		cases = append(cases, t.Spec.Cases...)
	}
	if len(probs) > 0 {
		return nil, probs.sorted()
	}
	if len(cases) == 0 {
		return nil, errors.New(file + ": no cases")
	}
	return cases, nil
}

// hasKey reports whether mapping n has key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// asPolicyTest wraps a bare `cases:` mapping as the spec of a PolicyTest
// manifest. The wrapper's nodes take the mapping's position, and the mapping
// keeps its own, so every problem still points into the file.
func asPolicyTest(spec *yaml.Node) *yaml.Node {
	scalar := func(v string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: spec.Line, Column: spec.Column}
	}
	metadata := &yaml.Node{Kind: yaml.MappingNode, Line: spec.Line, Column: spec.Column,
		Content: []*yaml.Node{scalar("name"), scalar("cases")}}
	return &yaml.Node{Kind: yaml.MappingNode, Line: spec.Line, Column: spec.Column, Content: []*yaml.Node{
		scalar("apiVersion"), scalar(APIVersion),
		scalar("kind"), scalar(KindPolicyTest),
		scalar("metadata"), metadata,
		scalar("spec"), spec,
	}}
}
