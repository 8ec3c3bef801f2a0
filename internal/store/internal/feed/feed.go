// Package feed fans a store's changes out to its watchers. It keeps the
// newest version of each kind, drops anything older (so a change heard both
// from this node and from the database arrives once), and never blocks a
// writer: a slow watcher's pending changes are coalesced per kind.
package feed

import (
	"context"
	"errors"
	"sync"

	"github.com/portcullis/portcullis/internal/store"
)

// Feed is a fan-out of store.Change values. The zero value is not usable;
// call New.
type Feed struct {
	mu     sync.Mutex
	latest map[string]int64
	subs   map[*watcher]struct{}
	closed bool
	done   chan struct{}
}

// New returns an empty feed.
func New() *Feed {
	return &Feed{latest: map[string]int64{}, subs: map[*watcher]struct{}{}, done: make(chan struct{})}
}

// watcher is one Subscribe call: pending changes and the goroutine that
// hands them over.
type watcher struct {
	pending []store.Change // at most one per kind, in order of arrival
	wake    chan struct{}  // capacity 1: something is pending
}

// Publish records c and passes it to every watcher, unless the feed already
// knows a version of c.Kind at least as new. Publishing before anyone
// watches sets the baseline that later changes must exceed.
func (f *Feed) Publish(c store.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || c.Version <= f.latest[c.Kind] {
		return
	}
	f.latest[c.Kind] = c.Version
	for w := range f.subs {
		w.add(c)
	}
}

func (w *watcher) add(c store.Change) {
	replaced := false
	for i := range w.pending {
		if w.pending[i].Kind == c.Kind {
			w.pending[i] = c
			replaced = true
		}
	}
	if !replaced {
		w.pending = append(w.pending, c)
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// ErrClosed is Subscribe's error once the feed (its store) is closed.
var ErrClosed = errors.New("watch: the store is closed")

// Subscribe returns a channel of the changes published from now on. It is
// closed when ctx ends or the feed is closed.
func (f *Feed) Subscribe(ctx context.Context) (<-chan store.Change, error) {
	w := &watcher{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	f.subs[w] = struct{}{}
	f.mu.Unlock()
	out := make(chan store.Change)
	go f.deliver(ctx, w, out)
	return out, nil
}

func (f *Feed) deliver(ctx context.Context, w *watcher, out chan<- store.Change) {
	defer close(out)
	defer func() {
		f.mu.Lock()
		delete(f.subs, w)
		f.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.done:
			return
		case <-w.wake:
		}
		for {
			f.mu.Lock()
			if len(w.pending) == 0 {
				f.mu.Unlock()
				break
			}
			c := w.pending[0]
			w.pending = w.pending[1:]
			f.mu.Unlock()
			select {
			case out <- c:
			case <-ctx.Done():
				return
			case <-f.done:
				return
			}
		}
	}
}

// Close closes every subscriber's channel; later Publish calls do nothing
// and later Subscribe calls fail with ErrClosed. Calling it again does
// nothing.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
}
