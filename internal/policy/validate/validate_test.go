package validate

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/httperr"
)

// newValidator builds a Validator or fails the test.
func newValidator(t testing.TB, cfg Config) *Validator {
	t.Helper()
	if cfg.MaxJSONDepth == 0 {
		cfg.MaxJSONDepth = 64
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// call is one request of a table test.
type call struct {
	name    string
	method  string
	target  string
	headers map[string]string
	body    string
	status  int    // 0: allowed
	detail  string // a substring of the public message
}

// run checks r in the two steps the chain takes, CheckRequest then CheckBody.
func run(v *Validator, c call) *httperr.Error {
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	r := httptest.NewRequest(method, c.target, strings.NewReader(c.body))
	if c.body == "" {
		r = httptest.NewRequest(method, c.target, nil)
	}
	for k, val := range c.headers {
		r.Header.Set(k, val)
	}
	path := r.URL.EscapedPath()
	if e := v.CheckRequest(r, path); e != nil {
		return e
	}
	return v.CheckBody(r, path, []byte(c.body))
}

func runTable(t *testing.T, v *Validator, calls []call) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			e := run(v, c)
			switch {
			case c.status == 0 && e != nil:
				t.Fatalf("refused: %v", e)
			case c.status != 0 && e == nil:
				t.Fatalf("allowed, want %d %q", c.status, c.detail)
			case e != nil && (e.Status != c.status || !strings.Contains(e.Public, c.detail)):
				t.Fatalf("got %d %q, want %d %q", e.Status, e.Public, c.status, c.detail)
			}
		})
	}
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

func TestContentTypes(t *testing.T) {
	v := newValidator(t, Config{ContentTypes: []string{"application/json", "text/*"}})
	runTable(t, v, []call{
		{name: "json", target: "/x", headers: jsonCT, body: `{}`},
		{name: "parameters ignored", target: "/x", headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: `{}`},
		{name: "case-insensitive", target: "/x", headers: map[string]string{"Content-Type": "Application/JSON"}, body: `{}`},
		{name: "type wildcard", target: "/x", headers: map[string]string{"Content-Type": "text/csv"}, body: "a,b"},
		{name: "other type", target: "/x", headers: map[string]string{"Content-Type": "application/xml"}, body: "<a/>",
			status: 415, detail: `content type "application/xml" is not allowed (allowed: application/json, text/*)`},
		{name: "body without type", target: "/x", body: `{}`, status: 415, detail: "needs a Content-Type"},
		{name: "malformed type", target: "/x", headers: map[string]string{"Content-Type": "json"}, body: `{}`, status: 415, detail: "malformed Content-Type"},
		{name: "no body, no type", method: http.MethodGet, target: "/x"},
		{name: "+json is not json", target: "/x", headers: map[string]string{"Content-Type": "application/problem+json"}, body: `{}`, status: 415},
	})

	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("{}"))
	r.Header["Content-Type"] = []string{"text/plain", "application/json"}
	if e := v.CheckRequest(r, "/x"); e == nil || e.Status != 400 {
		t.Errorf("two Content-Types: %v", e)
	}

	// Without declared types, any type goes, and JSON is still checked.
	anyType := newValidator(t, Config{})
	runTable(t, anyType, []call{
		{name: "any type", target: "/x", headers: map[string]string{"Content-Type": "application/xml"}, body: "<a/>"},
		{name: "no type", target: "/x", body: "{"},
		{name: "json checked", target: "/x", headers: map[string]string{"Content-Type": "application/vnd.api+json"}, body: "{", status: 400},
	})
}

func TestJSONBody(t *testing.T) {
	v := newValidator(t, Config{MaxJSONDepth: 8})
	runTable(t, v, []call{
		{name: "well-formed", target: "/x", headers: jsonCT, body: `{"a":[1,{"b":null}]}`},
		{name: "truncated", target: "/x", headers: jsonCT, body: `{"a":`, status: 400, detail: "body: malformed JSON"},
		{name: "bad token", target: "/x", headers: jsonCT, body: `{"a":tru}`, status: 400, detail: "body: malformed JSON: unexpected character at byte 8"},
		{name: "two values", target: "/x", headers: jsonCT, body: `{} {}`, status: 400, detail: "body: malformed JSON: data after the value at byte 3"},
		{name: "at the limit", target: "/x", headers: jsonCT, body: strings.Repeat("[", 8) + strings.Repeat("]", 8)},
		{name: "too deep", target: "/x", headers: jsonCT, body: strings.Repeat("[", 9) + strings.Repeat("]", 9),
			status: 400, detail: "body: JSON nests deeper than 8 levels"},
		{name: "brackets in strings", target: "/x", headers: jsonCT, body: `["` + strings.Repeat(`[{\"`, 50) + `"]`},
		{name: "not UTF-8", target: "/x", headers: jsonCT, body: "[\"\xff\"]", status: 400, detail: "UTF-8"},
		{name: "whitespace only", target: "/x", headers: jsonCT, body: "  ", status: 400, detail: "malformed JSON"},
	})
}

