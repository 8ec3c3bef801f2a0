package monitor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// memAlerts is an AlertStore in memory.
type memAlerts struct {
	mu   sync.Mutex
	byID map[string]store.Alert
	fail bool
}

func (s *memAlerts) SaveAlert(_ context.Context, a store.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[a.ID] = a
	return nil
}

func (s *memAlerts) Alerts(context.Context, int) ([]store.Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return nil, errors.New("down")
	}
	var out []store.Alert
	for _, a := range s.byID {
		out = append(out, a)
	}
	return out, nil
}

func (s *memAlerts) PruneAlerts(context.Context, time.Time) (int64, error) { return 0, nil }

// TestKeptAcrossRestarts: alerts raised are stored (a repeat updates its
// row), a new Monitor on the store lists them and folds a repeat into the
// same alert, and List adds another node's alerts to this node's.
func TestKeptAcrossRestarts(t *testing.T) {
	st := &memAlerts{byID: map[string]store.Alert{}}
	ctx, cancel := context.WithCancel(context.Background())
	m := New(Options{Store: st})
	go m.Run(ctx)
	m.Raise("store.unavailable", "high", "redis", "refused")
	m.Raise("store.unavailable", "high", "redis", "refused again")
	cancel()
	<-m.Stopped()
	if len(st.byID) != 1 {
		t.Fatalf("stored %+v, want one alert", st.byID)
	}
	for _, a := range st.byID {
		if a.Count != 2 || a.Detail != "refused again" {
			t.Errorf("stored %+v, want the repeat's count and detail", a)
		}
	}

	restarted := New(Options{Store: st})
	if err := restarted.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted.Raise("store.unavailable", "high", "redis", "still refused")
	local := restarted.Alerts()
	if len(local) != 1 || local[0].Count != 3 {
		t.Errorf("after the restart %+v, want the kept alert with its third occurrence", local)
	}

	st.byID["other"] = store.Alert{ID: "other", Kind: "scan.paths", Count: 1, Time: time.Now().Add(time.Hour)}
	all, err := restarted.List(context.Background())
	if err != nil || len(all) != 2 || all[0].ID != "other" || all[1].Count != 3 {
		t.Errorf("List = %+v, %v; want the other node's (newer) first, then ours as this node has it", all, err)
	}
	st.fail = true
	if own, err := restarted.List(context.Background()); err == nil || len(own) != 1 {
		t.Errorf("List with the store down = %+v, %v; want this node's and the error", own, err)
	}
}
