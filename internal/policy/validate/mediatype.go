package validate

import (
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/httperr"
)

// checkContentType refuses (415) a body whose Content-Type the route does not
// allow. Two Content-Type headers are refused (400) rather than guessed at:
// the upstream might read the other one.
func (v *Validator) checkContentType(r *http.Request) *httperr.Error {
	values := r.Header["Content-Type"]
	if len(values) > 1 {
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "more than one Content-Type header", nil)
	}
	if len(v.types) == 0 && v.schema == nil {
		return nil // any type, or none
	}
	if len(values) == 0 || values[0] == "" {
		return unsupported("a request body needs a Content-Type", v.allowed())
	}
	mt, ok := parseMediaType(values[0])
	if !ok {
		return unsupported("malformed Content-Type "+quote(values[0]), v.allowed())
	}
	if len(v.types) == 0 {
		// The JSON Schema describes JSON bodies: a body of another type would
		// reach the upstream unchecked.
		if isJSON(mt) {
			return nil
		}
	}
	for _, t := range v.types {
		if mediaMatches(t, mt) {
			return nil
		}
	}
	return unsupported("content type "+quote(mt)+" is not allowed", v.allowed())
}

// allowed lists the types a body may have, for the 415's message.
func (v *Validator) allowed() string {
	if len(v.types) == 0 {
		return "application/json or a +json type"
	}
	return strings.Join(v.types, ", ")
}

// unsupported is a 415 that says what would have been accepted.
func unsupported(msg, allowed string) *httperr.Error {
	return httperr.New(http.StatusUnsupportedMediaType, httperr.DecisionInvalid,
		msg+" (allowed: "+allowed+")", nil)
}

// parseMediaType returns the type/subtype of a Content-Type value, in lower
// case and without parameters, and whether it is well-formed.
func parseMediaType(s string) (string, bool) {
	base, _, _ := strings.Cut(s, ";")
	base = strings.TrimSpace(base)
	typ, sub, ok := strings.Cut(base, "/")
	if !ok || !isToken(typ) || !isToken(sub) {
		return "", false
	}
	return strings.ToLower(base), true // ToLower does not allocate for lower-case input
}

// mediaMatches reports whether the allowed type (maybe "type/*" or "*/*")
// covers mt; both are lower case.
func mediaMatches(allowed, mt string) bool {
	if allowed == mt || allowed == "*/*" {
		return true
	}
	typ, ok := strings.CutSuffix(allowed, "/*")
	return ok && len(mt) > len(typ) && mt[len(typ)] == '/' && mt[:len(typ)] == typ
}

// isJSON reports whether the (lower-case) media type is JSON: application/json
// or any type with the +json structured syntax suffix (RFC 6839).
func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
