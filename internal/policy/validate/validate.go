// Package validate is the validation step of a route's policy chain: the
// route's declared request contract. It checks the content type (415), the
// JSON body's syntax and nesting, and, when the route names them, a JSON
// Schema and an OpenAPI 3 document (400, with the field that failed and why).
//
// Documents are loaded and compiled by New, when a snapshot is built; the
// request path only reads them. A request is checked in two steps: CheckRequest
// before the body is read, CheckBody once it is buffered.
package validate

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis/portcullis/internal/httperr"
)

// Config is a route's request contract.
type Config struct {
	// ContentTypes are the allowed media types (type/subtype, case-insensitive,
	// parameters ignored; "type/*" allows every subtype). Empty allows any,
	// except that with a JSONSchema a body must then be JSON.
	ContentTypes []string
	// OpenAPI is the path of an OpenAPI 3 document (YAML or JSON), or "".
	OpenAPI string
	// JSONSchema is the path of a JSON Schema document (YAML, or JSON when the
	// name ends in .json) that JSON bodies must match, or "". Documents that do
	// not name their draft are read as draft 2020-12.
	JSONSchema string
	// MaxJSONDepth is how deeply a JSON body may nest arrays and objects; it
	// must be positive.
	MaxJSONDepth int
}

// Validator checks requests against one route's contract. It is safe for
// concurrent use.
type Validator struct {
	types    []string // allowed media types; nil allows any
	maxDepth int
	schema   *jsonschema.Schema // nil without a JSON Schema
	api      *openAPI           // nil without an OpenAPI document

	needsBody bool
}

// New loads and compiles the documents cfg names. A broken document is a
// *DocumentError that says where in the document the problem is.
func New(cfg Config) (*Validator, error) {
	if cfg.MaxJSONDepth < 1 {
		return nil, fmt.Errorf("validate: MaxJSONDepth must be positive, not %d", cfg.MaxJSONDepth)
	}
	v := &Validator{maxDepth: cfg.MaxJSONDepth}
	for _, t := range cfg.ContentTypes {
		mt, ok := parseMediaType(t)
		if !ok {
			return nil, fmt.Errorf("validate: %q is not a media type", t)
		}
		v.types = append(v.types, mt)
	}
	if cfg.JSONSchema != "" {
		s, err := compileJSONSchema(cfg.JSONSchema)
		if err != nil {
			return nil, err
		}
		v.schema = s
	}
	if cfg.OpenAPI != "" {
		a, err := loadOpenAPI(cfg.OpenAPI)
		if err != nil {
			return nil, err
		}
		v.api = a
	}
	v.needsBody = v.bodyChecked()
	return v, nil
}

// NeedsBody reports whether CheckBody must see the buffered body: it must
// when a document is set or when JSON bodies may arrive (their syntax and
// nesting are checked).
func (v *Validator) NeedsBody() bool { return v.needsBody }

// bodyChecked decides NeedsBody. A wildcard may admit JSON: the +json
// suffix goes with any type.
func (v *Validator) bodyChecked() bool {
	if v.schema != nil || v.api != nil || len(v.types) == 0 {
		return true
	}
	for _, t := range v.types {
		if isJSON(t) || strings.HasSuffix(t, "/*") {
			return true
		}
	}
	return false
}

