package feed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

func receive(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return c
	case <-time.After(time.Second):
		t.Fatal("no change within 1s")
	}
	return store.Change{}
}

func wantNothing(t *testing.T, ch <-chan store.Change) {
	t.Helper()
	select {
	case c, ok := <-ch:
		t.Fatalf("got %+v (open %v), want nothing", c, ok)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestPublishDeliversNewerOnly(t *testing.T) {
	f := New()
	defer f.Close()
	f.Publish(store.Change{Kind: store.KindPolicy, Version: 3}) // the baseline, before anyone watches
	ch, err := f.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.Publish(store.Change{Kind: store.KindPolicy, Version: 3})
	f.Publish(store.Change{Kind: store.KindPolicy, Version: 2})
	wantNothing(t, ch)
	f.Publish(store.Change{Kind: store.KindPolicy, Version: 4})
	if c := receive(t, ch); c != (store.Change{Kind: store.KindPolicy, Version: 4}) {
		t.Errorf("got %+v", c)
	}
}

func TestSlowReaderGetsNewestOfEachKind(t *testing.T) {
	f := New()
	defer f.Close()
	ch, err := f.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 100; v++ {
		f.Publish(store.Change{Kind: store.KindPolicy, Version: v})
		if v%10 == 0 {
			f.Publish(store.Change{Kind: store.KindKeys, Version: v / 10})
		}
	}
	newest := map[string]int64{}
	for newest[store.KindPolicy] != 100 || newest[store.KindKeys] != 10 {
		c := receive(t, ch)
		if c.Version <= newest[c.Kind] {
			t.Errorf("%+v after version %d", c, newest[c.Kind])
		}
		newest[c.Kind] = c.Version
	}
	wantNothing(t, ch)
}

func TestSubscribersAreIndependent(t *testing.T) {
	f := New()
	defer f.Close()
	a, _ := f.Subscribe(t.Context())
	bctx, cancel := context.WithCancel(t.Context())
	b, _ := f.Subscribe(bctx)
	cancel()
	for range b { // closed once its context ends
	}
	f.Publish(store.Change{Kind: store.KindConsumers, Version: 1})
	if c := receive(t, a); c.Version != 1 {
		t.Errorf("got %+v", c)
	}
}

func TestClose(t *testing.T) {
	f := New()
	ch, _ := f.Subscribe(t.Context())
	f.Publish(store.Change{Kind: store.KindPolicy, Version: 1})
	f.Close()
	f.Close()
	for range ch { // closed, whatever was pending
	}
	if _, err := f.Subscribe(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	f.Publish(store.Change{Kind: store.KindPolicy, Version: 2}) // does nothing, does not panic
}
