// Package control is the control plane of one gateway node: it turns policy
// versions in the store into the active snapshot of the data plane. Every
// change goes the same way — validate, diff (weakening flagged), run the
// policy's own test cases, compile, record the version with its reason, then
// swap — and a change that fails at any step leaves the active version
// serving. It also follows the store, so that a version applied on another
// node becomes active here too.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/lifecycle"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
)

// Plane applies policy versions on one node.
type Plane struct {
	store   store.Store
	holder  *snapshot.Holder
	shadows *shadow.Holder
	// swap makes a compiled snapshot active (the data plane's Apply: it
	// binds new listener addresses first and fails without changing anything).
	swap func(*snapshot.Snapshot) error
	deps snapshot.Deps
	log  *slog.Logger
	// dir is the folder that relative file paths in manifests (certificates,
	// schemas) resolve against: the node's --config folder, whatever the
	// version's origin.
	dir string

	mu sync.Mutex // one change at a time on this node
}

// New returns a control plane over st that swaps snapshots into holder with
// swap; relative paths in manifests resolve against dir.
func New(st store.Store, holder *snapshot.Holder, shadows *shadow.Holder, swap func(*snapshot.Snapshot) error, deps snapshot.Deps, dir string, log *slog.Logger) *Plane {
	return &Plane{store: st, holder: holder, shadows: shadows, swap: swap, deps: deps, dir: dir, log: log}
}

// Store returns the store the plane reads and writes.
func (p *Plane) Store() store.Store { return p.store }

// Proposal is a candidate policy and how to treat it.
type Proposal struct {
	Files          []store.File
	Reason, Author string
	Source         string // store.SourceAPI or store.SourceFile
	DryRun         bool   // validate, diff and test only
	AllowWeakening bool   // apply even if weakening (a file reload always is)
	// Base, when >= 0, is the version the proposal was made against: if
	// another change came first the proposal is refused (ErrConflict).
	Base int64
}

// Outcome is what a proposal led to.
type Outcome struct {
	Version store.Version // the new version; zero for a dry run or no change
	Report  lifecycle.Report
	Changed bool // false: the files are the active version's already
}

// WeakeningError refuses a proposal that weakens the policy without
// AllowWeakening.
type WeakeningError struct{ Report lifecycle.Report }

func (e *WeakeningError) Error() string {
	return fmt.Sprintf("the change weakens the policy (%d weakening changes); apply with allowWeakening to accept it", len(e.Report.Weakening))
}

// ErrConflict is a proposal against a base version that is no longer active.
var ErrConflict = store.ErrConflict

// CompileError is a valid policy that could not be compiled into a snapshot
// (a reference that cannot be built, a route conflict the router found).
type CompileError struct{ Err error }

func (e *CompileError) Error() string { return "the policy cannot be compiled: " + e.Err.Error() }
func (e *CompileError) Unwrap() error { return e.Err }

// ActivationError is a version that was recorded but could not be made active
// on this node (a listener address could not be bound, say). The version
// stands; the node keeps serving the previous one until a later change or
// restart succeeds.
type ActivationError struct {
	Version int64
	Err     error
}

func (e *ActivationError) Error() string {
	return fmt.Sprintf("version %d is recorded but could not be served on this node: %v", e.Version, e.Err)
}
func (e *ActivationError) Unwrap() error { return e.Err }

// Propose takes a candidate through the lifecycle and, unless it is a dry run,
// records it as a new version and makes it active.
func (p *Plane) Propose(ctx context.Context, prop Proposal) (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.propose(ctx, prop, 0)
}

