package validate

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer renders the library's messages for the kinds described generically.
var printer = message.NewPrinter(language.English)

// CheckJSONSchema compiles the JSON Schema document at path, as New does, and
// returns nil or a *DocumentError that says where the problem is.
func CheckJSONSchema(path string) error {
	_, err := compileJSONSchema(path)
	return err
}

// compileJSONSchema loads and compiles a JSON Schema document (draft 2020-12
// unless it names another). Its $refs may name local files (YAML or JSON),
// never URLs. Formats are asserted: a request contract that says "email"
// means it.
func compileJSONSchema(path string) (*jsonschema.Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &DocumentError{File: path, Message: err.Error()}
	}
	doc, err := loadJSONValue(abs)
	if err != nil {
		return nil, relativeTo(path, abs, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(localLoader{})
	if err := c.AddResource(abs, doc); err != nil {
		return nil, &DocumentError{File: path, Message: err.Error()}
	}
	s, err := c.Compile(abs)
	if err != nil {
		return nil, relativeTo(path, abs, schemaDocumentError(abs, err))
	}
	return s, nil
}

// relativeTo names the files of a compile error as the caller named the
// document: path for abs, and paths beside it for the files its $refs name.
func relativeTo(path, abs string, err error) error {
	var de *DocumentError
	if !errors.As(err, &de) {
		return err
	}
	if rel, rerr := filepath.Rel(filepath.Dir(abs), de.File); rerr == nil {
		de.File = filepath.Join(filepath.Dir(path), rel)
	}
	return err
}

// localLoader loads the documents a schema's $refs name: local files only.
type localLoader struct{}

func (localLoader) Load(url string) (any, error) {
	file, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, errors.New("only local files are loaded")
	}
	return loadJSONValue(file)
}

// schemaDocumentError places a compile error in its document.
func schemaDocumentError(file string, err error) error {
	var de *DocumentError
	if errors.As(err, &de) {
		return de // a referenced document that does not parse
	}
	var (
		url, msg string
		ref      bool // url is what a $ref names, not where the problem is
	)
	switch e := err.(type) {
	case *jsonschema.SchemaValidationError:
		url, msg = e.URL, "not a valid schema: "+err.Error()
		var ve *jsonschema.ValidationError
		if errors.As(e.Err, &ve) {
			leaf := firstLeaf(ve)
			base, frag, _ := strings.Cut(e.URL, "#")
			url = base + "#" + frag + jsonPointer(leaf.InstanceLocation)
			msg = "not a valid schema: " + leaf.ErrorKind.LocalizedString(printer)
		}
	case *jsonschema.InvalidRegexError:
		url, msg = e.URL, fmt.Sprintf("invalid regular expression %q: %v", e.Regex, e.Err)
	case *jsonschema.JSONPointerNotFoundError:
		url, msg, ref = e.URL, "$ref names "+refTarget(e.URL)+", which does not exist", true
	case *jsonschema.AnchorNotFoundError:
		url, msg, ref = e.URL, fmt.Sprintf("$ref names anchor %q, which does not exist", e.Reference), true
	case *jsonschema.LoadURLError:
		url, msg, ref = e.URL, fmt.Sprintf("$ref %s: %v", refTarget(e.URL), e.Err), true
	case *jsonschema.DuplicateIDError:
		url, msg = e.URL+"#"+e.Ptr2, fmt.Sprintf("$id %q is also used at %s", e.ID, e.Ptr1)
	case *jsonschema.DuplicateAnchorError:
		url, msg = e.URL+"#"+e.Ptr2, fmt.Sprintf("anchor %q is also used at %s", e.Anchor, e.Ptr1)
	default:
		return &DocumentError{File: file, Message: err.Error()}
	}
	if ref {
		return locateRef(file, url, msg)
	}
	return locateURL(file, url, msg)
}

// refTarget shortens a $ref's resolved URL to near what the document wrote:
// a local file's base name, with the fragment.
func refTarget(url string) string {
	if !strings.HasPrefix(url, "file://") {
		return url
	}
	u, frag, _ := strings.Cut(url, "#")
	if frag != "" {
		return filepath.Base(u) + "#" + frag
	}
	return filepath.Base(u)
}

// schemaMessage says which field of body failed its JSON Schema and why.
func schemaMessage(err error, body any) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "body: does not match the schema"
	}
	leaf := firstLeaf(ve)
	return fieldPath("body", body, leaf.InstanceLocation) + ": " + kindMessage(leaf.ErrorKind)
}

// firstLeaf is the most specific error of a validation, chosen the same way
// every time (the library visits object properties in map order): the leaf
// whose instance location comes first.
func firstLeaf(ve *jsonschema.ValidationError) *jsonschema.ValidationError {
	var best *jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if best == nil || leafOrder(e, best) < 0 {
				best = e
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return best
}

// leafOrder orders errors by instance location (array indexes as numbers),
// then by the schema keyword that failed.
func leafOrder(a, b *jsonschema.ValidationError) int {
	n := min(len(a.InstanceLocation), len(b.InstanceLocation))
	for i := range n {
		x, y := a.InstanceLocation[i], b.InstanceLocation[i]
		if c := cmp.Compare(len(x), len(y)); c != 0 && isDigits(x) && isDigits(y) {
			return c
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(len(a.InstanceLocation), len(b.InstanceLocation)); c != 0 {
		return c
	}
	return cmp.Compare(a.SchemaURL+jsonPointer(a.ErrorKind.KeywordPath()), b.SchemaURL+jsonPointer(b.ErrorKind.KeywordPath()))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// kindMessage says why a value failed, in words that never repeat more than
// maxEcho bytes of it: the library's own messages quote the value for some
// keywords (pattern, format, enum, const, additionalProperties).
func kindMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return "must be " + strings.Join(k.Want, " or ") + ", not " + k.Got
	case *kind.Required:
		return "missing required property " + quote(k.Missing[0])
	case *kind.AdditionalProperties:
		return "property " + quote(slices.Min(k.Properties)) + " is not allowed"
	case *kind.PropertyNames:
		return "property name " + quote(k.Property) + " is not allowed"
	case *kind.Pattern:
		return "must match the pattern " + strconv.Quote(capString(k.Want, maxReason))
	case *kind.Format:
		return "must be a valid " + k.Want
	case *kind.Enum:
		return "must be one of " + capString(jsonText(k.Want), maxReason)
	case *kind.Const:
		return "must be " + capString(jsonText(k.Want), maxReason)
	case *kind.Minimum:
		return "must be >= " + ratText(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratText(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratText(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratText(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratText(k.Want)
	case *kind.MinLength:
		return "must be at least " + strconv.Itoa(k.Want) + " characters long"
	case *kind.MaxLength:
		return "must be at most " + strconv.Itoa(k.Want) + " characters long"
	case *kind.MinItems:
		return "must have at least " + strconv.Itoa(k.Want) + " items"
	case *kind.MaxItems:
		return "must have at most " + strconv.Itoa(k.Want) + " items"
	case *kind.MinProperties:
		return "must have at least " + strconv.Itoa(k.Want) + " properties"
	case *kind.MaxProperties:
		return "must have at most " + strconv.Itoa(k.Want) + " properties"
	case *kind.FalseSchema:
		return "is not allowed"
	}
	return capString(k.LocalizedString(printer), maxReason)
}

// jsonText renders a schema's value (an enum's or a const's) as JSON.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ratText renders a schema's bound as a decimal.
func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// jsonPointer joins pointer tokens, escaped (RFC 6901).
func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}
