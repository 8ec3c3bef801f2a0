package validate

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy/pathpattern"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis/portcullis/internal/httperr"
)

// openAPI is a loaded OpenAPI document, its operations indexed by path.
type openAPI struct {
	bases  []string          // server base paths, longest first; "" (the path as given) last
	root   *pathpattern.Node // path templates; values are *pathItem
	filter *openapi3filter.Options
	visit  []openapi3.SchemaValidationOption // for request bodies
}

// pathItem is one path of the document, its operations by method.
type pathItem struct {
	ops   map[string]*operation
	allow string // the Allow header of a 405
}

// operation is one operation and what checking a request against it needs.
type operation struct {
	api    *openAPI
	name   string // "POST /orders/{id}", for logs and messages
	route  routers.Route
	params []*openapi3.Parameter // the path item's, unless overridden, then the operation's
	body   *openapi3.RequestBody // nil when the operation takes none
	// schemas are the body's schemas compiled by media type, for OpenAPI
	// 3.1; without one, kin-openapi validates.
	schemas map[*openapi3.MediaType]*jsonschema.Schema
}

// CheckOpenAPI loads and validates the OpenAPI document at path, as New does,
// and returns nil or a *DocumentError that says where the problem is.
func CheckOpenAPI(path string) error {
	_, err := loadOpenAPI(path)
	return err
}

// loadOpenAPI loads and validates an OpenAPI 3 document and indexes its
// operations. Its $refs may name local files, never URLs.
func loadOpenAPI(file string) (*openAPI, error) {
	l := openapi3.NewLoader()
	l.IncludeOrigin = true // for the line and column of a problem
	l.ReadFromURIFunc = openapi3.ReadFromFile
	doc, err := l.LoadFromFile(file)
	if err != nil {
		return nil, openAPIDocumentError(file, err)
	}
	if err := doc.Validate(l.Context); err != nil {
		return nil, openAPIDocumentError(file, err)
	}
	docOpts := doc.GetSchemaValidationOptions()
	a := &openAPI{
		root: &pathpattern.Node{},
		filter: &openapi3filter.Options{
			// Defaults would be written into the request, which the
			// gateway forwards as the client sent it.
			SkipSettingDefaults: true,
			// Authentication is the chain's first step, not the document's.
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: docOpts,
		},
		visit: append(slices.Clip(docOpts), openapi3.VisitAsRequest()),
	}
	var s31 *schemas31
	if doc.IsOpenAPI31OrLater() {
		if s31, err = newSchemas31(file); err != nil {
			return nil, err
		}
		a.visit = append(a.visit, openapi3.EnableJSONSchema2020()) // for what s31 leaves
	}
	a.bases = basePaths(doc.Servers)
	// Servers are matched by path only: the route decides the host.
	doc.Servers = nil
	for _, tmpl := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(tmpl)
		pi := &pathItem{ops: map[string]*operation{}}
		for method, op := range item.Operations() {
			o := newOperation(a, doc, tmpl, item, method, op)
			if s31 != nil && o.body != nil {
				if o.schemas, err = s31.body(tmpl, method, o.body); err != nil {
					return nil, err
				}
			}
			pi.ops[method] = o
		}
		pi.allow = allowHeader(pi.ops)
		node, err := a.root.CreateNode(tmpl, &pathpattern.Options{})
		if err != nil {
			return nil, locate(file, "/paths/"+escapeToken(tmpl), err.Error())
		}
		if node.Value != nil {
			return nil, locate(file, "/paths/"+escapeToken(tmpl), "path template "+tmpl+" matches the same paths as another")
		}
		node.Value = pi
	}
	return a, nil
}

// newOperation prepares an operation: its parameters merged as
// openapi3filter.ValidateRequest merges them, once instead of per request.
func newOperation(a *openAPI, doc *openapi3.T, tmpl string, item *openapi3.PathItem, method string, op *openapi3.Operation) *operation {
	o := &operation{
		api:   a,
		name:  method + " " + tmpl,
		route: routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op},
	}
	for _, p := range item.Parameters {
		if op.Parameters.GetByInAndName(p.Value.In, p.Value.Name) == nil {
			o.params = append(o.params, p.Value)
		}
	}
	for _, p := range op.Parameters {
		o.params = append(o.params, p.Value)
	}
	if op.RequestBody != nil {
		o.body = op.RequestBody.Value
	}
	return o
}

