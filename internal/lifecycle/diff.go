package lifecycle

import (
	"cmp"
	"maps"
	"reflect"
	"slices"

	"github.com/portcullis/portcullis/internal/config"
)

// Diff compares two validated policies (defaults filled in); old is nil for the
// first version, when every object is added. Objects are matched by kind and
// name (routes and listeners by their names; the Gateway and the Monitor, of
// which a policy has one, by kind alone) and compared field by field through
// their yaml tags, so a field added to package config is diffed without a change
// here. A route also has a "listeners" field: the listeners that serve it.
// The weakening rules of weakening.go then judge each pair of objects; for the
// first version that flags every route without authentication. Both lists are
// sorted by kind, name and field; neither is nil.
//
// A route is known by its name only: an unnamed route's default name is its
// place in a list (route-LISTENER-INDEX), so inserting a route before it shows
// as a change of every route after it. Name the routes.
func Diff(old, new *config.Policy) Report {
	before, after := objectsOf(old), objectsOf(new)
	r := Report{Changes: []Change{}, Weakening: []Change{}}
	for _, k := range unionKeys(before, after) {
		was, inOld := before[k]
		now, inNew := after[k]
		switch {
		case !inOld:
			r.Changes = append(r.Changes, Change{Kind: now.kind, Name: now.name, Op: OpAdded, To: now.plain()})
		case !inNew:
			r.Changes = append(r.Changes, Change{Kind: was.kind, Name: was.name, Op: OpRemoved, From: was.plain()})
		default:
			r.Changes = append(r.Changes, diffObjects(was, now)...)
		}
	}
	r.Weakening = append(r.Weakening, weakening(before, after)...)
	sortReport(&r)
	return r
}

// key identifies an object across versions: its kind and name, or its kind
// alone for the Gateway and the Monitor.
type key struct{ kind, name string }

// object is one thing the diff compares: a document's spec, a listener or a
// route.
type object struct {
	kind, name string
	value      any             // a pointer to the struct compared field by field: *config.ServiceSpec, *routeView, …
	skip       map[string]bool // yaml names of top-level fields not compared (identity, or objects of their own)
}

// plain is the object's value as it is shown in a Change.
func (o object) plain() any { return plainStruct(reflect.ValueOf(o.value).Elem(), o.skip) }

// routeView is a route as the diff sees it: its fields and the listeners that
// serve it (every listener for a route written at spec level).
type routeView struct {
	config.Route `yaml:",inline"`
	Listeners    []string `yaml:"listeners"` // sorted

	plainHTTP []string // those of Listeners that serve plain HTTP
}

// Fields not compared, by kind of object.
var (
	skipName     = map[string]bool{"name": true}
	skipListener = map[string]bool{"name": true, "routes": true}
	skipGateway  = map[string]bool{"listeners": true, "routes": true}
)

// objectsOf lists the objects of a policy by key; nil has none.
func objectsOf(p *config.Policy) map[key]object {
	objs := map[key]object{}
	if p == nil {
		return objs
	}
	add := func(kind, name string, value any, skip map[string]bool) {
		k := key{kind, name}
		if kind == config.KindGateway || kind == config.KindMonitor {
			k.name = ""
		}
		objs[k] = object{kind, name, value, skip}
	}
	if g := p.Gateway; g != nil {
		add(config.KindGateway, g.Metadata.Name, &g.Spec, skipGateway)
		for _, r := range routesOf(&g.Spec) {
			add(KindRoute, r.Name, r, skipName)
		}
		for i := range g.Spec.Listeners {
			l := &g.Spec.Listeners[i]
			add(KindListener, l.Name, l, skipListener)
		}
	}
	for _, s := range p.Services {
		add(config.KindService, s.Metadata.Name, &s.Spec, nil)
	}
	for _, a := range p.AuthProviders {
		add(config.KindAuthProvider, a.Metadata.Name, &a.Spec, nil)
	}
	for _, c := range p.Consumers {
		add(config.KindConsumer, c.Metadata.Name, &c.Spec, nil)
	}
	for _, a := range p.AIProviders {
		add(config.KindAIProvider, a.Metadata.Name, &a.Spec, nil)
	}
	for _, t := range p.PolicyTests {
		add(config.KindPolicyTest, t.Metadata.Name, &t.Spec, nil)
	}
	if m := p.Monitor; m != nil {
		add(config.KindMonitor, m.Metadata.Name, &m.Spec, nil)
	}
	return objs
}

