package lifecycle

import (
	"fmt"
	"reflect"
	"strings"
)

// rule is one weakening rule: it judges one field of one kind of object across
// two versions. The rules themselves are the table in weakening.go.
type rule struct {
	kind  string                    // the kind of object judged
	field string                    // the field judged, as in Change.Field
	judge func(was, now any) string // why the change weakens security, or ""; was or now is nil for an added or removed object
	show  func(v any) any           // what From and To show of an object's version (non-nil)
}

// onChange makes a rule judged when an object is in both versions: judge gets
// its two versions (a *T each, of the type objectsOf gives that kind) and says
// why the change weakens security, or "".
func onChange[T any](kind, field string, judge func(was, now *T) string) rule {
	r := onAny(kind, field, judge)
	both := r.judge
	r.judge = func(was, now any) string {
		if was == nil || now == nil {
			return ""
		}
		return both(was, now)
	}
	return r
}

// onAny is onChange for a rule that also judges an added object (was is nil)
// or a removed one (now is nil).
func onAny[T any](kind, field string, judge func(was, now *T) string) rule {
	as := func(v any) *T {
		if v == nil {
			return nil
		}
		t, ok := v.(*T)
		if !ok {
			panic(fmt.Sprintf("lifecycle: the rule for %s %s judges %T, but that kind is a %T", kind, field, t, v))
		}
		return t
	}
	secret := false
	for name := range strings.SplitSeq(field, ".") {
		secret = secret || isSensitiveField(name)
	}
	return rule{
		kind:  kind,
		field: field,
		judge: func(was, now any) string { return judge(as(was), as(now)) },
		show:  func(v any) any { return plain(lookup(reflect.ValueOf(as(v)), field), secret) },
	}
}

// shown makes From and To of a rule's changes show show(version) instead of the
// value of the rule's field, for a rule that judges more than one field.
func shown[T any](r rule, show func(*T) any) rule {
	r.show = func(v any) any { return show(v.(*T)) } // judge has checked the type
	return r
}

// weakening judges every pair of object versions with every rule of its kind.
func weakening(before, after map[key]object) []Change {
	var out []Change
	for _, k := range unionKeys(before, after) {
		was, inOld := before[k]
		now, inNew := after[k]
		var a, b any
		c := Change{Kind: k.kind, Op: OpChanged}
		switch {
		case !inOld:
			b, c.Name, c.Op = now.value, now.name, OpAdded
		case !inNew:
			a, c.Name, c.Op = was.value, was.name, OpRemoved
		default:
			a, b, c.Name = was.value, now.value, now.name
		}
		for _, r := range rules {
			if r.kind != k.kind {
				continue
			}
			if c.Reason = r.judge(a, b); c.Reason == "" {
				continue
			}
			c.Field, c.From, c.To = r.field, nil, nil
			if a != nil {
				c.From = r.show(a)
			}
			if b != nil {
				c.To = r.show(b)
			}
			out = append(out, c)
		}
	}
	return out
}