// A body nested 10,000 deep is refused by the scan, before any parser or
// schema validator recurses into it.
func TestDeepBodyRefusedBeforeSchemas(t *testing.T) {
	v := newValidator(t, Config{JSONSchema: "testdata/order.schema.yaml", OpenAPI: "testdata/orders.openapi.yaml"})
	body := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	e := run(v, call{target: "/v1/orders", headers: jsonCT, body: body})
	if e == nil || e.Status != 400 || !strings.Contains(e.Public, "nests deeper than 64") {
		t.Fatalf("got %v", e)
	}
}

func TestJSONSchema(t *testing.T) {
	v := newValidator(t, Config{JSONSchema: "testdata/order.schema.yaml"})
	huge := strings.Repeat("x", 100_000)
	runTable(t, v, []call{
		{name: "valid", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A-1","quantity":2}]}`},
		{name: "missing property", target: "/x", headers: jsonCT, body: `{"items":[{"sku":"A-1","quantity":2}]}`,
			status: 400, detail: `body: missing required property "customer"`},
		{name: "below minimum", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A","quantity":2},{"sku":"B","quantity":0}]}`,
			status: 400, detail: "body.items[1].quantity: must be >= 1"},
		{name: "wrong type", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A","quantity":"2"}]}`,
			status: 400, detail: "body.items[0].quantity: must be integer, not string"},
		{name: "unknown property", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A","quantity":1}],"extra":1}`,
			status: 400, detail: `body: property "extra" is not allowed`},
		{name: "format asserted", target: "/x", headers: jsonCT, body: `{"customer":"ann","email":"nope","items":[{"sku":"A","quantity":1}]}`,
			status: 400, detail: "body.email: must be a valid email"},
		{name: "pattern", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"` + huge + `","quantity":1}]}`,
			status: 400, detail: `body.items[0].sku: must match the pattern "^[A-Z0-9-]+$"`},
		{name: "a JSON Schema wants JSON", target: "/x", headers: map[string]string{"Content-Type": "text/plain"}, body: "hi",
			status: 415, detail: `content type "text/plain" is not allowed`},
		{name: "no body", method: http.MethodGet, target: "/x"},
	})

	// The JSON document, with a $ref to a YAML file beside it.
	j := newValidator(t, Config{JSONSchema: "testdata/order.schema.json"})
	runTable(t, j, []call{
		{name: "json document", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"quantity":1}]}`},
		{name: "referenced file", target: "/x", headers: jsonCT, body: `{"customer":"ann","items":[{"quantity":0}]}`,
			status: 400, detail: "body.items[0].quantity: must be >= 1"},
	})
}

// A huge input is never echoed back: neither a value, nor a key.
func TestMessagesDoNotEchoInput(t *testing.T) {
	huge := strings.Repeat("Z", 1<<20)
	v := newValidator(t, Config{JSONSchema: "testdata/order.schema.yaml", OpenAPI: "testdata/orders.openapi.yaml"})
	for _, c := range []call{
		{name: "value", target: "/v1/orders", headers: jsonCT, body: `{"customer":"` + huge + `","items":[{"sku":"A","quantity":1}]}`},
		{name: "key", target: "/v1/orders", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A","quantity":1}],"` + huge + `":1}`},
		{name: "query", method: http.MethodGet, target: "/v1/orders?limit=" + huge, headers: map[string]string{"X-Tenant": "acme"}},
		{name: "header", method: http.MethodGet, target: "/v1/orders", headers: map[string]string{"X-Tenant": huge}},
		{name: "path", method: http.MethodGet, target: "/v1/" + huge},
		{name: "content type", target: "/v1/orders", headers: map[string]string{"Content-Type": "text/" + huge}, body: "x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := run(v, c)
			if e == nil {
				t.Fatal("allowed")
			}
			if len(e.Public) > 400 || strings.Contains(e.Public, strings.Repeat("Z", maxEcho+1)) {
				t.Errorf("message echoes the input (%d bytes): %.200s", len(e.Public), e.Public)
			}
			if e.Cause != nil && len(e.Cause.Error()) > 400 {
				t.Errorf("cause is %d bytes", len(e.Cause.Error()))
			}
		})
	}
}

