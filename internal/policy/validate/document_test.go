package validate

import (
	"errors"
	"testing"
)

// A broken document is an error that says where in it the problem is.
func TestBrokenDocuments(t *testing.T) {
	for _, c := range []struct {
		check func(string) error
		file  string
		want  string
	}{
		{CheckOpenAPI, "testdata/broken/openapi-bad-in.yaml",
			`testdata/broken/openapi-bad-in.yaml:7:11: invalid paths: invalid path /orders: invalid operation GET: parameter can't have 'in' value "qury"`},
		{CheckOpenAPI, "testdata/broken/openapi-bad-type.json",
			`testdata/broken/openapi-bad-type.json:7:46: invalid components: schema "X": unsupported 'type' value "strin"`},
		{CheckOpenAPI, "testdata/broken/openapi-missing-ref.yaml",
			`testdata/broken/openapi-missing-ref.yaml:9:22: failed to resolve "components" in fragment in URI: "#/components/schemas/Nope"`},
		{CheckOpenAPI, "testdata/broken/openapi-remote-ref.yaml",
			`testdata/broken/openapi-remote-ref.yaml:9:22: $ref to a URL: only local files are loaded`},
		{CheckOpenAPI, "testdata/broken/openapi-syntax.yaml",
			`testdata/broken/openapi-syntax.yaml:5: did not find expected ',' or '}'`},
		{CheckOpenAPI, "testdata/broken/openapi-bad-value.yaml",
			"testdata/broken/openapi-bad-value.yaml:9:35: cannot construct !!str `one` into float64"},
		{CheckOpenAPI, "testdata/broken/openapi-no-version.yaml",
			`testdata/broken/openapi-no-version.yaml:2:1: invalid info: value of version must be a non-empty string`},
		{CheckJSONSchema, "testdata/broken/schema-bad-keyword.yaml",
			`testdata/broken/schema-bad-keyword.yaml:5:5: not a valid schema: got string, want number`},
		{CheckJSONSchema, "testdata/broken/schema-bad-regex.yaml",
			"testdata/broken/schema-bad-regex.yaml:5:5: not a valid schema: '([' is not valid regex: error parsing regexp: missing closing ]: `[`"},
		{CheckJSONSchema, "testdata/broken/schema-missing-ref.yaml",
			`testdata/broken/schema-missing-ref.yaml:3:7: $ref names schema-missing-ref.yaml#/$defs/nope, which does not exist`},
		{CheckJSONSchema, "testdata/broken/schema-remote-ref.yaml",
			`testdata/broken/schema-remote-ref.yaml:3:7: $ref https://example.com/schemas/a.json: only local files are loaded`},
		{CheckJSONSchema, "testdata/broken/schema-syntax.json",
			`testdata/broken/schema-syntax.json:4:30: malformed JSON: invalid character ',' looking for beginning of object key string`},
		{CheckJSONSchema, "testdata/broken/schema-syntax.yaml",
			`testdata/broken/schema-syntax.yaml:2: malformed YAML: did not find expected ',' or '}'`},
		{CheckJSONSchema, "testdata/broken/schema-alias-bomb.yaml",
			`testdata/broken/schema-alias-bomb.yaml:6:36: document too large (aliases expand to more than a million values)`},
		{CheckJSONSchema, "testdata/broken/schema-duplicate-key.yaml",
			`testdata/broken/schema-duplicate-key.yaml:4:3: duplicate key "a"`},
	} {
		t.Run(c.file, func(t *testing.T) {
			err := c.check(c.file)
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("got %T %v, want a *DocumentError", err, err)
			}
			if err.Error() != c.want {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
		})
	}
}

func TestGoodDocuments(t *testing.T) {
	for _, f := range []string{"testdata/orders.openapi.yaml", "testdata/orders31.openapi.yaml"} {
		if err := CheckOpenAPI(f); err != nil {
			t.Error(err)
		}
	}
	for _, f := range []string{"testdata/order.schema.yaml", "testdata/order.schema.json"} {
		if err := CheckJSONSchema(f); err != nil {
			t.Error(err)
		}
	}
}

func TestDocumentErrorWithoutLine(t *testing.T) {
	for _, c := range []struct {
		e    DocumentError
		want string
	}{
		{DocumentError{File: "a.yaml", Pointer: "/paths/~1x", Message: "bad"}, "a.yaml: at /paths/~1x: bad"},
		{DocumentError{File: "a.yaml", Message: "bad"}, "a.yaml: bad"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
