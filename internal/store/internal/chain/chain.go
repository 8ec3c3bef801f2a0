// Package chain holds the rules of the policy history that every store
// backend shares: how the next version is made from the newest one, and how
// a stored history is checked link by link.
package chain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Next returns the version that appending nv makes, given the newest stored
// version (head; its Number is 0 when the store is empty) and the time now.
// It checks nv (store.ErrInvalid) and its ExpectBase (store.ErrConflict).
func Next(head store.Version, nv store.NewVersion, now time.Time) (store.Version, error) {
	if err := nv.Validate(); err != nil {
		return store.Version{}, err
	}
	if nv.ExpectBase >= 0 && nv.ExpectBase != head.Number {
		return store.Version{}, fmt.Errorf("%w (expected %d, newest is %d)", store.ErrConflict, nv.ExpectBase, head.Number)
	}
	if nv.Rollback && nv.RollbackOf > head.Number {
		return store.Version{}, fmt.Errorf("%w version: rollbackOf %d is not an earlier version", store.ErrInvalid, nv.RollbackOf)
	}
	files := slices.Clone(nv.Files)
	slices.SortFunc(files, func(a, b store.File) int { return strings.Compare(a.Name, b.Name) })
	v := store.Version{
		Number:     head.Number + 1,
		PrevHash:   head.Hash,
		Files:      files,
		Reason:     nv.Reason,
		Author:     nv.Author,
		Source:     nv.Source,
		Weakening:  nv.Weakening,
		Rollback:   nv.Rollback,
		RollbackOf: nv.RollbackOf,
		CreatedAt:  store.Timestamp(now),
	}
	v.Hash = store.VersionHash(v)
	return v, nil
}

// Verifier checks a history fed to it in order, oldest first.
type Verifier struct {
	prev   store.Version
	report store.ChainReport
}

// Check takes the next stored version (with its files) and reports whether
// the chain still holds. After the first broken version it only counts the
// rest.
func (c *Verifier) Check(v store.Version) bool {
	c.report.Versions++
	if c.report.BrokenAt != 0 {
		return false
	}
	if v.Number != c.prev.Number+1 || v.PrevHash != c.prev.Hash || store.VersionHash(v) != v.Hash {
		c.report.BrokenAt = v.Number
		return false
	}
	c.prev = v
	return true
}

// Report returns the result so far.
func (c *Verifier) Report() store.ChainReport {
	r := c.report
	r.OK = r.BrokenAt == 0
	return r
}
