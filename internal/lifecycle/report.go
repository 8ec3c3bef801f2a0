// Package lifecycle holds the policy lifecycle's judgement of a change: the
// semantic diff between two policies (Diff), and which of its changes weaken
// security (the rules of weakening.go, CONTRACT §4).
package lifecycle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/config"
)

// Kinds of objects a Change is about, beyond the manifest kinds of package
// config (config.KindGateway, config.KindService, …): the listeners and routes
// of the Gateway are diffed as objects of their own.
const (
	KindListener = "Listener"
	KindRoute    = "Route"
)

// What happened to an object.
const (
	OpAdded   = "added"
	OpRemoved = "removed"
	OpChanged = "changed"
)

// Report is what changed between two policies, and which changes weaken
// security.
type Report struct {
	Changes   []Change `json:"changes"`
	Weakening []Change `json:"weakening"` // the changes that weaken security, each with a Reason
}

// Change is one difference between two policies: an object added or removed,
// or one field of an object changed. In Report.Weakening, Field is the field
// the rule judged (it may be the parent of the fields listed in Changes: a
// rate limit is judged as a whole) and Reason says why it weakens security.
type Change struct {
	Kind   string `json:"kind"`            // config.KindGateway, KindRoute, KindListener, config.KindService, …
	Name   string `json:"name"`            // the object's name (a route's or a listener's for those)
	Op     string `json:"op"`              // OpAdded, OpRemoved or OpChanged
	Field  string `json:"field,omitempty"` // dotted path, e.g. "rateLimit.requests", "models.fast", `cases["smoke"].expect.status`
	From   any    `json:"from,omitempty"`  // the value before (nil when unset or added); durations as "1m0s"
	To     any    `json:"to,omitempty"`    // the value after (nil when unset or removed)
	Reason string `json:"reason,omitempty"`
}

// compareChanges orders changes by kind, name, field, op and reason.
func compareChanges(a, b Change) int {
	return cmp.Or(
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Field, b.Field),
		cmp.Compare(a.Op, b.Op),
		cmp.Compare(a.Reason, b.Reason),
	)
}

// Summary describes the report in one line for the CLI:
// `3 changes, 1 weakening: route "orders": rate limit raised from 100 to 1000 per 1m0s`.
// Every weakening change is named, separated by "; ".
func (r Report) Summary() string {
	if len(r.Changes) == 0 && len(r.Weakening) == 0 {
		return "no changes"
	}
	changes := fmt.Sprintf("%d change", len(r.Changes))
	if len(r.Changes) != 1 {
		changes += "s"
	}
	if len(r.Weakening) == 0 {
		return changes + ", no weakening"
	}
	reasons := make([]string, len(r.Weakening))
	for i, w := range r.Weakening {
		reasons[i] = fmt.Sprintf("%s %q: %s", noun(w.Kind), w.Name, w.Reason)
	}
	return fmt.Sprintf("%s, %d weakening: %s", changes, len(r.Weakening), strings.Join(reasons, "; "))
}

// nouns name the kinds of objects in prose.
var nouns = map[string]string{
	config.KindGateway:      "gateway",
	KindListener:            "listener",
	KindRoute:               "route",
	config.KindService:      "service",
	config.KindAuthProvider: "auth provider",
	config.KindConsumer:     "consumer",
	config.KindAIProvider:   "AI provider",
	config.KindPolicyTest:   "policy test",
	config.KindMonitor:      "monitor",
}

// noun names a kind of object in prose: "route", "auth provider".
func noun(kind string) string {
	if n, ok := nouns[kind]; ok {
		return n
	}
	return kind
}

// sortReport puts both lists of a report in their one deterministic order.
func sortReport(r *Report) {
	slices.SortFunc(r.Changes, compareChanges)
	slices.SortFunc(r.Weakening, compareChanges)
}
