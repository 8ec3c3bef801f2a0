package monitor

import (
	"context"
	"sort"
	"time"

	"github.com/portcullis/portcullis/internal/monitor/detect"
	"github.com/portcullis/portcullis/internal/store"
)

// AlertStore is what the Monitor needs of the store to keep alerts across
// restarts and, on a shared store, to list every node's.
type AlertStore interface {
	SaveAlert(ctx context.Context, a store.Alert) error
	Alerts(ctx context.Context, limit int) ([]store.Alert, error)
	PruneAlerts(ctx context.Context, before time.Time) (int64, error)
}

// Store timing.
const (
	// saveQueue bounds the alerts waiting to be stored. Alerts are few
	// (deduplicated, with cooldowns): a full queue means the store is
	// down, and the alert is still kept in memory, streamed and posted.
	saveQueue = 256
	// saveTimeout bounds one store call.
	saveTimeout = 5 * time.Second
	// alertPruneInterval is how often alerts past the retention are
	// deleted.
	alertPruneInterval = time.Hour
)

// Load reads the newest stored alerts into memory, so that the list and the
// deduplication of repeats survive a restart. Call it before Run.
func (m *Monitor) Load(ctx context.Context) error {
	if m.opts.Store == nil {
		return nil
	}
	stored, err := m.opts.Store.Alerts(ctx, keptAlerts)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.alerts = m.alerts[:0]
	for i := len(stored) - 1; i >= 0; i-- { // oldest first, as kept
		m.alerts = append(m.alerts, fromStore(stored[i]))
	}
	return nil
}

// List returns the alerts kept here together with the store's (another
// node's, on a shared store), newest first, at most keptAlerts. When the
// store cannot be read it returns this node's alone, and the error.
func (m *Monitor) List(ctx context.Context) ([]detect.Alert, error) {
	local := m.Alerts()
	if m.opts.Store == nil {
		return local, nil
	}
	stored, err := m.opts.Store.Alerts(ctx, keptAlerts)
	if err != nil {
		return local, err
	}
	// This node's copy of an alert is as new as any: the store may not
	// have its latest update yet.
	seen := make(map[string]bool, len(local))
	for _, a := range local {
		seen[a.ID] = true
	}
	out := local
	for _, s := range stored {
		if !seen[s.ID] {
			out = append(out, fromStore(s))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out[:min(len(out), keptAlerts)], nil
}

// queueSave hands a to the saver; it never blocks.
func (m *Monitor) queueSave(a detect.Alert) {
	if m.opts.Store == nil {
		return
	}
	select {
	case m.saves <- a:
	default:
		m.opts.Log.Error("alert not stored: the store falls behind", "id", a.ID, "kind", a.Kind)
	}
}

// keep stores the queued alerts in order and prunes those past the
// retention, until ctx ends; then it stores what is still queued.
func (m *Monitor) keep(ctx context.Context) {
	defer close(m.kept)
	if m.opts.Store == nil {
		return
	}
	prune := time.NewTicker(alertPruneInterval)
	defer prune.Stop()
	for {
		select {
		case a := <-m.saves:
			m.saveAlert(a)
		case <-prune.C:
			m.pruneAlerts()
		case <-ctx.Done():
			for {
				select {
				case a := <-m.saves:
					m.saveAlert(a)
				default:
					return
				}
			}
		}
	}
}

func (m *Monitor) saveAlert(a detect.Alert) {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	if err := m.opts.Store.SaveAlert(ctx, toStore(a)); err != nil {
		m.opts.Log.Error("alert not stored", "id", a.ID, "kind", a.Kind, "error", err)
	}
}

func (m *Monitor) pruneAlerts() {
	if m.opts.Retention <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.opts.Store.PruneAlerts(ctx, time.Now().Add(-m.opts.Retention)); err != nil {
		m.opts.Log.Error("pruning alerts failed; retrying in an hour", "error", err)
	}
}

// Stopped is closed once Run has returned and the queued alerts are stored.
func (m *Monitor) Stopped() <-chan struct{} { return m.kept }

func toStore(a detect.Alert) store.Alert {
	return store.Alert{ID: a.ID, Kind: a.Kind, Severity: a.Severity, Subject: a.Subject, Detail: a.Detail, Count: a.Count, First: a.First, Time: a.Time}
}

func fromStore(a store.Alert) detect.Alert {
	return detect.Alert{ID: a.ID, Kind: a.Kind, Severity: a.Severity, Subject: a.Subject, Detail: a.Detail, Count: a.Count, First: a.First, Time: a.Time}
}
