// Package node runs one gateway process: it loads the policy, compiles it into
// a snapshot, serves it on the data-plane listeners and the admin listener, and
// reacts to signals — SIGHUP reloads (a bad policy leaves the last good one
// serving), SIGTERM drains and exits.
package node

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/blocklist"
	"github.com/portcullis/portcullis/internal/certs"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/control"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/monitor"
	"github.com/portcullis/portcullis/internal/policy/authn"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/backend"
	"github.com/portcullis/portcullis/internal/tracing"
	"github.com/redis/go-redis/v9"
)

// Options configure a node (the flags of `portcullis run`).
type Options struct {
	ConfigPath  string
	StoreURL    string            // default sqlite:portcullis.db
	AdminAddr   string            // default 127.0.0.1:9901
	ListenAddrs map[string]string // listener name → address, node-local
	AdminToken  string            // PORTCULLIS_ADMIN_TOKEN; generated and saved when empty
	RedisURL    string            // cluster-wide rate-limit counters; "" keeps them in memory
	// AuditRetention is how long audit records are kept; 0 keeps them
	// forever.
	AuditRetention time.Duration
	// NoAudit turns the audit trail off on this node: for measuring its
	// cost, never for production (Start logs a warning).
	NoAudit bool
	// AdminTLS, when set, serves the admin API over TLS with these files
	// (reloaded like an HTTPS listener's); with a ClientCAFile, only
	// clients with a certificate of it get in.
	AdminTLS *certs.Source
	// Version is the gateway's build version, for traces' resource.
	Version string
	Log     *slog.Logger
}

// Node is a running gateway.
type Node struct {
	opts    Options
	log     *slog.Logger
	holder  snapshot.Holder
	shadows shadow.Holder
	keys    authn.Keys       // the store's API keys, kept up to date by follow
	blocks  blocklist.Holder // the store's active blocks, kept up to date by follow
	monitor *monitor.Monitor // anomaly detection and alerts
	audit   *audit.Writer    // the audit trail's writer
	tracer  *tracing.Tracer  // nil when tracing is off
	// masterKeys seal the secrets set through the admin API (nil: no
	// master key set, so none can be); secrets resolves the secret names
	// of manifests: the environment, then the store.
	masterKeys *secrets.Keyring
	secrets    *secrets.Resolver
	// autoBlock is the Monitor's autoBlock.ttl in nanoseconds; 0: off.
	autoBlock atomic.Int64
	// adminCtx ends with the node, and with it the admin API's alert
	// streams, which would otherwise hold its shutdown.
	adminCtx    context.Context
	adminCancel context.CancelFunc
	limits      ratelimit.Counter // rate-limit counters, kept across policy versions
	local       *ratelimit.Store  // the in-memory counters (swept), when not in Redis
	quotas      ratelimit.QuotaCounter
	// localQuotas are the quota counters in memory, saved to the store, when
	// not in Redis (nil with --redis).
	localQuotas *ratelimit.QuotaStore
	saving      sync.WaitGroup // keepSavingQuotas
	redis       *redis.Client  // nil without --redis
	// lastLimitErr rate-limits the log line of counter store failures.
	lastLimitErr atomic.Int64
	// The key sync's state, owned by follow (and Start before it).
	keyCursor  int64
	keyEntries authn.KeySet
	roles      map[string][]string
	metrics    *metrics.Gateway
	server     *server.Server
	store      store.Store
	plane      *control.Plane
	shared     bool // the store is shared by a cluster: it, not the file, is authoritative
	admin      *http.Server
	adminLn    net.Listener
	cancel     context.CancelFunc // stops following the store
	// sigs receives SIGHUP, SIGTERM and SIGINT from the start of Start, so
	// that one sent before Run (just after "gateway started") waits for it
	// instead of killing the process.
	sigs chan os.Signal

	reloadMu     sync.Mutex
	warningsMu   sync.Mutex
	warnings     []string
	chainWarning string // set once at start

	// The block sync's state, owned by follow (and Start before it): the
	// blocks not removed, by id, expired ones included until the next sync
	// drops them.
	blockCursor  int64
	blockEntries map[string]blocklist.Entry
}

