// Package node runs one gateway process: it loads the policy, compiles it into
// a snapshot, serves it on the data-plane listeners and the admin listener, and
// reacts to signals — SIGHUP reloads (a bad policy leaves the last good one
// serving), SIGTERM drains and exits.
package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Options configure a node (the flags of `portcullis run`).
type Options struct {
	ConfigPath  string
	StoreURL    string            // default sqlite:portcullis.db
	AdminAddr   string            // default 127.0.0.1:9901
	ListenAddrs map[string]string // listener name → address, node-local
	AdminToken  string            // PORTCULLIS_ADMIN_TOKEN; generated and saved when empty
	Log         *slog.Logger
}

// Node is a running gateway.
type Node struct {
	opts    Options
	log     *slog.Logger
	holder  snapshot.Holder
	metrics *metrics.Gateway
	server  *server.Server
	admin   *http.Server
	adminLn net.Listener

	reloadMu   sync.Mutex
	warningsMu sync.Mutex
	warnings   []string
}

// Start loads and serves the policy. An invalid policy is an error of type
// config.Problems.
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
	storePath, err := sqlitePath(opts.StoreURL)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: opts, log: opts.Log, metrics: metrics.New()}
	n.server = server.New(&n.holder, n.metrics, n.log)

	policy, err := config.Load(opts.ConfigPath)
	if err != nil {
		n.metrics.Reload("rejected")
		return nil, err
	}
	snap, err := snapshot.Compile(policy, n.deps(), nil)
	if err != nil {
		return nil, err
	}
	if err := n.server.Apply(snap); err != nil {
		snap.Release(nil)
		return nil, err
	}
	n.metrics.Reload("applied")

	token := opts.AdminToken
	if token == "" {
		tokenFile := filepath.Join(filepath.Dir(storePath), "portcullis.admin-token")
		if token, err = loadOrCreateToken(tokenFile); err != nil {
			_ = n.server.Shutdown(context.Background())
			return nil, err
		}
		n.log.Info("admin token is in a file (set PORTCULLIS_ADMIN_TOKEN to choose one)", "path", tokenFile)
	}
	if err := n.startAdmin(token); err != nil {
		_ = n.server.Shutdown(context.Background())
		return nil, err
	}
	n.log.Info("gateway started", "gateway", policy.Gateway.Metadata.Name, "admin", n.adminLn.Addr().String())
	return n, nil
}

func (n *Node) deps() snapshot.Deps {
	return snapshot.Deps{Metrics: n.metrics, ListenAddrs: n.opts.ListenAddrs}
}

func (n *Node) startAdmin(token string) error {
	ln, err := net.Listen("tcp", n.opts.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	n.adminLn = ln
	n.admin = &http.Server{
		Handler: admin.New(admin.Config{
			Token:    token,
			Metrics:  n.metrics.Handler(),
			Holder:   &n.holder,
			Warnings: n.currentWarnings,
		}),
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
	policy, err := config.Load(n.opts.ConfigPath)
	if err != nil {
		return err
	}
	prev := n.holder.Load()
	snap, err := snapshot.Compile(policy, n.deps(), prev)
	if err != nil {
		return err
	}
	if err := n.server.Apply(snap); err != nil {
		snap.Release(prev)
		return err
	}
	return nil
}

func (n *Node) setWarnings(w []string) {
	n.warningsMu.Lock()
	n.warnings = w
	n.warningsMu.Unlock()
}

func (n *Node) currentWarnings() []string {
	n.warningsMu.Lock()
	defer n.warningsMu.Unlock()
	return append([]string(nil), n.warnings...)
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

// Shutdown stops accepting, drains requests in flight for at most
// server.DrainTimeout, and flushes the logs.
func (n *Node) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), server.DrainTimeout)
	defer cancel()
	err := n.server.Shutdown(ctx)
	_ = n.admin.Shutdown(ctx)
	n.holder.Load().Release(nil)
	return err
}

// Run serves until SIGTERM or SIGINT (or ctx ends), reloading on SIGHUP.
func (n *Node) Run(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case <-ctx.Done():
			return n.Shutdown()
		case s := <-sigs:
			if s == syscall.SIGHUP {
				_ = n.Reload()
				continue
			}
			n.log.Info("shutting down", "signal", s.String())
			return n.Shutdown()
		}
	}
}

// sqlitePath returns the file of a sqlite: store URL. Other stores arrive with
// the policy store.
func sqlitePath(storeURL string) (string, error) {
	path, ok := strings.CutPrefix(storeURL, "sqlite:")
	if !ok || path == "" {
		return "", fmt.Errorf("store %q is not supported yet: this version has only the embedded store (sqlite:PATH)", redactURL(storeURL))
	}
	return path, nil
}

// redactURL hides a password in a store URL before it is shown.
func redactURL(s string) string {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if scheme := strings.Index(s, "://"); scheme >= 0 && scheme < at {
			return s[:scheme+3] + "…@" + s[at+1:]
		}
	}
	return s
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
