package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

var quotaNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testQuotaCounts: counts add up, keys keep every byte, ended periods are
// forgotten, and the counter's End round-trips.
func testQuotaCounts(t *testing.T, st Storage) {
	s := open(t, st)
	if got, err := s.QuotaCounts(ctx(t), quotaNow); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	endDay := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	endHour := quotaNow.Add(time.Hour)
	nul := "route\x00c:\xffalice\x00day\x001764288000"
	if err := s.AddQuotaCounts(ctx(t), []store.QuotaCount{
		{Key: nul, End: endDay, Count: 3},
		{Key: "h", End: endHour, Count: 1},
		{Key: "old", End: quotaNow.Add(-time.Hour), Count: 9},
	}, quotaNow); err != nil {
		t.Fatal(err)
	}
	if err := s.AddQuotaCounts(ctx(t), []store.QuotaCount{{Key: nul, End: endDay, Count: 4}}, quotaNow); err != nil {
		t.Fatal(err)
	}
	got, err := s.QuotaCounts(ctx(t), quotaNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.QuotaCount{{Key: "h", End: endHour, Count: 1}, {Key: nul, End: endDay, Count: 7}}
	if len(got) != len(want) {
		t.Fatalf("QuotaCounts = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Key != want[i].Key || !got[i].End.Equal(want[i].End) || got[i].Count != want[i].Count {
			t.Errorf("counter %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// An hour later, the hour's counter is over: not returned, and deleted
	// by the next save.
	later := endHour.Add(time.Second)
	if got, _ := s.QuotaCounts(ctx(t), later); len(got) != 1 || got[0].Key != nul {
		t.Errorf("after the hour: %+v", got)
	}
	if err := s.AddQuotaCounts(ctx(t), nil, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.QuotaCounts(ctx(t), quotaNow); len(got) != 1 {
		t.Errorf("the ended counter was not deleted: %+v", got)
	}
	err = s.AddQuotaCounts(ctx(t), []store.QuotaCount{{Key: "neg", End: endDay, Count: -1}}, quotaNow)
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a negative count: %v, want ErrInvalid", err)
	}
}

// testQuotaCountsConcurrent: two stores on the same data (two nodes) saving
// the same counters at once lose no count.
func testQuotaCountsConcurrent(t *testing.T, st Storage) {
	a, b := open(t, st), open(t, st)
	end := quotaNow.Add(24 * time.Hour)
	const rounds = 20
	var wg sync.WaitGroup
	for _, s := range []store.Store{a, b, a, b} {
		wg.Go(func() {
			for range rounds {
				if err := s.AddQuotaCounts(ctx(t), []store.QuotaCount{{Key: "x", End: end, Count: 1}, {Key: "y", End: end, Count: 2}}, quotaNow); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := a.QuotaCounts(ctx(t), quotaNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Count != 4*rounds || got[1].Count != 8*rounds {
		t.Errorf("counts %+v, want x=%d y=%d", got, 4*rounds, 8*rounds)
	}
}