// The same invalid body gets the same message every time, whatever order
// the validator visits its properties in.
func TestMessagesAreDeterministic(t *testing.T) {
	v := newValidator(t, Config{JSONSchema: "testdata/order.schema.yaml"})
	c := call{target: "/x", headers: jsonCT, body: `{"zz":1,"aa":2,"items":[{"quantity":0},{"sku":5}],"customer":7}`}
	first := run(v, c).Public
	for range 50 {
		if got := run(v, c).Public; got != first {
			t.Fatalf("%q then %q", first, got)
		}
	}
}

func TestOpenAPI(t *testing.T) {
	v := newValidator(t, Config{OpenAPI: "testdata/orders.openapi.yaml"})
	tenant := map[string]string{"X-Tenant": "acme"}
	order := `{"customer":"ann","items":[{"sku":"A-1","quantity":2}]}`
	runTable(t, v, []call{
		{name: "query and header", method: http.MethodGet, target: "/v1/orders?limit=10", headers: tenant},
		{name: "path as given", method: http.MethodGet, target: "/orders?limit=10", headers: tenant},
		{name: "query not an integer", method: http.MethodGet, target: "/v1/orders?limit=ten", headers: tenant,
			status: 400, detail: `query parameter "limit": must be an integer`},
		{name: "query below minimum", method: http.MethodGet, target: "/v1/orders?limit=0", headers: tenant,
			status: 400, detail: `query parameter "limit": number must be at least 1`},
		{name: "header missing", method: http.MethodGet, target: "/v1/orders",
			status: 400, detail: `header parameter "X-Tenant": required`},
		{name: "header pattern", method: http.MethodGet, target: "/v1/orders", headers: map[string]string{"X-Tenant": "ACME"},
			status: 400, detail: `header parameter "X-Tenant": string doesn't match the regular expression`},
		{name: "path parameter", method: http.MethodGet, target: "/v1/orders/17"},
		{name: "path parameter escaped", method: http.MethodGet, target: "/v1/orders/%31%37"},
		{name: "path parameter not an integer", method: http.MethodGet, target: "/v1/orders/seventeen",
			status: 400, detail: `path parameter "id": must be an integer`},
		{name: "path parameter below minimum", method: http.MethodGet, target: "/v1/orders/0",
			status: 400, detail: `path parameter "id": number must be at least 1`},
		{name: "constant path wins", method: http.MethodGet, target: "/v1/orders/mine"},
		{name: "HEAD as GET", method: http.MethodHead, target: "/v1/orders/17"},
		{name: "undeclared path", method: http.MethodGet, target: "/v1/invoices",
			status: 404, detail: `path "/v1/invoices" is not declared`},
		{name: "undeclared method", method: http.MethodPut, target: "/v1/orders/17",
			status: 405, detail: "method PUT is not declared"},
		{name: "body", target: "/v1/orders", headers: jsonCT, body: order},
		{name: "body required", target: "/v1/orders", headers: jsonCT, status: 400, detail: "body: required"},
		{name: "body violates the schema", target: "/v1/orders", headers: jsonCT,
			body:   `{"customer":"ann","items":[{"sku":"A-1","quantity":2},{"sku":"B","quantity":0}]}`,
			status: 400, detail: "body.items[1].quantity: number must be at least 1"},
		{name: "body missing a property", target: "/v1/orders", headers: jsonCT, body: `{"items":[{"sku":"A-1","quantity":2}]}`,
			status: 400, detail: `body.customer: property "customer" is missing`},
		{name: "body malformed", target: "/v1/orders", headers: jsonCT, body: `{"customer":`, status: 400, detail: "malformed JSON"},
		{name: "type the operation does not take", target: "/v1/orders", headers: map[string]string{"Content-Type": "text/plain"}, body: "x",
			status: 415, detail: `content type "text/plain" is not accepted by POST /orders (allowed: application/json)`},
		{name: "body the operation does not take", method: http.MethodDelete, target: "/v1/orders/17", headers: jsonCT, body: `{}`,
			status: 400, detail: "body: DELETE /orders/{id} takes no request body"},
		{name: "form", target: "/v1/forms", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "name=ann"},
		{name: "form violates the schema", target: "/v1/forms", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: "name=" + strings.Repeat("n", 11), status: 400, detail: "body.name: maximum string length is 10"},
	})

	// A 405 says what is allowed.
	e := run(v, call{method: http.MethodPatch, target: "/v1/orders/17"})
	if e == nil || e.Header.Get("Allow") != "DELETE, GET, HEAD" || e.Decision != httperr.DecisionMethodNotAllowed {
		t.Errorf("405: %+v", e)
	}
	if e := run(v, call{method: http.MethodGet, target: "/nope"}); e == nil || e.Decision != httperr.DecisionNotFound {
		t.Errorf("404: %+v", e)
	}
}

