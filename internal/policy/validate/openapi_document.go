package validate

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Where kin-openapi's messages say where: a parser's line, a JSON pointer
// into the document, the URI of a $ref it could not resolve.
var (
	msgLine    = regexp.MustCompile(`\bline (\d+)\b`)
	msgPointer = regexp.MustCompile(` in (/\S*)$`)
	msgRef     = regexp.MustCompile(`in URI: "([^"]*)"`)
	// msgYAML is the YAML parser's preamble, redundant once located.
	msgYAML = regexp.MustCompile(`^yaml: (?:construct errors: )?line \d+: `)
)

// openAPIDocumentError places an error of kin-openapi's loader or validator
// in the document: at the origin it recorded for the element when there is
// one, else at the line or pointer its message names, else at the $ref it
// could not resolve, else at the section, path, operation or component its
// error context names.
func openAPIDocumentError(file string, err error) *DocumentError {
	msg := err.Error()
	for _, p := range []string{"failed to unmarshal data: ", "yaml error: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if loc := deepestOrigin(err); loc != nil {
		f := loc.File
		if f == "" {
			f = file
		}
		return &DocumentError{File: f, Line: loc.Line, Column: loc.Column, Message: msg}
	}
	if m := msgPointer.FindStringSubmatch(msg); m != nil {
		return locate(file, m[1], msgYAML.ReplaceAllString(strings.TrimSuffix(msg, m[0]), ""))
	}
	if m := msgLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &DocumentError{File: file, Line: line, Message: msgYAML.ReplaceAllString(msg, "")}
	}
	var match func(ref string) bool
	var dr *openapi3.DisallowedExternalRefError
	switch m := msgRef.FindStringSubmatch(msg); {
	case errors.As(err, &dr):
		match = func(ref string) bool { return ref == dr.Ref }
	case m != nil:
		match = func(ref string) bool { return ref == m[1] }
	case errors.Is(err, openapi3.ErrURINotSupported):
		// The loader does not say which: the first $ref to a URL.
		msg = "$ref to a URL: only local files are loaded"
		match = func(ref string) bool { return strings.Contains(ref, "://") }
	}
	if match != nil {
		de := &DocumentError{File: file, Message: msg}
		if root := readTree(file); root != nil {
			if n := findRef(root, match); n != nil {
				de.Line, de.Column = n.Line, n.Column
			}
		}
		return de
	}
	if ptr := contextPointer(err); ptr != "" {
		return locate(file, ptr, msg)
	}
	return &DocumentError{File: file, Message: msg}
}

var originType = reflect.TypeFor[*openapi3.Origin]()

// deepestOrigin returns the location kin-openapi recorded (with
// Loader.IncludeOrigin) for the innermost error in err's chain that carries
// one in an Origin field.
func deepestOrigin(err error) *openapi3.Location {
	var found *openapi3.Location
	for e := err; e != nil; e = unwrapFirst(e) {
		v := reflect.ValueOf(e)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		f := v.Elem().FieldByName("Origin")
		if !f.IsValid() || f.Type() != originType || f.IsNil() {
			continue
		}
		if o := f.Interface().(*openapi3.Origin); o.Key != nil && o.Key.Line > 0 {
			found = o.Key
		}
	}
	return found
}

// unwrapFirst unwraps one level, taking the first of several errors.
func unwrapFirst(err error) error {
	switch e := err.(type) {
	case openapi3.MultiError:
		if len(e) > 0 {
			return e[0]
		}
		return nil
	case interface{ Unwrap() []error }:
		if errs := e.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
	return errors.Unwrap(err)
}

// componentKeys maps the sections ComponentValidationError names to the
// keys of the components object.
var componentKeys = map[string]string{
	"schema":          "schemas",
	"parameter":       "parameters",
	"header":          "headers",
	"request body":    "requestBodies",
	"response":        "responses",
	"security scheme": "securitySchemes",
	"example":         "examples",
	"link":            "links",
	"callback":        "callbacks",
}

// contextPointer builds the JSON pointer that kin-openapi's error context
// wrappers describe, as deep as they go.
func contextPointer(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = unwrapFirst(e) {
		switch c := e.(type) {
		case *openapi3.SectionValidationError:
			b.WriteString("/" + escapeToken(c.Section))
		case *openapi3.PathValidationError:
			b.WriteString("/" + escapeToken(c.Path))
		case *openapi3.OperationValidationError:
			b.WriteString("/" + strings.ToLower(c.Method))
		case *openapi3.WebhookValidationError:
			b.WriteString("/" + escapeToken(c.Name))
		case *openapi3.ComponentValidationError:
			if key, ok := componentKeys[c.Section]; ok {
				b.WriteString("/" + key + "/" + escapeToken(c.Name))
			}
		}
	}
	return b.String()
}
