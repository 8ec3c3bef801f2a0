package detect

// table tracks per-subject state with a size cap and an idle expiry, least
// recently seen first out. Both evictions are O(1): entries form a list
// ordered by last sighting, so expiry only ever looks at the tail, and a
// full table recycles its tail entry for the newcomer (no allocation under a
// flood of new subjects). Eviction order depends only on event order, so
// replays stay deterministic.
type table[S any] struct {
	m          map[string]*entry[S]
	head, tail *entry[S] // head: most recently seen
	max        int
	ttl        int64 // nanoseconds
}

type entry[S any] struct {
	key        string
	last       int64 // UnixNano of the latest sighting
	prev, next *entry[S]
	s          S
}

func newTable[S any](max int, ttl int64) table[S] {
	return table[S]{m: make(map[string]*entry[S]), max: max, ttl: ttl}
}

// get returns key's entry, created (zero state) when absent, marked seen at
// now. The second result reports whether it was created.
func (t *table[S]) get(key string, now int64) (*entry[S], bool) {
	if e, ok := t.m[key]; ok {
		e.last = now
		t.moveToFront(e)
		return e, false
	}
	var e *entry[S]
	if len(t.m) >= t.max && t.tail != nil {
		e = t.tail
		t.unlink(e)
		delete(t.m, e.key)
		*e = entry[S]{}
	} else {
		e = new(entry[S])
	}
	e.key, e.last = key, now
	t.pushFront(e)
	t.m[key] = e
	return e, true
}

// expire forgets the entries not seen since now-ttl.
func (t *table[S]) expire(now int64) {
	for t.tail != nil && now-t.tail.last > t.ttl {
		e := t.tail
		t.unlink(e)
		delete(t.m, e.key)
	}
}

func (t *table[S]) len() int { return len(t.m) }

func (t *table[S]) moveToFront(e *entry[S]) {
	if t.head == e {
		return
	}
	t.unlink(e)
	t.pushFront(e)
}

func (t *table[S]) pushFront(e *entry[S]) {
	e.prev, e.next = nil, t.head
	if t.head != nil {
		t.head.prev = e
	}
	t.head = e
	if t.tail == nil {
		t.tail = e
	}
}

func (t *table[S]) unlink(e *entry[S]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
