package node

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/internal/policy/ratelimit"
	"github.com/portcullis/portcullis/internal/store"
)

// quotaSaveInterval is how often quota counters counted in memory are saved
// to the store: the most a crash can lose (a clean shutdown saves them all).
const quotaSaveInterval = time.Second

// loadQuotas fills the in-memory quota counters from the store, before the
// node serves a request, so that a restart does not reset a quota.
func (n *Node) loadQuotas(ctx context.Context) error {
	saved, err := n.store.QuotaCounts(ctx, time.Now())
	if err != nil {
		return err
	}
	counts := make([]ratelimit.SavedCount, len(saved))
	for i, c := range saved {
		counts[i] = ratelimit.SavedCount(c)
	}
	n.localQuotas.Load(counts)
	return nil
}

// saveQuotas saves what was counted since the last save. What cannot be
// saved is put back for the next attempt, and logged.
func (n *Node) saveQuotas(ctx context.Context) {
	now := time.Now()
	counts := n.localQuotas.Unsaved(now)
	if len(counts) == 0 {
		return
	}
	saved := make([]store.QuotaCount, len(counts))
	for i, c := range counts {
		saved[i] = store.QuotaCount(c)
	}
	if err := n.store.AddQuotaCounts(ctx, saved, now); err != nil {
		n.localQuotas.Unsave(counts)
		n.log.Error("saving quota counters failed; retrying", "error", err)
	}
}

// keepSavingQuotas saves the quota counters every quotaSaveInterval until
// ctx ends; Shutdown saves the last ones.
func (n *Node) keepSavingQuotas(ctx context.Context) {
	tick := time.NewTicker(quotaSaveInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			n.saveQuotas(ctx)
		}
	}
}
