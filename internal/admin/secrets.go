package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/store"
)

// secretAPI serves the secret store. Values go in sealed with the node's
// master key and never come out: there is no endpoint that returns one,
// and no log line carries one.
type secretAPI struct {
	store store.Store
	keys  *secrets.Keyring // nil: no master key, so nothing can be stored
	log   *slog.Logger
}

func (a *secretAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("PUT /admin/v1/secrets/{name}", a.put)
	mux.HandleFunc("GET /admin/v1/secrets", a.list)
	mux.HandleFunc("DELETE /admin/v1/secrets/{name}", a.remove)
}

func (a *secretAPI) put(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !secrets.ValidName(name) {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "a secret's name is an environment variable name: [A-Z_][A-Z0-9_]*", nil))
		return
	}
	if a.keys == nil {
		// Never stored in clear: without a key there is no secret store.
		writeError(w, r, httperr.New(http.StatusConflict, httperr.DecisionInvalid,
			"this node has no master key, so it cannot encrypt secrets: start it with PORTCULLIS_MASTER_KEY (or PORTCULLIS_MASTER_KEY_FILE) set", nil))
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, secrets.MaxValueBytes+1))
	if err != nil {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the body could not be read", err))
		return
	}
	value := data
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var body struct {
			Value *string `json:"value"`
		}
		if err := json.Unmarshal(data, &body); err != nil || body.Value == nil {
			writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, `the body is {"value": "…"}, or the value itself as text/plain`, nil))
			return
		}
		value = []byte(*body.Value)
	}
	if len(value) == 0 || len(data) > secrets.MaxValueBytes {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "a secret's value is 1 to 65536 bytes", nil))
		return
	}
	rec, err := a.keys.Seal(name, value)
	clear(value)
	if err != nil {
		writeError(w, r, httperr.New(http.StatusInternalServerError, httperr.DecisionInvalid, "the secret could not be encrypted", err))
		return
	}
	rec.Author = adminAuthor
	if rec, err = a.store.PutSecret(r.Context(), rec); err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	a.log.Info("secret set", "name", rec.Name, "keyId", rec.KeyID, "author", rec.Author)
	w.WriteHeader(http.StatusNoContent)
}

func (a *secretAPI) list(w http.ResponseWriter, r *http.Request) {
	recs, err := a.store.Secrets(r.Context())
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	out := make([]map[string]any, 0, len(recs))
	for _, s := range recs {
		out = append(out, map[string]any{"name": s.Name, "keyId": s.KeyID, "author": s.Author, "updatedAt": s.UpdatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

func (a *secretAPI) remove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.store.DeleteSecret(r.Context(), name); err != nil {
		writeError(w, r, storeError(err, "no secret "+name))
		return
	}
	a.log.Info("secret deleted", "name", name, "author", adminAuthor)
	w.WriteHeader(http.StatusNoContent)
}