// CheckRequest checks what needs no body. A request with a body must carry an
// allowed Content-Type (415; none at all is 415 too when types are declared
// or a JSON Schema is set). With an OpenAPI document, the request must match
// one of its operations, and that operation's path, query, header and cookie
// parameters must be valid (400).
//
// A path the document does not declare is answered 404, and a declared path
// with an undeclared method 405 with Allow, as the API itself would answer:
// the document is the API's contract, so what it does not declare is not part
// of the API, and the 404s feed the scan detector like any other. path is the
// normalized request path as the upstream will see it; the document's
// operations are matched against it, after any server base path (the host of
// a server URL is ignored).
//
// A body of unknown length (chunked, or HTTP/2 without Content-Length) may
// turn out empty, so its checks wait for CheckBody when it will be called.
func (v *Validator) CheckRequest(r *http.Request, path string) *httperr.Error {
	body := r.ContentLength > 0
	unknown := r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody
	if body || (unknown && !v.needsBody) {
		if e := v.checkContentType(r); e != nil {
			return e
		}
	}
	if v.api == nil {
		return nil
	}
	op, params, e := v.api.find(r.Method, path)
	if e != nil {
		return e
	}
	if e := op.checkParams(r, params); e != nil {
		return e
	}
	if unknown {
		return nil
	}
	if e := op.checkBodyPresent(body); e != nil || !body {
		return e
	}
	_, e = op.media(r.Header.Get("Content-Type"))
	return e
}

// CheckBody checks the buffered body (400): a JSON body (application/json or
// a +json type) must be well-formed UTF-8, nest no deeper than MaxJSONDepth,
// and match the JSON Schema and the OpenAPI operation's requestBody schema.
// The nesting is checked first, so that no parser or schema validator ever
// recurses into a body deeper than the limit; the body is decoded once for
// both schemas, and an object with a duplicate key is refused, since the
// upstream might read the value the schemas did not see. With an OpenAPI
// document, a body the operation does not take is refused, and bodies of
// other types its requestBody declares are checked when openapi3filter can
// decode them (form, multipart, text, YAML).
//
// CheckBody expects CheckRequest to have passed, and must be called when
// NeedsBody, even for an empty body (a body may be required).
func (v *Validator) CheckBody(r *http.Request, path string, body []byte) *httperr.Error {
	var op *operation
	if v.api != nil {
		var e *httperr.Error
		if op, _, e = v.api.find(r.Method, path); e != nil {
			return e
		}
		if e := op.checkBodyPresent(len(body) > 0); e != nil {
			return e
		}
	}
	if len(body) == 0 {
		return nil
	}
	if r.ContentLength <= 0 { // not checked by CheckRequest
		if e := v.checkContentType(r); e != nil {
			return e
		}
	}
	ct := r.Header.Get("Content-Type")
	var media *openapi3.MediaType
	if op != nil {
		var e *httperr.Error
		if media, e = op.media(ct); e != nil {
			return e
		}
	}
	mt, _ := parseMediaType(ct)
	if !isJSON(mt) {
		if media != nil && media.Schema != nil {
			return op.checkOtherBody(r, body)
		}
		return nil
	}
	return v.checkJSON(op, media, body)
}

// checkJSON checks a JSON body: nesting, encoding and syntax, then the
// schemas, which see the body decoded once.
func (v *Validator) checkJSON(op *operation, media *openapi3.MediaType, body []byte) *httperr.Error {
	if jsonDepth(body, v.maxDepth) > v.maxDepth {
		return invalid(errTooDeep(v.maxDepth), nil)
	}
	if !utf8.Valid(body) {
		return invalid("body: JSON must be UTF-8", nil)
	}
	opSchema := media != nil && media.Schema != nil && media.Schema.Value != nil
	if v.schema == nil && !opSchema {
		return checkSyntax(body)
	}
	value, err := decodeJSON(body)
	if err != nil {
		return invalid(bodyMessage(err), nil)
	}
	if v.schema != nil {
		if err := v.schema.Validate(value); err != nil {
			return invalid(schemaMessage(err, value), nil)
		}
	}
	if opSchema {
		if s := op.schemas[media]; s != nil {
			if err := s.Validate(value); err != nil {
				return invalid(schemaMessage(err, value), op)
			}
		} else if err := media.Schema.Value.VisitJSON(value, op.api.visit...); err != nil {
			return invalid(openAPIBodyMessage(err, value), op)
		}
	}
	return nil
}

// invalid is a 400 whose public message is msg; op, when known, is named in
// the logged cause.
func invalid(msg string, op *operation) *httperr.Error {
	return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, msg, op.cause())
}
