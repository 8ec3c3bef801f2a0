package validate

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const benchOrder = `{"customer":"ann","note":"leave at the door","items":[{"sku":"A-1","quantity":2},{"sku":"B-22","quantity":1}]}`

// benchPost runs both steps of a valid JSON POST through v.
func benchPost(b *testing.B, v *Validator, path string) {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(benchOrder))
	r.Header.Set("Content-Type", "application/json")
	body := []byte(benchOrder)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if e := v.CheckRequest(r, path); e != nil {
			b.Fatal(e)
		}
		if e := v.CheckBody(r, path, body); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkJSONSchemaPost(b *testing.B) {
	benchPost(b, newValidator(b, Config{ContentTypes: []string{"application/json"}, JSONSchema: "testdata/order.schema.yaml"}), "/orders")
}

func BenchmarkOpenAPIPost(b *testing.B) {
	benchPost(b, newValidator(b, Config{OpenAPI: "testdata/orders.openapi.yaml"}), "/v1/orders")
}

func BenchmarkBothDocumentsPost(b *testing.B) {
	benchPost(b, newValidator(b, Config{OpenAPI: "testdata/orders.openapi.yaml", JSONSchema: "testdata/order.schema.yaml"}), "/v1/orders")
}

// A GET with a path, a query and a header parameter.
func BenchmarkOpenAPIGet(b *testing.B) {
	v := newValidator(b, Config{OpenAPI: "testdata/orders.openapi.yaml"})
	r := httptest.NewRequest(http.MethodGet, "/v1/orders?limit=20", nil)
	r.Header.Set("X-Tenant", "acme")
	b.ReportAllocs()
	for b.Loop() {
		if e := v.CheckRequest(r, "/v1/orders"); e != nil {
			b.Fatal(e)
		}
	}
}

// The JSON checks alone (no document): the cost every JSON body pays.
func BenchmarkJSONSyntaxOnly(b *testing.B) {
	benchPost(b, newValidator(b, Config{}), "/orders")
}

// OpenAPI 3.1: the body schemas are compiled at load (see schemas31); left
// to kin-openapi, this took about 150 µs and 650 allocations.
func BenchmarkOpenAPI31Post(b *testing.B) {
	v := newValidator(b, Config{OpenAPI: "testdata/orders31.openapi.yaml"})
	r := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"customer":"ann","quantity":2}`))
	r.Header.Set("Content-Type", "application/json")
	body := []byte(`{"customer":"ann","quantity":2}`)
	b.ReportAllocs()
	for b.Loop() {
		if e := v.CheckRequest(r, "/orders"); e != nil {
			b.Fatal(e)
		}
		if e := v.CheckBody(r, "/orders", body); e != nil {
			b.Fatal(e)
		}
	}
}
