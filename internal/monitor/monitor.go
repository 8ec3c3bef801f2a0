// Package monitor turns the gateway's traffic into alerts: the edge hands it
// one event per completed request through a bounded queue (never blocking
// the request path), one goroutine feeds them to the detection engine
// (package detect), and every alert it raises is kept (in memory and in the
// store), streamed to subscribers (the admin API's SSE), posted to the
// Monitor's webhook signed with HMAC-SHA256, counted and logged.
package monitor

import (
	"context"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/monitor/detect"
)

// queueSize bounds the events waiting for the engine. The engine takes an
// event in about 0.1 µs, so a full queue means the node is starved of CPU;
// events are then dropped and counted, never waited for.
const queueSize = 1 << 16

// drainInterval is how often the engine takes the queued events: a few ms
// more before an alert, against a goroutine wake-up a request (the queue
// holds 1.3 s of 50,000 requests/s).
const drainInterval = 20 * time.Millisecond

// keptAlerts is how many alerts the node keeps for the admin API.
const keptAlerts = 1000

// tickInterval is how often the engine frees the state of idle subjects.
const tickInterval = 10 * time.Second

// Options configure a Monitor.
type Options struct {
	Log *slog.Logger
	// OnAlert is told of every alert raised or updated, on the engine's
	// goroutine (metrics, auto-block); may be nil.
	OnAlert func(detect.Alert)
	// OnDrop is told when an event is dropped because the queue is full.
	OnDrop func()
	// Store, when set, keeps alerts across restarts (see Load, List).
	Store AlertStore
	// Retention is how long stored alerts are kept after their latest
	// occurrence; 0 keeps them forever.
	Retention time.Duration
}

// Settings are what a policy's Monitor manifest sets.
type Settings struct {
	Detectors detect.Config
	Webhook   string // "" for none
	Secret    string // the webhook's HMAC key ("" to send unsigned)
}

// Monitor is the node's anomaly detection and alert delivery.
type Monitor struct {
	opts     Options
	events   chan detect.Event
	settings chan Settings
	dropped  atomic.Int64
	raised   atomic.Uint64 // numbers the IDs of alerts from Raise

	mu      sync.Mutex
	alerts  []detect.Alert // oldest first, at most keptAlerts
	subs    map[chan detect.Alert]struct{}
	saves   chan detect.Alert // to the store, in order (keep)
	kept    chan struct{}     // closed when keep returns
	webhook atomic.Pointer[webhook]
	hookMu  sync.Mutex // serializes Configure's webhook changes
}

// New returns a Monitor with the default detectors; Run starts it.
func New(opts Options) *Monitor {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Monitor{
		opts:     opts,
		events:   make(chan detect.Event, queueSize),
		settings: make(chan Settings, 1),
		subs:     map[chan detect.Alert]struct{}{},
		saves:    make(chan detect.Alert, saveQueue),
		kept:     make(chan struct{}),
	}
}

// Observe queues one completed request; it never blocks.
func (m *Monitor) Observe(ev detect.Event) {
	select {
	case m.events <- ev:
	default:
		m.dropped.Add(1)
		if m.opts.OnDrop != nil {
			m.opts.OnDrop()
		}
	}
}

// Configure applies a policy's Monitor settings. The engine keeps its state
// unless the detectors' settings changed.
func (m *Monitor) Configure(s Settings) {
	// The webhook changes here, at once, so that an alert raised right
	// after (Raise, at start) already has it.
	m.hookMu.Lock()
	if h := m.webhook.Load(); h == nil || h.url != s.Webhook || h.secret != s.Secret {
		var next *webhook
		if s.Webhook != "" {
			next = newWebhook(s.Webhook, s.Secret, m.opts.Log)
		}
		m.webhook.Store(next)
		if h != nil {
			h.close()
		}
	}
	m.hookMu.Unlock()
	for {
		select {
		case m.settings <- s:
			return
		default:
			select { // replace a pending, older setting
			case <-m.settings:
			default:
			}
		}
	}
}

// Run feeds the queued events to the engine, and stores the alerts, until
// ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	go m.keep(ctx)
	l := loop{cfg: detect.DefaultConfig()}
	l.engine = detect.New(l.cfg)
	defer m.closeWebhook()
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	// Events are taken every drainInterval, not one wake-up each: a busy
	// gateway would otherwise pay a goroutine switch a request.
	drain := time.NewTicker(drainInterval)
	defer drain.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-m.settings:
			l.apply(s)
		case <-drain.C:
			m.observeQueued(&l)
		case now := <-tick.C:
			l.engine.Tick(now)
		}
	}
}