// Rollback makes version n's content active again as a new version. It is
// never refused as weakening (it restores a reviewed version) but the new
// version is flagged when it weakens the active one.
func (p *Plane) Rollback(ctx context.Context, n int64, reason, author string) (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, err := p.store.Version(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	return p.propose(ctx, Proposal{Files: old.Files, Reason: reason, Author: author, Source: store.SourceRollback,
		AllowWeakening: true, Base: -1}, n)
}

// evaluation is a candidate taken through the lifecycle up to, not
// including, recording it: parsed, diffed against the active version,
// compiled, and its own policy tests run.
type evaluation struct {
	active store.Version // zero when the store is empty
	report lifecycle.Report
	snap   *snapshot.Snapshot // nil when unchanged
	// unchanged: the files are the active version's already (not checked
	// when evenIfUnchanged: a rollback always records a version).
	unchanged bool
}

// evaluate parses, diffs, compiles and tests files. The caller owns the
// returned snapshot: it activates or releases it.
func (p *Plane) evaluate(ctx context.Context, files []store.File, base int64, evenIfUnchanged bool) (evaluation, error) {
	var ev evaluation
	candidate, err := p.parse(files)
	if err != nil {
		return ev, err
	}
	var activePolicy *config.Policy
	active, err := p.store.ActiveVersion(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return ev, err
	default:
		ev.active = active
		if base >= 0 && base != active.Number {
			return ev, fmt.Errorf("%w: the active version is %d, not %d", ErrConflict, active.Number, base)
		}
		if !evenIfUnchanged && sameFiles(active.Files, files) {
			ev.unchanged = true
			return ev, nil
		}
		if activePolicy, err = p.parse(active.Files); err != nil {
			// The stored active version no longer parses with this binary:
			// everything counts as new, and nothing is hidden.
			p.log.Warn("the active version does not parse with this binary; diffing against nothing", "version", active.Number, "error", err)
			activePolicy = nil
		}
	}
	ev.report = lifecycle.Diff(activePolicy, candidate)
	snap, err := snapshot.Compile(candidate, p.deps, p.holder.Load())
	if err != nil {
		return ev, &CompileError{Err: err}
	}
	if failures := RunPolicyTests(snap, candidate); len(failures) > 0 {
		snap.Release(p.holder.Load())
		return ev, failures
	}
	ev.snap = snap
	return ev, nil
}

func (p *Plane) propose(ctx context.Context, prop Proposal, rollbackOf int64) (Outcome, error) {
	ev, err := p.evaluate(ctx, prop.Files, prop.Base, rollbackOf > 0)
	out := Outcome{Report: ev.report, Changed: !ev.unchanged}
	if err != nil {
		return out, err
	}
	if ev.unchanged {
		out.Version = ev.active
		return out, nil
	}
	weakening := len(ev.report.Weakening) > 0
	if prop.DryRun || weakening && !prop.AllowWeakening {
		ev.snap.Release(p.holder.Load())
		if prop.DryRun {
			return out, nil
		}
		return out, &WeakeningError{Report: ev.report}
	}
	base := ev.active.Number
	if prop.Base >= 0 {
		base = prop.Base
	}
	v, err := p.store.AppendVersion(ctx, store.NewVersion{
		Files: prop.Files, Reason: prop.Reason, Author: prop.Author, Source: prop.Source,
		Weakening: weakening, Rollback: rollbackOf > 0, RollbackOf: rollbackOf,
		ExpectBase: base,
	})
	if err != nil {
		ev.snap.Release(p.holder.Load())
		return out, err
	}
	out.Version = v
	if err := p.activate(ev.snap, v); err != nil {
		return out, &ActivationError{Version: v.Number, Err: err}
	}
	for _, w := range ev.report.Weakening {
		p.log.Warn("weakening change applied", "version", v.Number, "kind", w.Kind, "name", w.Name, "field", w.Field, "reason", w.Reason)
	}
	p.log.Info("policy version applied", "version", v.Number, "source", v.Source, "author", v.Author, "reason", v.Reason,
		"changes", len(ev.report.Changes), "weakening", len(ev.report.Weakening))
	return out, nil
}

// activate swaps snap in as version v.
func (p *Plane) activate(snap *snapshot.Snapshot, v store.Version) error {
	snap.Version, snap.VersionHash = v.Number, v.Hash
	if err := p.swap(snap); err != nil {
		snap.Release(p.holder.Load())
		return err
	}
	p.deps.Metrics.SetPolicyVersion(v.Number)
	return nil
}

// Recompile compiles the active snapshot's policy again and swaps it in, so
// that files its manifests name are read again; what did not change
// (upstreams with their pooled connections, authenticators) is carried
// over. When it fails, the active snapshot keeps serving. Before anything is
// active there is nothing to do: LoadActive compiles it.
func (p *Plane) Recompile() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.holder.Load()
	if cur == nil {
		return nil
	}
	snap, err := snapshot.Compile(cur.Policy, p.deps, cur)
	if err != nil {
		return &CompileError{Err: err}
	}
	snap.Version, snap.VersionHash = cur.Version, cur.VersionHash
	if err := p.swap(snap); err != nil {
		snap.Release(cur)
		return err
	}
	return nil
}

