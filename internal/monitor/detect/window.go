package detect

import "math"

// windowBuckets is how many buckets a sliding window keeps. A window of width
// W counts the events of the current bucket and the windowBuckets-1 before
// it: between W·(1-1/windowBuckets) and W of history, in 64 bytes and O(1)
// per event, whatever the traffic.
const windowBuckets = 12

// window counts events over a sliding window. Slots are bucket numbers
// (time / bucket width) and must not decrease; the engine guarantees it by
// never letting its clock run backwards.
type window struct {
	last   int64 // slot of the newest bucket
	total  uint32
	counts [windowBuckets]uint32
}

// add records one event in slot and returns the events within the window.
func (w *window) add(slot int64) uint32 {
	w.advance(slot)
	w.counts[bucketIndex(slot)]++
	w.total++
	return w.total
}

// count returns the events within the window ending at slot.
func (w *window) count(slot int64) uint32 {
	w.advance(slot)
	return w.total
}

// advance moves the window's end to slot, dropping the buckets that fall out.
func (w *window) advance(slot int64) {
	if slot <= w.last {
		return
	}
	if slot-w.last >= windowBuckets {
		w.reset()
	} else {
		for s := w.last + 1; s <= slot; s++ {
			i := bucketIndex(s)
			w.total -= w.counts[i]
			w.counts[i] = 0
		}
	}
	w.last = slot
}

// reset forgets every event (after an alert, so the next one needs fresh evidence).
func (w *window) reset() {
	w.counts = [windowBuckets]uint32{}
	w.total = 0
}

func bucketIndex(slot int64) int {
	i := slot % windowBuckets
	if i < 0 {
		i += windowBuckets
	}
	return int(i)
}

// distinct counts distinct values (by 64-bit hash) seen within a window,
// remembering at most max of them: once the set holds a detector's
// threshold, the detector fires and resets it, so a larger set would never
// be needed.
type distinct struct {
	items []distinctItem
}

type distinctItem struct {
	hash uint64
	seen int64 // UnixNano of the latest sighting
}

// add records hash at now, forgets values not seen since now-window, and
// returns how many distinct values remain (at most max).
func (d *distinct) add(hash uint64, now, window int64, max int) int {
	if d.items == nil {
		d.items = make([]distinctItem, 0, max)
	}
	found := false
	kept := d.items[:0]
	for _, it := range d.items {
		if it.hash == hash {
			it.seen = now
			found = true
		}
		if now-it.seen < window {
			kept = append(kept, it)
		}
	}
	if !found && len(kept) < max {
		kept = append(kept, distinctItem{hash: hash, seen: now})
	}
	d.items = kept
	return len(kept)
}

// reset forgets every value, keeping the storage.
func (d *distinct) reset() {
	d.items = d.items[:0]
}

// hashString is 64-bit FNV-1a: allocation-free, deterministic across runs
// (replays give the same alerts) and ample for telling paths or key
// fingerprints apart within one client's window.
func hashString(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// surge learns how much a subject uses per interval — requests for
// traffic.surge, tokens for ai.token_burn — and spots an interval far above
// it. One implementation for both keeps their warm-up and firing rules the
// same.
type surge struct {
	start    int64   // UnixNano of the first observation: intervals count from here
	interval int64   // index of the current interval
	count    int64   // amount used in the current interval
	baseline float64 // EWMA of the amount per completed interval
	started  bool    // start is set (an engine clock of 0 is a valid time)
	warm     bool    // at least one interval completed: the baseline is usable
	fired    bool    // already alerted in the current interval
}

// surgeRule is one surge detector's thresholds, in the engine's units.
type surgeRule struct {
	interval int64   // nanoseconds, at least 1
	alpha    float64 // the EWMA's weight of the latest interval
	factor   float64 // a surge is more than factor × baseline…
	floor    int64   // …and at least floor
}

// add records n used at now and reports whether the current interval has
// just become a surge (at most once per interval). The first interval only
// seeds the baseline; idle intervals fold in as zeros, so a subject that
// went quiet has a lower bar on its return.
func (s *surge) add(now, n int64, r *surgeRule) bool {
	if !s.started {
		s.start, s.started = now, true
	}
	if i := (now - s.start) / r.interval; i > s.interval {
		// Fold the completed interval, then any idle ones as zeros.
		if s.warm {
			s.baseline = r.alpha*float64(s.count) + (1-r.alpha)*s.baseline
		} else {
			s.baseline, s.warm = float64(s.count), true
		}
		if idle := i - s.interval - 1; idle > 0 {
			s.baseline *= math.Pow(1-r.alpha, float64(idle))
		}
		s.interval, s.count, s.fired = i, 0, false
	}
	s.count += n
	if s.warm && !s.fired && s.count >= r.floor && float64(s.count) > r.factor*s.baseline {
		s.fired = true
		return true
	}
	return false
}