// Start opens the store, brings the policy in it up to date with the config
// (see Options), and serves the active version. An invalid policy is an error
// of type config.Problems.
func Start(opts Options) (*Node, error) {
	if opts.StoreURL == "" {
		opts.StoreURL = "sqlite:portcullis.db"
	}
	if opts.AdminAddr == "" {
		opts.AdminAddr = "127.0.0.1:9901"
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	ctx := context.Background()
	tracer, err := tracing.FromEnv(ctx, opts.Version)
	if err != nil {
		return nil, err
	}
	st, err := backend.Open(ctx, opts.StoreURL)
	if err != nil {
		return nil, err
	}
	masterKeys, err := secrets.LoadKeyring(os.Getenv, opts.Log)
	if err != nil {
		_ = st.Close()
		_ = tracer.Shutdown(ctx)
		return nil, err
	}
	n := &Node{opts: opts, log: opts.Log, metrics: metrics.New(), store: st, shared: !strings.HasPrefix(opts.StoreURL, "sqlite:"),
		local: ratelimit.NewStore(0), sigs: make(chan os.Signal, 4), tracer: tracer,
		masterKeys: masterKeys, secrets: secrets.NewResolver(st, masterKeys)}
	if k := masterKeys.Current(); k != nil {
		n.log.Info("secret store: master key loaded; the audit trail is encrypted with it", "keyId", k.ID())
		st.SetAuditSealer(masterKeys)
	}
	if tracer != nil {
		n.log.Info("tracing: exporting spans over OTLP/HTTP as the OTEL_* environment says")
	}
	signal.Notify(n.sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	n.limits = n.local
	if opts.RedisURL != "" {
		ropts, err := redis.ParseURL(opts.RedisURL)
		if err != nil {
			signal.Stop(n.sigs)
			_ = st.Close()
			_ = tracer.Shutdown(ctx)
			return nil, fmt.Errorf("--redis: %v", redactURL(err.Error(), opts.RedisURL))
		}
		n.redis = redis.NewClient(ropts)
		n.limits = ratelimit.NewRedisStore(n.redis)
		n.quotas = ratelimit.NewRedisQuotaStore(n.redis)
		if err := n.redis.Ping(context.Background()).Err(); err != nil {
			n.log.Warn("Redis is not reachable yet; rate-limited routes follow their onStoreFailure until it is", "error", err)
		}
	}
	if n.quotas == nil {
		n.localQuotas = ratelimit.NewQuotaStore(0)
		n.quotas = n.localQuotas
	}
	n.server = server.New(&n.holder, &n.shadows, n.metrics, n.log)
	n.server.Tracer = tracer
	n.newMonitor()
	n.startAudit()
	n.plane = control.New(st, &n.holder, &n.shadows, n.apply, n.deps(), control.ConfigDir(opts.ConfigPath), n.log)
	fail := func(err error) (*Node, error) {
		signal.Stop(n.sigs)
		if n.cancel != nil {
			n.cancel()
		}
		_ = n.server.Shutdown(ctx)
		if n.audit != nil {
			auditCtx, auditCancel := context.WithTimeout(ctx, auditCloseTimeout)
			_ = n.audit.Close(auditCtx)
			auditCancel()
		}
		_ = st.Close()
		_ = tracer.Shutdown(ctx)
		return nil, err
	}

	followCtx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	changes, err := st.Watch(followCtx) // before reading, so no change falls in between
	if err != nil {
		return fail(err)
	}
	n.checkChain(ctx)
	if n.localQuotas != nil {
		if err := n.loadQuotas(ctx); err != nil {
			return fail(err)
		}
	}
	if err := n.syncKeys(ctx, true); err != nil {
		return fail(err)
	}
	if err := n.syncBlocks(ctx); err != nil {
		return fail(err)
	}
	if err := n.bootstrap(ctx); err != nil {
		n.metrics.Reload("rejected")
		return fail(err)
	}
	n.metrics.Reload("applied")
	if n.chainWarning != "" { // raised now that the Monitor's webhook is set
		n.monitor.Raise("policy.chain_broken", "critical", "policy", n.chainWarning)
	}
	go n.follow(followCtx, changes)
	go n.monitor.Run(followCtx)
	go n.server.WatchCertificates(followCtx)
	go n.watchReview(followCtx)
	go n.sweepLimits(followCtx)
	if n.localQuotas != nil {
		n.saving.Go(func() { n.keepSavingQuotas(followCtx) })
	}

	token := opts.AdminToken
	if token == "" {
		tokenFile := filepath.Join(tokenDir(opts.StoreURL), "portcullis.admin-token")
		if token, err = loadOrCreateToken(tokenFile); err != nil {
			return fail(err)
		}
		n.log.Info("admin token is in a file (set PORTCULLIS_ADMIN_TOKEN to choose one)", "path", tokenFile)
	}
	if err := n.startAdmin(token); err != nil {
		return fail(err)
	}
	snap := n.holder.Load()
	// Starting read every key, consumer and block and compiled the policy:
	// garbage many times the size of what stays. Hand it back to the OS now
	// rather than keep it as idle heap (with 100,000 keys, 200 MB resident
	// instead of about 70).
	debug.FreeOSMemory()
	n.log.Info("gateway started", "gateway", snap.Policy.Gateway.Metadata.Name, "version", snap.Version, "admin", n.adminLn.Addr().String())
	return n, nil
}

// bootstrap makes the store's active version current and serves it. With
// the embedded store the file is authoritative: it becomes a new version when
// it differs from the active one. A shared store is authoritative: the file
// only fills an empty one.
func (n *Node) bootstrap(ctx context.Context) error {
	_, err := n.store.ActiveVersion(ctx)
	switch {
	case !n.shared:
		if _, err := n.plane.SyncFile(ctx, n.opts.ConfigPath, "loaded from "+n.opts.ConfigPath+" at start"); err != nil {
			return err
		}
	case errors.Is(err, store.ErrNotFound):
		if _, err := n.plane.SyncFile(ctx, n.opts.ConfigPath, "bootstrapped from "+n.opts.ConfigPath); err != nil && !errors.Is(err, store.ErrConflict) {
			return err // a conflict: another node bootstrapped first, which is as good
		}
	case err != nil:
		return err
	default:
		n.log.Info("the shared store is authoritative: the config file is not read", "config", n.opts.ConfigPath)
	}
	_, err = n.plane.LoadActive(ctx)
	return err
}

// follow applies the store's changes, from this node or another: a new
// policy version, keys and consumers changed (so that a revoked key is
// refused on every node within a second), or blocks changed (likewise).
func (n *Node) follow(ctx context.Context, changes <-chan store.Change) {
	for ch := range changes {
		switch ch.Kind {
		case store.KindPolicy:
			n.plane.PolicyChanged(ctx, ch.Version)
		case store.KindKeys, store.KindConsumers:
			if err := n.syncKeys(ctx, ch.Kind == store.KindConsumers); err != nil {
				n.log.Error("could not reload API keys; the previous set stays in force", "error", err)
				n.monitor.Raise(alertStoreUnavailable, "high", "store", "could not reload API keys: "+err.Error())
			}
		case store.KindSecrets:
			// The policy's secret names resolve again, to the new values;
			// a compile that fails (a name now found nowhere) keeps the
			// active policy, as a bad reload does.
			if err := n.plane.Recompile(); err != nil {
				n.log.Error("a stored secret changed but the policy could not be compiled with it; the active policy stays", "error", err)
			} else {
				n.log.Info("a stored secret changed; the policy was compiled again with it")
			}
		case store.KindBlocks:
			if err := n.syncBlocks(ctx); err != nil {
				n.log.Error("could not reload the blocks; the previous set stays in force", "error", err)
				n.monitor.Raise(alertStoreUnavailable, "high", "store", "could not reload the blocks: "+err.Error())
			}
		}
	}
}

// syncKeys brings the node's API keys up to date with the store: every key
// created or revoked since the last sync (all of them the first time), with
// its consumer's roles. full reloads everything (consumers changed: roles may
// have). Only the follow goroutine and Start call it.
func (n *Node) syncKeys(ctx context.Context, full bool) error {
	if full || n.keyEntries == nil {
		n.keyCursor, n.keyEntries = 0, authn.KeySet{}
		consumers, err := n.store.Consumers(ctx)
		if err != nil {
			return fmt.Errorf("loading consumers: %w", err)
		}
		n.roles = make(map[string][]string, len(consumers))
		for _, c := range consumers {
			n.roles[c.Name] = c.Roles
		}
	}
	keys, next, err := n.store.KeysChangedSince(ctx, n.keyCursor)
	if err != nil {
		return fmt.Errorf("loading API keys: %w", err)
	}
	if len(keys) == 0 && n.keyCursor > 0 {
		return nil
	}
	set := make(authn.KeySet, len(n.keyEntries)+len(keys))
	for h, k := range n.keyEntries {
		set[h] = k
	}
	for _, k := range keys {
		if len(k.Hash) != 32 {
			continue
		}
		entry := authn.Key{ID: k.ID, Consumer: k.Consumer, Roles: n.roles[k.Consumer], Revoked: k.RevokedAt != nil}
		if k.ExpiresAt != nil {
			entry.ExpiresAt = *k.ExpiresAt
		}
		set[[32]byte(k.Hash)] = entry
	}
	n.keyCursor, n.keyEntries = next, set
	n.keys.Replace(set)
	n.keys.ReplaceRoles(n.roles)
	return nil
}

// syncBlocks brings the node's blocks up to date with the store: the first
// time the blocks in force (not the whole history), then every block
// created or removed since the last sync. It rebuilds the lookup Set from
// the blocks in force, dropping those expired by now, and swaps it in. Only
// the follow goroutine and Start call it.
func (n *Node) syncBlocks(ctx context.Context) error {
	var changed []store.Block
	var next int64
	var err error
	if n.blockEntries == nil {
		// The cursor first: a change committed between the two reads is
		// read again at the next sync, which is harmless.
		if next, err = n.store.BlockCursor(ctx); err == nil {
			changed, err = n.store.Blocks(ctx, time.Now())
		}
	} else {
		changed, next, err = n.store.BlocksChangedSince(ctx, n.blockCursor)
	}
	if err != nil {
		return fmt.Errorf("loading blocks: %w", err)
	}
	if len(changed) == 0 && n.blockEntries != nil {
		return nil
	}
	now := time.Now()
	entries := make(map[string]blocklist.Entry, len(n.blockEntries)+len(changed))
	for id, e := range n.blockEntries {
		if now.Before(e.ExpiresAt) {
			entries[id] = e
		}
	}
	for _, b := range changed {
		if !b.Active(now) {
			delete(entries, b.ID)
			continue
		}
		entries[b.ID] = blocklist.Entry{ID: b.ID, Kind: b.Kind, Value: b.Value, ExpiresAt: b.ExpiresAt}
	}
	list := make([]blocklist.Entry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	n.blockCursor, n.blockEntries = next, entries
	n.blocks.Store(blocklist.New(list, now))
	return nil
}

// checkChain verifies the history's hash chain; a broken chain is logged as an
// error and shown in /readyz (the gateway still serves).
func (n *Node) checkChain(ctx context.Context) {
	rep, err := n.store.VerifyChain(ctx)
	switch {
	case err != nil:
		n.log.Error("could not verify the policy history", "error", err)
	case !rep.OK:
		n.log.Error("the policy history's hash chain is broken: a stored version was changed outside the gateway", "brokenAt", rep.BrokenAt, "versions", rep.Versions)
		n.chainWarning = fmt.Sprintf("the policy history's hash chain is broken at version %d", rep.BrokenAt)
	}
}

func (n *Node) deps() snapshot.Deps {
	return snapshot.Deps{Metrics: n.metrics, ListenAddrs: n.opts.ListenAddrs, Keys: &n.keys, Log: n.log,
		Limits: n.limits, Quotas: n.quotas, OnLimitStoreError: n.limitStoreFailed, Blocks: &n.blocks,
		Secrets: n.secrets}
}

// limitStoreFailed counts a failed call to the counter store and logs it,
// at most once every 10 seconds.
func (n *Node) limitStoreFailed(err error) {
	n.metrics.LimitStoreError()
	now := time.Now().UnixNano()
	last := n.lastLimitErr.Load()
	if now-last > int64(10*time.Second) && n.lastLimitErr.CompareAndSwap(last, now) {
		n.log.Error("the rate-limit counter store failed; routes follow their onStoreFailure", "error", err)
		n.monitor.Raise(alertStoreUnavailable, "high", "redis", "the rate-limit and quota counter store failed; routes follow their onStoreFailure: "+err.Error())
	}
}

func (n *Node) startAdmin(token string) error {
	var serving *certs.Serving
	if src := n.opts.AdminTLS; src != nil {
		loaded, err := certs.Load(*src)
		if err != nil {
			return fmt.Errorf("admin TLS: %w", err)
		}
		serving = certs.NewServing(loaded)
	}
	ln, err := net.Listen("tcp", n.opts.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	n.adminLn = ln
	n.adminCtx, n.adminCancel = context.WithCancel(context.Background())
	if serving != nil {
		ln = tls.NewListener(ln, serving.Config())
		go n.watchAdminCertificates(serving) // until adminCtx ends
	}
	n.admin = &http.Server{
		Handler: admin.New(admin.Config{
			Token:    token,
			Metrics:  n.metrics.Handler(),
			Holder:   &n.holder,
			Plane:    n.plane,
			Monitor:  n.monitor,
			Secrets:  n.masterKeys,
			Warnings: n.currentWarnings,
			Log:      n.log,
		}),
		BaseContext:       func(net.Listener) context.Context { return n.adminCtx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := n.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("admin listener stopped", "error", err)
		}
	}()
	return nil
}

// watchAdminCertificates reloads the admin listener's certificates when
// their files change, until the node stops.
func (n *Node) watchAdminCertificates(serving *certs.Serving) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var problem string
	for {
		select {
		case <-n.adminCtx.Done():
			return
		case <-tick.C:
		}
		reloaded, err := serving.Check()
		switch {
		case err != nil && err.Error() != problem:
			problem = err.Error()
			n.log.Error("admin certificates not reloaded; the loaded ones keep serving", "error", err)
		case err == nil:
			problem = ""
			if reloaded {
				n.log.Info("admin certificates reloaded")
			}
		}
	}
}

// Reload re-reads the policy, compiles it fully and swaps it in. On any error
// the active snapshot keeps serving, every problem is logged, and /readyz shows
// a warning until a reload succeeds.
func (n *Node) Reload() error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	err := n.reload()
	if err != nil {
		n.metrics.Reload("rejected")
		n.setWarnings([]string{"the last reload was rejected at " + time.Now().UTC().Format(time.RFC3339) + "; the previous policy is still serving"})
		var problems config.Problems
		if errors.As(err, &problems) {
			for _, p := range problems {
				n.log.Error("reload rejected", "problem", p.String())
			}
		} else {
			n.log.Error("reload rejected", "error", err)
		}
		return err
	}
	n.metrics.Reload("applied")
	n.setWarnings(nil)
	n.log.Info("policy reloaded", "config", n.opts.ConfigPath)
	return nil
}

func (n *Node) reload() error {
	n.server.ReloadCertificates() // certificate files are re-read on SIGHUP too
	ctx := context.Background()
	if n.shared {
		n.log.Info("the shared store is authoritative: SIGHUP re-reads it, not the config file")
		served := n.holder.Load().Version
		v, err := n.plane.LoadActive(ctx)
		if err != nil || v.Number > served {
			return err
		}
		// The same version: compiled again all the same, so that the files
		// it names (a Service's CA, client certificates) are re-read.
		return n.plane.Recompile()
	}
	_, err := n.plane.SyncFile(ctx, n.opts.ConfigPath, "reloaded from "+n.opts.ConfigPath+" on SIGHUP")
	return err
}

func (n *Node) setWarnings(w []string) {
	n.warningsMu.Lock()
	n.warnings = w
	n.warningsMu.Unlock()
}

func (n *Node) currentWarnings() []string {
	n.warningsMu.Lock()
	defer n.warningsMu.Unlock()
	w := append([]string(nil), n.warnings...)
	if n.chainWarning != "" {
		w = append(w, n.chainWarning)
	}
	if overdue, msg := reviewOverdue(n.holder.Load(), time.Now()); overdue {
		w = append(w, msg)
	}
	return w
}

// sweepLimits drops idle rate-limit keys once a minute, so that memory
// follows the traffic of the last window, not of all time.
func (n *Node) sweepLimits(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			n.local.Sweep(now)
		}
	}
}