// observeQueued hands the queued events to the engine. New settings go
// first, so that the events queued after Configure meet them.
func (m *Monitor) observeQueued(l *loop) {
	for {
		select {
		case s := <-m.settings:
			l.apply(s)
			continue
		default:
		}
		select {
		case ev := <-m.events:
			for _, a := range l.engine.Observe(ev) {
				m.raise(a)
			}
		default:
			return
		}
	}
}

// loop is Run's state, owned by its goroutine.
type loop struct {
	cfg    detect.Config
	engine *detect.Engine
}

// apply takes new detector settings: a new engine when they changed (it
// forgets what it learned).
func (l *loop) apply(s Settings) {
	if !reflect.DeepEqual(s.Detectors, l.cfg) {
		l.cfg, l.engine = s.Detectors, detect.New(s.Detectors)
	}
}

// closeWebhook stops delivery when the Monitor stops.
func (m *Monitor) closeWebhook() {
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	if h := m.webhook.Swap(nil); h != nil {
		h.close()
	}
}

// raise keeps, streams, posts, logs and reports one alert (raised, or
// updated by a repeat within the cooldown).
func (m *Monitor) raise(a detect.Alert) {
	m.opts.Log.Warn("alert", "id", a.ID, "kind", a.Kind, "severity", a.Severity, "subject", a.Subject, "detail", a.Detail, "count", a.Count)
	m.mu.Lock()
	replaced := false
	for i := len(m.alerts) - 1; i >= 0; i-- {
		if m.alerts[i].ID == a.ID {
			m.alerts = append(append(m.alerts[:i:i], m.alerts[i+1:]...), a)
			replaced = true
			break
		}
	}
	if !replaced {
		if len(m.alerts) == keptAlerts {
			m.alerts = append(m.alerts[:0:0], m.alerts[1:]...)
		}
		m.alerts = append(m.alerts, a)
	}
	for ch := range m.subs {
		select {
		case ch <- a:
		default: // a subscriber that does not keep up misses alerts, not the gateway
		}
	}
	m.mu.Unlock()
	m.queueSave(a)
	if hook := m.webhook.Load(); hook != nil && a.Count == 1 {
		hook.send(a)
	}
	if m.opts.OnAlert != nil {
		m.opts.OnAlert(a)
	}
}

// raisedCooldown is how long after an alert from Raise a repeat of its
// kind and subject updates it instead of starting a new one, as the
// engine's default cooldown does for its own.
const raisedCooldown = 10 * time.Minute

// Raise raises an alert found outside the detection engine (the audit
// writer's drops): it is kept, streamed, posted, logged and reported like
// the engine's. A repeat of the same kind and subject within
// raisedCooldown updates the alert (same ID, Count incremented), so that
// the webhook hears of it once.
func (m *Monitor) Raise(kind, severity, subject, detail string) {
	now := time.Now().UTC()
	a := detect.Alert{Time: now, First: now, Kind: kind, Severity: severity, Subject: subject, Detail: detail, Count: 1}
	m.mu.Lock()
	for i := len(m.alerts) - 1; i >= 0; i-- {
		if p := m.alerts[i]; p.Kind == kind && p.Subject == subject && now.Sub(p.Time) < raisedCooldown {
			a.ID, a.First, a.Count = p.ID, p.First, p.Count+1
			break
		}
	}
	m.mu.Unlock()
	if a.ID == "" {
		a.ID = "al-" + strconv.FormatInt(now.UnixNano(), 36) + "-r" + strconv.FormatUint(m.raised.Add(1), 36)
	}
	m.raise(a)
}

// Alerts returns the kept alerts, newest (most recently raised or updated)
// first.
func (m *Monitor) Alerts() []detect.Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]detect.Alert, len(m.alerts))
	for i, a := range m.alerts {
		out[len(m.alerts)-1-i] = a
	}
	return out
}

// Subscribe returns a channel of alerts as they are raised or updated, and
// the function that ends the subscription.
func (m *Monitor) Subscribe() (<-chan detect.Alert, func()) {
	ch := make(chan detect.Alert, 64)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}

// Dropped is how many events were dropped because the queue was full.
func (m *Monitor) Dropped() int64 { return m.dropped.Load() }
