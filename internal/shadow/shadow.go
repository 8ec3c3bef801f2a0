// Package shadow evaluates a candidate policy beside the active one on live
// traffic: every request is decided by both, only the active decision is
// enforced, and where the two differ it is counted by route, method and the
// pair of decisions. The candidate never calls an upstream (a decision is
// reached before any forwarding), so nothing is sent twice.
package shadow

import (
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
)

// Run is one candidate under evaluation.
type Run struct {
	Snap  *snapshot.Snapshot
	Files []store.File
	Hash  string // identifies the candidate: SHA-256 of its files
	Since time.Time

	requests atomic.Int64
	mu       sync.Mutex
	diffs    map[Difference]int64
}

// Difference is one kind of disagreement between the active policy and the candidate.
type Difference struct {
	Route     string `json:"route"`
	Method    string `json:"method"`
	Active    string `json:"active"`
	Candidate string `json:"candidate"`
}

// Count is a Difference and how often it happened.
type Count struct {
	Difference
	Count int64 `json:"count"`
}

// Report is the state of a run (CONTRACT §4).
type Report struct {
	Hash        string    `json:"hash"`
	Since       time.Time `json:"since"`
	Requests    int64     `json:"requests"`
	Differences []Count   `json:"differences"`
}

// NewRun starts evaluating snap, compiled from files.
func NewRun(snap *snapshot.Snapshot, files []store.File, hash string) *Run {
	return &Run{Snap: snap, Files: files, Hash: hash, Since: time.Now().UTC(), diffs: map[Difference]int64{}}
}

// Observe decides r with the candidate, on the listener of the same name as
// the one that served it, and counts a difference from the active decision.
// activeRoute is the route the active policy chose ("" for none).
func (run *Run) Observe(listener string, r *http.Request, clientIP, activeRoute, activeDecision string) {
	run.requests.Add(1)
	candidate, route := httperr.DecisionNotFound, ""
	for _, l := range run.Snap.Listeners {
		if l.Name != listener {
			continue
		}
		d := run.Snap.Decide(l, r, clientIP)
		if d.Route != nil {
			route = d.Route.Name
		}
		candidate = httperr.DecisionAllowed
		if d.Err != nil {
			candidate = d.Err.Decision
		}
		break
	}
	if candidate == activeDecision {
		return
	}
	if activeRoute != "" {
		route = activeRoute
	}
	run.mu.Lock()
	run.diffs[Difference{Route: route, Method: r.Method, Active: activeDecision, Candidate: candidate}]++
	run.mu.Unlock()
}

// Report returns the run's counts, the most frequent differences first.
func (run *Run) Report() Report {
	run.mu.Lock()
	counts := make([]Count, 0, len(run.diffs))
	for d, n := range run.diffs {
		counts = append(counts, Count{Difference: d, Count: n})
	}
	run.mu.Unlock()
	sort.Slice(counts, func(i, j int) bool {
		a, b := counts[i], counts[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Route != b.Route {
			return a.Route < b.Route
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Active+a.Candidate < b.Active+b.Candidate
	})
	return Report{Hash: run.Hash, Since: run.Since, Requests: run.requests.Load(), Differences: counts}
}

// Holder holds the run in progress, if any. The edge reads it on every request.
type Holder struct{ p atomic.Pointer[Run] }

// Load returns the run in progress, or nil.
func (h *Holder) Load() *Run { return h.p.Load() }

// Swap replaces the run in progress (nil ends it) and returns the previous one.
func (h *Holder) Swap(r *Run) *Run { return h.p.Swap(r) }