// reviewOverdue reports whether the policy's review.reviewBy date has passed
// (the review is due by the end of that day, UTC).
func reviewOverdue(snap *snapshot.Snapshot, now time.Time) (bool, string) {
	if snap == nil || snap.Policy.Gateway.Spec.Review == nil {
		return false, ""
	}
	r := snap.Policy.Gateway.Spec.Review
	if !now.After(r.ReviewBy.Time.Add(24 * time.Hour)) {
		return false, ""
	}
	return true, fmt.Sprintf("the policy's review was due on %s (owner %s)", r.ReviewBy.Format("2006-01-02"), r.Owner)
}

// watchReview keeps the review-overdue metric current and logs a warning
// when the active policy's review date passes, then once a day while overdue.
func (n *Node) watchReview(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var lastWarned time.Time
	for {
		now := time.Now()
		overdue, msg := reviewOverdue(n.holder.Load(), now)
		n.metrics.SetReviewOverdue(overdue)
		if overdue && now.Sub(lastWarned) >= 24*time.Hour {
			n.log.Warn("policy review overdue", "detail", msg)
			n.monitor.Raise("policy.review_overdue", "low", "policy", msg)
			lastWarned = now
		} else if !overdue {
			lastWarned = time.Time{}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Snapshot returns the active snapshot.
func (n *Node) Snapshot() *snapshot.Snapshot { return n.holder.Load() }

// ListenerAddrs returns the actual address of every listener by name.
func (n *Node) ListenerAddrs() map[string]string {
	actual := n.server.Addrs()
	out := map[string]string{}
	for _, l := range n.holder.Load().Listeners {
		out[l.Name] = actual[l.Addr]
	}
	return out
}

// AdminAddr returns the admin listener's actual address.
func (n *Node) AdminAddr() string { return n.adminLn.Addr().String() }

// alertsStoreTimeout bounds how long Shutdown waits for the last alerts
// to be stored.
const alertsStoreTimeout = 10 * time.Second

// auditCloseTimeout bounds how long Shutdown waits for the audit queue to
// be written to a store that fails.
const auditCloseTimeout = 30 * time.Second

// Shutdown stops accepting, drains requests in flight for at most
// server.DrainTimeout, writes the audit queue (after the drain, so that
// every drained request is recorded; before the store closes), saves the
// quota counters and flushes the logs.
func (n *Node) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), server.DrainTimeout)
	defer cancel()
	signal.Stop(n.sigs)
	err := n.server.Shutdown(ctx)
	if n.audit != nil {
		auditCtx, auditCancel := context.WithTimeout(context.Background(), auditCloseTimeout)
		defer auditCancel()
		if aerr := n.audit.Close(auditCtx); aerr != nil {
			n.log.Error("the audit queue was not written whole", "error", aerr)
			err = errors.Join(err, aerr)
		}
	}
	if terr := n.tracer.Shutdown(ctx); terr != nil {
		n.log.Warn("tracing: the last spans were not exported", "error", terr)
	}
	n.adminCancel()
	_ = n.admin.Shutdown(ctx)
	n.cancel()
	select { // the alerts raised up to now are stored
	case <-n.monitor.Stopped():
	case <-time.After(alertsStoreTimeout):
		n.log.Error("the last alerts were not all stored")
	}
	n.saving.Wait()
	if n.localQuotas != nil {
		n.saveQuotas(context.Background()) // after the drain: nothing is counted any more
	}
	n.holder.Load().Release(nil)
	if n.redis != nil {
		_ = n.redis.Close()
	}
	return errors.Join(err, n.store.Close())
}

// Run serves until SIGTERM or SIGINT (or ctx ends), reloading on SIGHUP.
func (n *Node) Run(ctx context.Context) error {
	defer signal.Stop(n.sigs)
	for {
		select {
		case <-ctx.Done():
			return n.Shutdown()
		case s := <-n.sigs:
			if s == syscall.SIGHUP {
				_ = n.Reload()
				continue
			}
			n.log.Info("shutting down", "signal", s.String())
			return n.Shutdown()
		}
	}
}

// redactURL hides a URL's password in an error message about it.
func redactURL(msg, rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return strings.ReplaceAll(msg, pw, "…")
		}
	}
	return msg
}

// tokenDir is where the generated admin token is kept: beside an embedded
// store's file, or in the working folder for a shared store.
func tokenDir(storeURL string) string {
	if path, ok := strings.CutPrefix(storeURL, "sqlite:"); ok && !strings.HasPrefix(path, ":memory:") {
		return filepath.Dir(path)
	}
	return "."
}

// loadOrCreateToken reads the admin token from path, or creates a random one
// there with mode 0600.
func loadOrCreateToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("saving the admin token: %w", err)
	}
	return token, nil
}
