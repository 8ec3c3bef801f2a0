// Package admin serves the admin API (CONTRACT §4) on its own listener:
// liveness and readiness without credentials, everything else behind a bearer
// token compared in constant time.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/control"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/monitor"
	"github.com/portcullis/portcullis/internal/requestid"
	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// Config is what the admin API serves.
type Config struct {
	Token   string // the bearer token; must not be empty
	Metrics http.Handler
	Holder  *snapshot.Holder
	// Plane serves the policy and consumer endpoints (none when nil).
	Plane *control.Plane
	// Monitor serves the alerts (none when nil).
	Monitor *monitor.Monitor
	// Secrets seals the secrets set through the API (nil: no master key,
	// and setting one is refused).
	Secrets *secrets.Keyring
	// Warnings returns the current warnings shown in /readyz (may be nil).
	Warnings func() []string
	// Log receives the record of changes made through the API (blocks).
	// Default slog.Default().
	Log *slog.Logger
}

// New returns the admin API handler.
func New(cfg Config) http.Handler {
	tokenHash := sha256.Sum256([]byte(cfg.Token))
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		snap := cfg.Holder.Load()
		warnings := []string{}
		if cfg.Warnings != nil {
			warnings = append(warnings, cfg.Warnings()...)
		}
		if snap == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "warnings": warnings})
			return
		}
		listeners := map[string]string{}
		for _, l := range snap.Listeners {
			listeners[l.Name] = l.Addr
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"ready":      true,
			"gateway":    snap.Policy.Gateway.Metadata.Name,
			"version":    snap.Version,
			"compiledAt": snap.CompiledAt.UTC().Format(time.RFC3339),
			"listeners":  listeners,
			"warnings":   warnings,
		})
	})
	protected := http.NewServeMux()
	protected.Handle("GET /metrics", cfg.Metrics)
	// Go's profiler, for operators chasing a hot spot; behind the token like the rest.
	protected.HandleFunc("GET /debug/pprof/", pprof.Index)
	protected.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	protected.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	if cfg.Plane != nil {
		(&policyAPI{plane: cfg.Plane}).register(protected)
		(&consumerAPI{store: cfg.Plane.Store()}).register(protected)
		(&blockAPI{store: cfg.Plane.Store(), log: cfg.Log}).register(protected)
		(&auditAPI{store: cfg.Plane.Store()}).register(protected)
		(&secretAPI{store: cfg.Plane.Store(), keys: cfg.Secrets, log: cfg.Log}).register(protected)
	}
	if cfg.Monitor != nil {
		(&alertAPI{monitor: cfg.Monitor}).register(protected)
	}
	protected.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, httperr.New(http.StatusNotFound, httperr.DecisionNotFound, "no such admin endpoint", nil), r.Header.Get(requestid.Header))
	})
	mux.Handle("/", requireToken(tokenHash, protected))
	return withRequestID(mux)
}

// withRequestID gives every admin response an X-Request-Id, as on the data plane.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestid.FromHeader(r.Header[requestid.Header])
		r.Header[requestid.Header] = []string{id}
		w.Header()[requestid.Header] = []string{id}
		next.ServeHTTP(w, r)
	})
}

// requireToken lets a request through only with `Authorization: Bearer TOKEN`.
// Hashing both sides first makes the comparison constant-time in the length too.
func requireToken(want [32]byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		got := sha256.Sum256([]byte(token))
		if !ok || token == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			e := httperr.New(http.StatusUnauthorized, httperr.DecisionUnauthenticated, "a valid admin bearer token is required", nil)
			e.Header = http.Header{"Www-Authenticate": {`Bearer realm="portcullis-admin"`}}
			httperr.Write(w, e, r.Header.Get(requestid.Header))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
