package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/store"
)

// ErrNoShadow is a promote or discard with no candidate being shadowed.
var ErrNoShadow = errors.New("no candidate policy is being shadowed")

// StartShadow takes a candidate through validation, diff and its policy tests
// like Propose, then evaluates it beside the active policy on this node's live
// traffic instead of applying it. It replaces any candidate shadowed before.
// The report is in Shadow; PromoteShadow applies the candidate.
func (p *Plane) StartShadow(ctx context.Context, prop Proposal) (Outcome, *shadow.Run, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev, err := p.evaluate(ctx, prop.Files, -1, true)
	out := Outcome{Report: ev.report, Changed: true}
	if err != nil {
		return out, nil, err
	}
	snap := ev.snap
	// The candidate counts rate limits in its own store: deciding a request
	// twice must not spend the live counters twice.
	run := shadow.NewRun(snap.Sandbox(), prop.Files, filesHash(prop.Files))
	if old := p.shadows.Swap(run); old != nil {
		old.Snap.Release(p.holder.Load())
	}
	p.log.Info("shadowing a candidate policy on live traffic", "hash", run.Hash, "reason", prop.Reason, "weakening", len(out.Report.Weakening))
	return out, run, nil
}

// Shadow returns the candidate being shadowed, or nil.
func (p *Plane) Shadow() *shadow.Run { return p.shadows.Load() }

// PromoteShadow applies the shadowed candidate as a new version (weakening
// rules apply as for any change) and ends the shadow run.
func (p *Plane) PromoteShadow(ctx context.Context, reason, author string, allowWeakening bool) (Outcome, error) {
	run := p.shadows.Load()
	if run == nil {
		return Outcome{}, ErrNoShadow
	}
	out, err := p.Propose(ctx, Proposal{Files: run.Files, Reason: reason, Author: author, Source: store.SourceAPI,
		AllowWeakening: allowWeakening, Base: -1})
	if err != nil {
		return out, err
	}
	p.DiscardShadow()
	return out, nil
}

// DiscardShadow ends the shadow run, if any; it reports whether there was one.
func (p *Plane) DiscardShadow() bool {
	old := p.shadows.Swap(nil)
	if old == nil {
		return false
	}
	old.Snap.Release(p.holder.Load())
	p.log.Info("shadow run ended", "hash", old.Hash, "requests", old.Report().Requests)
	return true
}

// filesHash identifies a candidate by its files: SHA-256 over each name and
// content, length-prefixed, in name order.
func filesHash(files []store.File) string {
	h := sha256.New()
	for _, f := range sortedFiles(files) {
		for _, s := range []string{f.Name, f.Content} {
			var n [8]byte
			for i, l := 0, len(s); i < 8; i++ {
				n[i] = byte(l >> (8 * i))
			}
			h.Write(n[:])
			h.Write([]byte(s))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
