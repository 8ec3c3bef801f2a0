package node

import (
	"context"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/monitor"
	"github.com/portcullis/portcullis/internal/monitor/detect"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
)

// alertStoreUnavailable is the kind of the alert raised when a store the node
// depends on (the policy store, Redis) fails.
const alertStoreUnavailable = "store.unavailable"

// defaultAutoBlockTTL is autoBlock.ttl when unset.
const defaultAutoBlockTTL = 15 * time.Minute

// newMonitor creates the node's anomaly detection and has the edge report
// every completed request to it; Start runs it.
func (n *Node) newMonitor() {
	n.monitor = monitor.New(monitor.Options{Log: n.log, OnAlert: n.alerted, OnDrop: n.metrics.MonitorEventDropped,
		Store: n.store, Retention: n.opts.AuditRetention})
	n.server.OnRequest = n.monitor.Observe
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.monitor.Load(ctx); err != nil {
		n.log.Error("the stored alerts could not be read; the alert list starts empty", "error", err)
	}
}

// startAudit starts the audit trail's writer and has the edge hand it every
// completed request. Drops are counted, and alerted through the Monitor
// (newMonitor first). With NoAudit it only says, loudly, that there is no
// trail.
func (n *Node) startAudit() {
	if n.opts.NoAudit {
		n.log.Warn("the audit trail is off on this node (--audit=false): calls through it are not recorded")
		return
	}
	n.audit = audit.New(audit.Options{
		Store:     n.store,
		Log:       n.log,
		Retention: n.opts.AuditRetention,
		OnDrop:    n.metrics.AuditDropped,
		Alert: func(detail string) {
			n.monitor.Raise(audit.AlertDropped, detect.SeverityHigh, "audit", detail)
		},
	})
	n.metrics.AuditQueueDepth(n.audit.Depth)
	n.server.OnAudit = n.audit.Record
	n.audit.Start()
}

// apply serves a snapshot (see server.Apply) and applies its Monitor
// manifest: the detectors' settings, where alerts go, auto-block.
func (n *Node) apply(s *snapshot.Snapshot) error {
	if err := n.server.Apply(s); err != nil {
		return err
	}
	settings := monitor.Settings{Detectors: detect.DefaultConfig()}
	var autoBlock time.Duration // 0: off
	if m := s.Policy.Monitor; m != nil {
		// Validated with the policy: an error here cannot happen.
		if cfg, err := detect.ParseSettings(m.Spec.Detectors); err == nil {
			settings.Detectors = cfg
		}
		if a := m.Spec.Alerts; a != nil && a.Webhook != "" {
			settings.Webhook = a.Webhook
			if a.SecretEnv != "" {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				secret, err := n.secrets.Lookup(ctx, a.SecretEnv)
				cancel()
				if err != nil {
					// Receivers that check signatures would refuse unsigned
					// alerts; sending none is the honest failure.
					n.log.Error("the alert webhook's secret is not available; alerts are not posted", "secretEnv", a.SecretEnv, "error", err)
					settings.Webhook = ""
				}
				settings.Secret = secret
			}
		}
		if b := m.Spec.AutoBlock; b != nil && b.Enabled {
			autoBlock = b.TTL.D()
			if autoBlock == 0 {
				autoBlock = defaultAutoBlockTTL
			}
		}
	}
	n.autoBlock.Store(int64(autoBlock))
	n.monitor.Configure(settings)
	return nil
}

// alerted counts a new alert and, with auto-block on, blocks its subject
// (an address, a consumer or a key) for the configured time. A prompt
// injection alert is not acted on: one heuristic match is evidence for a
// person to weigh, not proof, and the guard's block mode already refuses
// the prompt itself.
func (n *Node) alerted(a detect.Alert) {
	if a.Count != 1 {
		return // a repeat within the cooldown: counted and acted on already
	}
	n.metrics.Alert(a.Kind)
	ttl := time.Duration(n.autoBlock.Load())
	kind, value, ok := strings.Cut(a.Subject, ":")
	if ttl == 0 || !ok || kind != store.BlockIP && kind != store.BlockConsumer && kind != store.BlockKey || a.Kind == detect.KindPromptInjection {
		return
	}
	go func() { // off the engine's goroutine: a store write takes milliseconds
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := n.store.CreateBlock(ctx, store.Block{ID: store.NewBlockID(), Kind: kind, Value: value,
			Reason: "auto-block: " + a.Kind + ": " + a.Detail, Author: "auto-block", ExpiresAt: time.Now().Add(ttl)})
		if err != nil {
			n.log.Error("auto-block failed", "alert", a.ID, "subject", a.Subject, "error", err)
			return
		}
		n.log.Warn("block created", "id", b.ID, "kind", b.Kind, "value", b.Value, "reason", b.Reason, "author", b.Author, "expiresAt", b.ExpiresAt, "alert", a.ID)
	}()
}
