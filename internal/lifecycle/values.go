package lifecycle

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// redacted stands for the value of a sensitive field in a Change.
const redacted = "[redacted]"

// The denylist of names whose values never appear in a Change, compared in
// lowercase without "-" and "_": fields that would hold a secret, and map keys
// that name a credential (PolicyTest requests may send one in a header). The
// policy holds no secret today (only the names of environment variables, like
// apiKeyEnv and secretEnv, and key hashes); add a name here when one appears.
var (
	sensitiveSuffixes = []string{"secret", "password", "token", "privatekey"}                          // of field names and map keys
	sensitiveFields   = []string{"apikey"}                                                             // field names
	sensitiveKeys     = []string{"authorization", "proxyauthorization", "cookie", "apikey", "xapikey"} // map keys (header names)
)

// isSensitiveField reports whether a field of that yaml name holds a secret.
func isSensitiveField(name string) bool { return sensitive(name, sensitiveFields) }

// isSensitiveKey reports whether a map entry with that key holds a secret.
func isSensitiveKey(key string) bool { return sensitive(key, sensitiveKeys) }

// sensitive reports whether name is one of names or ends with a sensitive
// suffix.
func sensitive(name string, names []string) bool {
	n := strings.ToLower(separators.Replace(name))
	if slices.Contains(names, n) {
		return true
	}
	return slices.ContainsFunc(sensitiveSuffixes, func(s string) bool { return strings.HasSuffix(n, s) })
}

// separators are dropped before names are compared: api_key, api-key and apiKey alike.
var separators = strings.NewReplacer("-", "", "_", "")

var (
	durationType = reflect.TypeFor[config.Duration]()
	dateType     = reflect.TypeFor[config.Date]()
)

// atomic reports whether values of type t are compared and shown whole.
func atomic(t reflect.Type) bool { return t == durationType || t == dateType }

// field is a struct field the diff knows by its yaml name.
type field struct {
	name  string
	index []int
}

// fieldsOf lists the fields of struct type t by their yaml names, in order. An
// embedded struct without a yaml name (or with ",inline") contributes its own
// fields; fields without a yaml name, or named "-", are left out.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for _, sub := range fieldsOf(f.Type) {
				fs = append(fs, field{sub.name, append([]int{i}, sub.index...)})
			}
		case name != "" && name != "-":
			fs = append(fs, field{name, []int{i}})
		}
	}
	return fs
}

// unwrap returns the value an interface holds (invalid for a nil one).
func unwrap(v reflect.Value) reflect.Value {
	for v.IsValid() && v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	return v
}

// mapIndex lists the entries of a map by key; an invalid or nil map has none.
func mapIndex(v reflect.Value) map[string]reflect.Value {
	m := map[string]reflect.Value{}
	if v.IsValid() && v.Kind() == reflect.Map {
		for it := v.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value()
		}
	}
	return m
}

// itemKey is the field of struct type t (or of the struct t points to) that
// names its items in a list: name, else id; nil when it has neither.
func itemKey(t reflect.Type) []int {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var id []int
	for _, f := range fieldsOf(t) {
		switch f.name {
		case "name":
			return f.index
		case "id":
			id = f.index
		}
	}
	return id
}

// itemsByName lists the items of a list of structs by their name (or id) field,
// so that lists like a PolicyTest's cases or a Consumer's apiKeys are compared
// item by item. It fails for other lists, and when a name is empty or repeated.
func itemsByName(v reflect.Value) (map[string]reflect.Value, bool) {
	key := itemKey(v.Type().Elem())
	if key == nil {
		return nil, false
	}
	items := map[string]reflect.Value{}
	for i := range v.Len() {
		item := v.Index(i)
		if item.Kind() == reflect.Pointer {
			if item.IsNil() {
				return nil, false
			}
			item = item.Elem()
		}
		name := item.FieldByIndex(key).String()
		if _, dup := items[name]; dup || name == "" {
			return nil, false
		}
		items[name] = item
	}
	return items, true
}

// fieldPath is the path of a struct field of parent: "rateLimit.requests".
func fieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath is the path of a map entry of parent, written as package config
// writes it in problems: "models.fast", or `detectors["scan.paths"]`.
func keyPath(parent, key string) string {
	if plainKey.MatchString(key) {
		return fieldPath(parent, key)
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

// itemPath is the path of a named list item of parent: `cases["smoke"]`.
func itemPath(parent, name string) string { return parent + "[" + strconv.Quote(name) + "]" }

// lookup finds the value at a dotted path of struct fields below v, through
// pointers; it is invalid when a pointer on the way is nil.
func lookup(v reflect.Value, path string) reflect.Value {
	for name := range strings.SplitSeq(path, ".") {
		for v.IsValid() && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
		if !v.IsValid() || v.Kind() != reflect.Struct {
			return reflect.Value{}
		}
		found := false
		for _, f := range fieldsOf(v.Type()) {
			if f.name == name {
				v, found = v.FieldByIndex(f.index), true
				break
			}
		}
		if !found {
			return reflect.Value{}
		}
	}
	return v
}

// plain is a value as a Change shows it, ready for JSON: structs become maps by
// yaml name without their zero fields, durations strings like "1m0s", dates
// "2027-03-01"; what is unset (nil pointers, empty strings, lists and maps, zero
// numbers and durations, but not false) is nil. A secret value is shown as
// "[redacted]", and so is every sensitive field or map key inside.
func plain(v reflect.Value, secret bool) any {
	v = unwrap(v)
	switch {
	case !v.IsValid() || v.IsZero() && v.Kind() != reflect.Bool && v.Kind() != reflect.Struct:
		return nil // unset: a nil pointer, an empty string, a zero number or duration
	case secret:
		return redacted
	}
	switch v.Type() {
	case durationType:
		return v.Interface().(config.Duration).D().String()
	case dateType:
		if d := v.Interface().(config.Date); !d.IsZero() {
			return d.Format(time.DateOnly)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		return plain(v.Elem(), false)
	case reflect.Struct:
		return plainStruct(v, nil)
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		items := make([]any, v.Len())
		for i := range items {
			items[i] = plain(v.Index(i), false)
		}
		return items
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		m := map[string]any{}
		for k, val := range mapIndex(v) {
			m[k] = plain(val, isSensitiveKey(k))
		}
		return m
	}
	return v.Interface()
}

// plainStruct is a struct as a Change shows it: a map of its non-zero fields by
// yaml name, except those in skip.
func plainStruct(v reflect.Value, skip map[string]bool) map[string]any {
	m := map[string]any{}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if skip[f.name] || fv.IsZero() {
			continue
		}
		m[f.name] = plain(fv, isSensitiveField(f.name))
	}
	return m
}
