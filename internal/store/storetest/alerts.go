package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// testAlerts: alerts round-trip, a save with a known ID updates it, the
// list is newest first and bounded, and pruning goes by the latest time.
func testAlerts(t *testing.T, st Storage) {
	s := open(t, st)
	if as, err := s.Alerts(ctx(t), 10); err != nil || len(as) != 0 {
		t.Fatalf("empty store: %v, %v", as, err)
	}
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		a := store.Alert{ID: fmt.Sprintf("al-%d", i), Kind: "scan.paths", Severity: "medium", Subject: fmt.Sprintf("ip:192.0.2.%d", i),
			Detail: "40 distinct paths", Count: 1, First: base.Add(time.Duration(i) * time.Minute), Time: base.Add(time.Duration(i) * time.Minute)}
		if err := s.SaveAlert(ctx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	// al-1 repeats, later than every other: it becomes the newest.
	repeat := store.Alert{ID: "al-1", Kind: "scan.paths", Severity: "high", Subject: "ip:192.0.2.1", Detail: "90 distinct paths", Count: 2,
		First: base.Add(time.Minute), Time: base.Add(time.Hour + 123456789*time.Nanosecond)}
	if err := s.SaveAlert(ctx(t), repeat); err != nil {
		t.Fatal(err)
	}
	as, err := s.Alerts(ctx(t), 3)
	if err != nil || len(as) != 3 {
		t.Fatalf("Alerts(3) = %d, %v", len(as), err)
	}
	want := repeat
	want.Time = store.Timestamp(repeat.Time)
	if as[0] != want || as[1].ID != "al-4" || as[2].ID != "al-3" {
		t.Errorf("Alerts = %+v, want al-1 (updated: %+v), al-4, al-3", as, want)
	}
	n, err := s.PruneAlerts(ctx(t), base.Add(3*time.Minute))
	if err != nil || n != 2 {
		t.Errorf("PruneAlerts = %d, %v; want 2 (al-0, al-2; al-3 is at the cutoff, al-1 was updated)", n, err)
	}
	if as, _ := s.Alerts(ctx(t), store.MaxAlerts+1); len(as) != 3 {
		t.Errorf("after pruning: %+v", as)
	}
}
