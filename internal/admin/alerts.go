package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/monitor"
	"github.com/portcullis/portcullis/internal/monitor/detect"
)

// sseKeepAlive is how often an idle alert stream sends a comment, so that
// proxies in between do not close it.
const sseKeepAlive = 15 * time.Second

// alertAPI serves the node's alerts (CONTRACT §4).
type alertAPI struct{ monitor *monitor.Monitor }

func (a *alertAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/alerts", a.list)
	mux.HandleFunc("GET /admin/v1/alerts/stream", a.stream)
}

// alertJSON is an alert as the admin API shows it.
type alertJSON struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	First    time.Time `json:"first"`
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	Subject  string    `json:"subject"`
	Detail   string    `json:"detail"`
	Count    int       `json:"count"`
}

func alertToJSON(a detect.Alert) alertJSON {
	return alertJSON{ID: a.ID, Time: a.Time.UTC(), First: a.First.UTC(), Kind: a.Kind, Severity: a.Severity, Subject: a.Subject, Detail: a.Detail, Count: a.Count}
}

// list answers {alerts: [...]}, newest first: this node's and the store's
// (every node's, on a shared store). When the store cannot be read, the
// node's own are still listed.
func (a *alertAPI) list(w http.ResponseWriter, r *http.Request) {
	alerts, _ := a.monitor.List(r.Context())
	out := make([]alertJSON, len(alerts))
	for i, al := range alerts {
		out[i] = alertToJSON(al)
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

// stream sends alerts as server-sent events (`event: alert`, the alert as
// JSON data) as they are raised or updated, until the client goes away.
func (a *alertAPI) stream(w http.ResponseWriter, r *http.Request) {
	alerts, stop := a.monitor.Subscribe()
	defer stop()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case al := <-alerts:
			data, _ := json.Marshal(alertToJSON(al))
			if _, err := fmt.Fprintf(w, "id: %s\nevent: alert\ndata: %s\n\n", al.ID, data); err != nil {
				return
			}
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