// LoadActive compiles the store's active version and makes it active on this
// node if it is newer than what the node serves. It is how a node starts on a
// shared store and how it follows changes made elsewhere.
func (p *Plane) LoadActive(ctx context.Context) (store.Version, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.store.ActiveVersion(ctx)
	if err != nil {
		return v, err
	}
	if cur := p.holder.Load(); cur != nil && cur.Version >= v.Number {
		return v, nil
	}
	policy, err := p.parse(v.Files)
	if err != nil {
		return v, fmt.Errorf("version %d: %w", v.Number, err)
	}
	snap, err := snapshot.Compile(policy, p.deps, p.holder.Load())
	if err != nil {
		return v, fmt.Errorf("version %d: %w", v.Number, err)
	}
	if err := p.activate(snap, v); err != nil {
		return v, err
	}
	p.log.Info("policy version loaded from the store", "version", v.Number)
	return v, nil
}

// PolicyChanged is told that the store's active version is now version
// (applied on this node or another): it loads it if this node serves an
// older one. Errors are logged; the active snapshot keeps serving.
func (p *Plane) PolicyChanged(ctx context.Context, version int64) {
	if cur := p.holder.Load(); cur != nil && cur.Version >= version {
		return
	}
	if _, err := p.LoadActive(ctx); err != nil {
		p.log.Error("could not load the new policy version; the previous one keeps serving", "version", version, "error", err)
	}
}

// Diff compares two stored versions.
func (p *Plane) Diff(ctx context.Context, from, to int64) (lifecycle.Report, error) {
	var policies [2]*config.Policy
	for i, n := range []int64{from, to} {
		v, err := p.store.Version(ctx, n)
		if err != nil {
			return lifecycle.Report{}, err
		}
		if policies[i], err = p.parse(v.Files); err != nil {
			return lifecycle.Report{}, fmt.Errorf("version %d no longer parses: %w", n, err)
		}
	}
	return lifecycle.Diff(policies[0], policies[1]), nil
}

// parse parses a version's files as one policy, placed in the plane's folder
// so that relative paths resolve there. Problems name the files as stored.
func (p *Plane) parse(files []store.File) (*config.Policy, error) {
	m := make(map[string][]byte, len(files))
	names := make(map[string]string, len(files))
	for _, f := range files {
		full := filepath.Join(p.dir, f.Name)
		m[full] = []byte(f.Content)
		names[full] = f.Name
	}
	policy, err := config.ParseFiles(m)
	var problems config.Problems
	if errors.As(err, &problems) {
		for i := range problems {
			if name, ok := names[problems[i].File]; ok {
				problems[i].File = name
			}
		}
		return nil, problems
	}
	return policy, err
}

// sameFiles reports whether two file sets are the same policy text.
func sameFiles(a, b []store.File) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = sortedFiles(a), sortedFiles(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedFiles(fs []store.File) []store.File {
	out := append([]store.File(nil), fs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