// basePaths lists the path part of each server URL (variables at their
// defaults), longest first so that /v1/admin wins over /v1, then "": a
// gateway that strips the prefix sends the paths as the document writes them.
func basePaths(servers openapi3.Servers) []string {
	var bases []string
	for _, s := range servers {
		bp, err := s.BasePath()
		if err != nil {
			continue // a relative URL without a path: nothing to strip
		}
		if bp = strings.TrimSuffix(bp, "/"); bp != "" && !slices.Contains(bases, bp) {
			bases = append(bases, bp)
		}
	}
	slices.SortStableFunc(bases, func(x, y string) int { return len(y) - len(x) })
	return append(bases, "")
}

// allowHeader lists an item's methods for a 405, HEAD with GET.
func allowHeader(ops map[string]*operation) string {
	methods := make([]string, 0, len(ops)+1)
	for m := range ops {
		methods = append(methods, m)
	}
	if ops[http.MethodGet] != nil && ops[http.MethodHead] == nil {
		methods = append(methods, http.MethodHead)
	}
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

// find returns the operation that method and path (escaped, as the upstream
// sees it) match, with the values of its path parameters (decoded).
func (a *openAPI) find(method, path string) (*operation, map[string]string, *httperr.Error) {
	p := path
	if strings.IndexByte(p, '%') >= 0 {
		// The gateway has refused encoded slashes, so decoding cannot move
		// a segment boundary.
		var err error
		if p, err = url.PathUnescape(p); err != nil {
			return nil, nil, invalid("path: malformed percent-encoding", nil)
		}
	}
	for _, base := range a.bases {
		rest, ok := strings.CutPrefix(p, base)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		node, values := a.root.Match(rest)
		if node == nil {
			continue
		}
		item := node.Value.(*pathItem)
		op := item.ops[method]
		if op == nil && method == http.MethodHead {
			op = item.ops[http.MethodGet]
		}
		if op == nil {
			e := httperr.New(http.StatusMethodNotAllowed, httperr.DecisionMethodNotAllowed,
				"method "+capString(method, maxEcho)+" is not declared for this path by the API's OpenAPI document", nil)
			e.Header = http.Header{"Allow": {item.allow}}
			return nil, nil, e
		}
		var params map[string]string
		if len(values) > 0 {
			params = make(map[string]string, len(values))
			for i, name := range node.VariableNames {
				params[name] = values[i]
			}
		}
		return op, params, nil
	}
	return nil, nil, httperr.New(http.StatusNotFound, httperr.DecisionNotFound,
		"path "+quote(path)+" is not declared by the API's OpenAPI document", nil)
}

// checkParams checks the operation's path, query, header and cookie
// parameters with openapi3filter.
func (o *operation) checkParams(r *http.Request, pathParams map[string]string) *httperr.Error {
	if len(o.params) == 0 {
		return nil
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, Route: &o.route, Options: o.api.filter}
	for _, p := range o.params {
		if err := openapi3filter.ValidateParameter(r.Context(), in, p); err != nil {
			return invalid(paramMessage(p, err), o)
		}
	}
	return nil
}

// checkBodyPresent refuses a missing required body, and a body the
// operation does not take: it could reach the upstream unchecked.
func (o *operation) checkBodyPresent(present bool) *httperr.Error {
	switch {
	case present && o.body == nil:
		return invalid("body: "+o.name+" takes no request body", o)
	case !present && o.body != nil && o.body.Required:
		return invalid("body: required", o)
	}
	return nil
}

// media returns the operation's entry for the request's Content-Type (nil
// when it takes no body or declares no content), or refuses the type (415).
func (o *operation) media(contentType string) (*openapi3.MediaType, *httperr.Error) {
	if o.body == nil || len(o.body.Content) == 0 {
		return nil, nil
	}
	mt, _ := parseMediaType(contentType)
	if m := o.body.Content.Get(mt); m != nil {
		return m, nil
	}
	keys := make([]string, 0, len(o.body.Content))
	for k := range o.body.Content {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	msg := "content type " + quote(mt) + " is not accepted by " + o.name
	if mt == "" {
		msg = "a request body needs a Content-Type"
	}
	return nil, unsupported(msg, strings.Join(keys, ", "))
}

// checkOtherBody checks a body that is not JSON against the operation's
// schema with openapi3filter, which decodes forms, multipart, text and
// YAML; types it cannot decode are checked for their content type only.
func (o *operation) checkOtherBody(r *http.Request, body []byte) *httperr.Error {
	mt, _ := parseMediaType(r.Header.Get("Content-Type"))
	if openapi3filter.RegisteredBodyDecoder(mt) == nil {
		return nil
	}
	// A copy, so that the request keeps its body for the upstream.
	rc := *r
	rc.Body = io.NopCloser(bytes.NewReader(body))
	rc.GetBody = nil
	rc.ContentLength = int64(len(body))
	in := &openapi3filter.RequestValidationInput{Request: &rc, Route: &o.route, Options: o.api.filter}
	if err := openapi3filter.ValidateRequestBody(r.Context(), in, o.body); err != nil {
		return invalid(openAPIBodyMessage(err, nil), o)
	}
	return nil
}

// cause names the operation a refusal was judged against, for the log.
func (o *operation) cause() error {
	if o == nil {
		return nil
	}
	return errors.New("OpenAPI operation " + o.name)
}

// paramMessage says which parameter failed and why, e.g.
// `query parameter "limit": must be an integer`.
func paramMessage(p *openapi3.Parameter, err error) string {
	field := p.In + " parameter " + quote(p.Name)
	var re *openapi3filter.RequestError
	if errors.As(err, &re) && re.Err != nil {
		err = re.Err
	}
	var pe *openapi3filter.ParseError
	var se *openapi3.SchemaError
	switch {
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		return field + ": required"
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		return field + ": must not be empty"
	case errors.As(err, &pe):
		return field + ": " + parseReason(pe)
	case errors.As(err, &se):
		return fieldPath(field, nil, se.JSONPointer()) + ": " + schemaReason(se)
	}
	return field + ": invalid"
}

// parseReason turns "an invalid integer" into "must be an integer".
func parseReason(pe *openapi3filter.ParseError) string {
	for pe.Reason == "" {
		inner, ok := pe.Cause.(*openapi3filter.ParseError)
		if !ok {
			return "malformed"
		}
		pe = inner
	}
	if typ, ok := strings.CutPrefix(pe.Reason, "an invalid "); ok && typ != "" {
		article := "a "
		if strings.IndexByte("aeiou", typ[0]) >= 0 {
			article = "an "
		}
		return "must be " + article + typ
	}
	return capString(pe.Reason, maxReason)
}

// openAPIBodyMessage says which field of the body failed the operation's
// schema and why; value is the decoded body, when there is one.
func openAPIBodyMessage(err error, value any) string {
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		var pe *openapi3filter.ParseError
		if errors.As(err, &pe) {
			return "body: " + parseReason(pe)
		}
		return "body: does not match the schema"
	}
	return fieldPath("body", value, se.JSONPointer()) + ": " + schemaReason(se)
}

// schemaReason is a SchemaError's reason, which kin-openapi writes without
// the value. For OpenAPI 3.1 it wraps an error of the JSON Schema 2020-12
// validator, whose own reasons may quote the value: those are worded here.
func schemaReason(se *openapi3.SchemaError) string {
	var ve *jsonschema.ValidationError
	if errors.As(se, &ve) {
		return kindMessage(firstLeaf(ve).ErrorKind)
	}
	if se.Reason == "" {
		return "does not match " + quote(se.SchemaField)
	}
	return capString(se.Reason, maxReason)
}

// escapeToken escapes a JSON pointer token (RFC 6901).
func escapeToken(t string) string { return pointerEscaper.Replace(t) }

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
