package config

import (
	"strings"
	"testing"
)

func TestParseCases(t *testing.T) {
	bare := `cases:
  - name: allowed
    request: {method: GET, path: /api/x, headers: {X-A: b}}
    expect: {status: 200}
---
apiVersion: gateway/v1
kind: PolicyTest
metadata: {name: more}
spec:
  cases:
    - name: refused
      request: {method: DELETE, path: /api/x}
      expect: {status: 405}
`
	cases, err := ParseCases("cases.yaml", []byte(bare))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 || cases[0].Name != "allowed" || cases[0].Request.Headers["X-A"] != "b" || cases[1].Expect.Status != 405 {
		t.Errorf("cases = %+v", cases)
	}

	bad := `cases:
  - name: x
    request: {method: GET, path: nope}
    expect: {status: 99, colour: red}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: s}
spec: {url: "http://x"}
`
	_, err = ParseCases("cases.yaml", []byte(bad))
	want := []string{
		`cases.yaml:3:34: request.path must start with "/"`,
		`cases.yaml:4:22: expect.status 99 is not an HTTP status (100-599)`,
		`cases.yaml:4:26: unknown field "colour"`,
		`cases.yaml:7:7: a cases file holds PolicyTest manifests or a bare cases: list, not a Service`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in:\n%v", w, err)
		}
	}
}