// The request the upstream receives is the one the client sent: checking
// it sets no defaults and consumes no body.
func TestChecksDoNotChangeTheRequest(t *testing.T) {
	v := newValidator(t, Config{OpenAPI: "testdata/orders.openapi.yaml"})
	body := "name=ann"
	r := httptest.NewRequest(http.MethodPost, "/v1/forms?x=1", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if e := v.CheckRequest(r, "/v1/forms"); e != nil {
		t.Fatal(e)
	}
	if e := v.CheckBody(r, "/v1/forms", []byte(body)); e != nil {
		t.Fatal(e)
	}
	rest := make([]byte, 100)
	n, _ := r.Body.Read(rest)
	if string(rest[:n]) != body || r.URL.RawQuery != "x=1" || len(r.Header) != 1 {
		t.Errorf("request changed: body %q, query %q, headers %v", rest[:n], r.URL.RawQuery, r.Header)
	}
}

// With both documents, a body must satisfy both.
func TestBothDocuments(t *testing.T) {
	v := newValidator(t, Config{OpenAPI: "testdata/orders.openapi.yaml", JSONSchema: "testdata/order.schema.yaml"})
	runTable(t, v, []call{
		{name: "both satisfied", target: "/v1/orders", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A-1","quantity":2}]}`},
		{name: "JSON Schema only", target: "/v1/orders", headers: jsonCT, body: `{"customer":"ann","email":"x","items":[{"sku":"A-1","quantity":2}]}`,
			status: 400, detail: "body.email: must be a valid email"},
	})
}

func TestNeedsBody(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, true},
		{Config{ContentTypes: []string{"text/csv"}}, false},
		{Config{ContentTypes: []string{"text/csv", "application/merge-patch+json"}}, true},
		{Config{ContentTypes: []string{"application/*"}}, true},
		{Config{ContentTypes: []string{"text/csv"}, JSONSchema: "testdata/order.schema.yaml"}, true},
		{Config{ContentTypes: []string{"text/csv"}, OpenAPI: "testdata/orders.openapi.yaml"}, true},
	} {
		if got := newValidator(t, c.cfg).NeedsBody(); got != c.want {
			t.Errorf("%+v: NeedsBody = %v", c.cfg, got)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{MaxJSONDepth: 0},
		{MaxJSONDepth: 8, ContentTypes: []string{"json"}},
		{MaxJSONDepth: 8, JSONSchema: "testdata/missing.yaml"},
		{MaxJSONDepth: 8, OpenAPI: "testdata/broken/openapi-bad-in.yaml"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

// OpenAPI 3.1 schemas are JSON Schema 2020-12; their messages are worded
// like the JSON Schema step's.
func TestOpenAPI31(t *testing.T) {
	v := newValidator(t, Config{OpenAPI: "testdata/orders31.openapi.yaml"})
	runTable(t, v, []call{
		{name: "null allowed by a type list", target: "/orders", headers: jsonCT, body: `{"customer":null}`},
		{name: "below minimum", target: "/orders", headers: jsonCT, body: `{"customer":"ann","quantity":0}`,
			status: 400, detail: "body.quantity: must be >= 1"},
		{name: "missing property", target: "/orders", headers: jsonCT, body: `{"quantity":1}`,
			status: 400, detail: `body: missing required property "customer"`},
		{name: "type list", target: "/orders", headers: jsonCT, body: `{"customer":5}`,
			status: 400, detail: "body.customer: must be null or string, not number"},
		{name: "through $refs", method: http.MethodPut, target: "/carts/7", headers: jsonCT, body: `{"items":["first",{"quantity":1}]}`},
		{name: "referenced schema", method: http.MethodPut, target: "/carts/7", headers: jsonCT, body: `{"items":["first",{"quantity":0}]}`,
			status: 400, detail: "body.items[1].quantity: must be >= 1"},
		{name: "2020-12 keyword", method: http.MethodPut, target: "/carts/7", headers: jsonCT, body: `{"items":["second"]}`,
			status: 400, detail: `body.items[0]: must be "first"`},
		{name: "path parameter", method: http.MethodPut, target: "/carts/x", headers: jsonCT, body: `{}`,
			status: 400, detail: `path parameter "id": must be an integer`},
	})
	// Both bodies were compiled at load, not left to kin-openapi.
	for _, p := range []string{"/orders", "/carts/7"} {
		for _, op := range mustFind(t, v, p).ops {
			if op.body != nil && len(op.schemas) != 1 {
				t.Errorf("%s: %d compiled schemas", op.name, len(op.schemas))
			}
		}
	}
}

// A body of unknown length is judged once read: it may turn out empty.
func TestBodyOfUnknownLength(t *testing.T) {
	chunked := func(method, target, contentType string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader("ignored"))
		r.ContentLength = -1
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		return r
	}
	v := newValidator(t, Config{ContentTypes: []string{"application/json"}, OpenAPI: "testdata/orders.openapi.yaml"})
	for _, c := range []struct {
		name         string
		r            *http.Request
		body         string
		status       int
		afterReading bool // refused by CheckBody, not CheckRequest
	}{
		{name: "empty, no type", r: chunked(http.MethodDelete, "/v1/orders/17", "")},
		{name: "a body, no type", r: chunked(http.MethodPost, "/v1/orders", ""), body: `{}`, status: 415, afterReading: true},
		{name: "a body the operation does not take", r: chunked(http.MethodDelete, "/v1/orders/17", "application/json"), body: `{}`, status: 400, afterReading: true},
		{name: "a required body, empty", r: chunked(http.MethodPost, "/v1/orders", "application/json"), status: 400, afterReading: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := c.r.URL.Path
			e := v.CheckRequest(c.r, path)
			if e != nil {
				t.Fatalf("CheckRequest: %v", e)
			}
			e = v.CheckBody(c.r, path, []byte(c.body))
			if (e == nil) != (c.status == 0) || (e != nil && e.Status != c.status) {
				t.Fatalf("CheckBody: %v, want %d", e, c.status)
			}
		})
	}

	// Without a later CheckBody, CheckRequest judges the type at once.
	csv := newValidator(t, Config{ContentTypes: []string{"text/csv"}})
	if e := csv.CheckRequest(chunked(http.MethodPost, "/x", "application/json"), "/x"); e == nil || e.Status != 415 {
		t.Errorf("got %v, want 415", e)
	}
}

// One Validator serves many requests at once (run with -race).
func TestConcurrentChecks(t *testing.T) {
	v := newValidator(t, Config{OpenAPI: "testdata/orders.openapi.yaml", JSONSchema: "testdata/order.schema.yaml"})
	calls := []call{
		{target: "/v1/orders", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A-1","quantity":2}]}`},
		{target: "/v1/orders", headers: jsonCT, body: `{"customer":"ann","items":[{"sku":"A-1","quantity":0}]}`, status: 400},
		{method: http.MethodGet, target: "/v1/orders?limit=x", headers: map[string]string{"X-Tenant": "a"}, status: 400},
		{method: http.MethodGet, target: "/v1/orders/5"},
	}
	done := make(chan string)
	for g := range 8 {
		go func() {
			for i := range 200 {
				c := calls[(g+i)%len(calls)]
				if e := run(v, c); (e == nil) != (c.status == 0) {
					done <- fmt.Sprintf("%s %s: %v", c.method, c.target, e)
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

// mustFind returns the document's path item that path matches.
func mustFind(t *testing.T, v *Validator, path string) *pathItem {
	t.Helper()
	node, _ := v.api.root.Match(path)
	if node == nil {
		t.Fatalf("no path item for %s", path)
	}
	return node.Value.(*pathItem)
}
