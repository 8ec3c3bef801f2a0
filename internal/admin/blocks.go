package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/store"
)

// blockAPI serves the incident-response blocks. Until the audit trail
// exists, every block created or removed is logged at Info with who, what
// and why, so that the record exists.
type blockAPI struct {
	store store.Store
	log   *slog.Logger
}

func (a *blockAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/blocks", a.create)
	mux.HandleFunc("GET /admin/v1/blocks", a.list)
	mux.HandleFunc("DELETE /admin/v1/blocks/{id}", a.remove)
}

// blockBody is the body of POST /admin/v1/blocks.
const blockBody = `the body is {"ip" | "consumer" | "keyId": "…", "ttl": "15m", "reason": "…"}`

func (a *blockAPI) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IP       *string `json:"ip"`
		Consumer *string `json:"consumer"`
		KeyID    *string `json:"keyId"`
		TTL      string  `json:"ttl"`
		Reason   string  `json:"reason"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields() // a misspelt subject must not pass for a missing one
	if err := dec.Decode(&body); err != nil {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, blockBody, err))
		return
	}
	b := store.Block{Reason: body.Reason, Author: adminAuthor}
	subjects := 0
	for kind, v := range map[string]*string{store.BlockIP: body.IP, store.BlockConsumer: body.Consumer, store.BlockKey: body.KeyID} {
		if v != nil {
			subjects++
			b.Kind, b.Value = kind, *v
		}
	}
	if subjects != 1 {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "name exactly one of ip, consumer and keyId", nil))
		return
	}
	ttl, err := time.ParseDuration(body.TTL)
	if err != nil || ttl <= 0 {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, `ttl must be a positive duration such as "15m"`, err))
		return
	}
	b.ExpiresAt = time.Now().Add(ttl)
	b.ID = store.NewBlockID()
	b, err = a.store.CreateBlock(r.Context(), b)
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	a.log.Info("block created", "id", b.ID, "kind", b.Kind, "value", b.Value, "reason", b.Reason, "author", b.Author, "expiresAt", b.ExpiresAt)
	writeJSON(w, http.StatusCreated, blockJSON(b))
}

func blockJSON(b store.Block) map[string]any {
	return map[string]any{"id": b.ID, "kind": b.Kind, "value": b.Value, "reason": b.Reason, "author": b.Author,
		"createdAt": b.CreatedAt, "expiresAt": b.ExpiresAt}
}

func (a *blockAPI) list(w http.ResponseWriter, r *http.Request) {
	bs, err := a.store.Blocks(r.Context(), time.Now())
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, blockJSON(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"blocks": out})
}

func (a *blockAPI) remove(w http.ResponseWriter, r *http.Request) {
	b, removed, err := a.store.RemoveBlock(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, storeError(err, "no block "+r.PathValue("id")))
		return
	}
	if removed {
		a.log.Info("block removed", "id", b.ID, "kind", b.Kind, "value", b.Value, "reason", b.Reason, "author", adminAuthor,
			"expiresAt", b.ExpiresAt, "blockedBy", b.Author)
	}
	w.WriteHeader(http.StatusNoContent)
}
