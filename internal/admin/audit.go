package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/adminclient"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/store"
)

// auditAPI serves the audit trail (CONTRACT §4).
type auditAPI struct{ store store.Store }

func (a *auditAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/audit", a.list)
}

func (a *auditAPI) list(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	q := store.AuditQuery{Consumer: params.Get("consumer"), Route: params.Get("route"), Cursor: params.Get("cursor")}
	if v := params.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "since must be an RFC 3339 time such as 2026-11-28T12:00:00Z", err))
			return
		}
		q.Since = t
	}
	if v := params.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid,
				"limit must be a whole number from 1 to "+strconv.Itoa(store.MaxAuditLimit), err))
			return
		}
		q.Limit = n
	}
	recs, next, err := a.store.Audit(r.Context(), q)
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	out := make([]adminclient.AuditRecord, len(recs))
	for i, rec := range recs {
		out[i] = adminclient.AuditRecord{Time: rec.Time, RequestID: rec.RequestID, Consumer: rec.Consumer, ClientIP: rec.ClientIP,
			Method: rec.Method, Path: rec.Path, Route: rec.Route, Status: rec.Status, Decision: rec.Decision, Reason: rec.Reason,
			PolicyVersion: rec.PolicyVersion, LatencyMs: rec.LatencyMs, Listener: rec.Listener, KeyID: rec.KeyID}
		if rec.AI != nil {
			// The same fields: a conversion, so that they cannot drift apart.
			ai := adminclient.AuditAI(*rec.AI)
			out[i].AI = &ai
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "next": next})
}