// routesOf lists the routes of a Gateway with the listeners that serve them.
func routesOf(s *config.GatewaySpec) []*routeView {
	var all, cleartext []string
	for _, l := range s.Listeners {
		all = append(all, l.Name)
		if l.Protocol != "HTTPS" {
			cleartext = append(cleartext, l.Name)
		}
	}
	slices.Sort(all)
	slices.Sort(cleartext)
	var views []*routeView
	for _, l := range s.Listeners {
		var own []string
		if l.Protocol != "HTTPS" {
			own = []string{l.Name}
		}
		for _, r := range l.Routes {
			views = append(views, &routeView{Route: r, Listeners: []string{l.Name}, plainHTTP: own})
		}
	}
	for _, r := range s.Routes {
		views = append(views, &routeView{Route: r, Listeners: all, plainHTTP: cleartext})
	}
	return views
}

// unionKeys lists the keys of both maps, sorted.
func unionKeys(a, b map[key]object) []key {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y key) int { return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.name, y.name)) })
	return keys
}

// diffObjects lists the fields that differ between two versions of an object,
// and a rename of the Gateway or the Monitor.
func diffObjects(was, now object) []Change {
	d := differ{kind: now.kind, name: now.name}
	if was.name != now.name {
		d.changes = append(d.changes, Change{Kind: now.kind, Name: now.name, Op: OpChanged, Field: "metadata.name", From: was.name, To: now.name})
	}
	d.fields("", reflect.ValueOf(was.value).Elem(), reflect.ValueOf(now.value).Elem(), now.skip, false)
	return d.changes
}

// differ collects the changed fields of one object.
type differ struct {
	kind, name string
	changes    []Change
}

// walk compares two values of one field, at path. Either may be invalid (a map
// entry or a list item that one version lacks). Structs, maps and lists of
// named items are compared member by member; anything else as a whole. secret
// says the field or one of its parents has a sensitive name.
func (d *differ) walk(path string, a, b reflect.Value, secret bool) {
	a, b = unwrap(a), unwrap(b)
	if !a.IsValid() || !b.IsValid() || a.Type() != b.Type() || atomic(a.Type()) {
		d.leaf(path, a, b, secret)
		return
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			d.leaf(path, a, b, secret)
			return
		}
		d.walk(path, a.Elem(), b.Elem(), secret)
	case reflect.Struct:
		d.fields(path, a, b, nil, secret)
	case reflect.Map:
		keys := slices.Collect(maps.Keys(mapIndex(a)))
		for k := range mapIndex(b) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			d.walk(keyPath(path, k), mapIndex(a)[k], mapIndex(b)[k], secret || isSensitiveKey(k))
		}
	case reflect.Slice:
		ia, oka := itemsByName(a)
		ib, okb := itemsByName(b)
		if !oka || !okb {
			d.leaf(path, a, b, secret)
			return
		}
		names := slices.Collect(maps.Keys(ia))
		for n := range ib {
			if _, ok := ia[n]; !ok {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			d.walk(itemPath(path, n), ia[n], ib[n], secret)
		}
	default:
		d.leaf(path, a, b, secret)
	}
}

// fields compares the fields of two structs of one type, except those in skip.
func (d *differ) fields(path string, a, b reflect.Value, skip map[string]bool, secret bool) {
	for _, f := range fieldsOf(a.Type()) {
		if skip[f.name] {
			continue
		}
		d.walk(fieldPath(path, f.name), a.FieldByIndex(f.index), b.FieldByIndex(f.index), secret || isSensitiveField(f.name))
	}
}

// leaf records a change when two values differ as shown.
func (d *differ) leaf(path string, a, b reflect.Value, secret bool) {
	if reflect.DeepEqual(plain(a, false), plain(b, false)) {
		return
	}
	d.changes = append(d.changes, Change{Kind: d.kind, Name: d.name, Op: OpChanged, Field: path, From: plain(a, secret), To: plain(b, secret)})
}
