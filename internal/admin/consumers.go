package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/store"
)

// KeyPrefix starts every API key the gateway makes, so that secret scanners
// can recognise a leaked one.
const KeyPrefix = "pck_"

// consumerAPI serves consumers and their API keys.
type consumerAPI struct{ store store.Store }

func (a *consumerAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/consumers", a.createConsumer)
	mux.HandleFunc("GET /admin/v1/consumers", a.listConsumers)
	mux.HandleFunc("POST /admin/v1/consumers/{name}/keys", a.createKey)
	mux.HandleFunc("GET /admin/v1/consumers/{name}/keys", a.listKeys)
	mux.HandleFunc("DELETE /admin/v1/keys/{id}", a.revokeKey)
}

func (a *consumerAPI) createConsumer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, `the body is {"name": "…", "roles": […]}`, err))
		return
	}
	c, err := a.store.CreateConsumer(r.Context(), store.Consumer{Name: body.Name, Roles: body.Roles})
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	writeJSON(w, http.StatusCreated, consumerJSON(c))
}

func consumerJSON(c store.Consumer) map[string]any {
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	return map[string]any{"name": c.Name, "roles": roles, "createdAt": c.CreatedAt}
}

func (a *consumerAPI) listConsumers(w http.ResponseWriter, r *http.Request) {
	cs, err := a.store.Consumers(r.Context())
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, consumerJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"consumers": out})
}

// createKey makes a key: 256 random bits after the recognisable prefix. The
// key is returned this once; the store keeps its SHA-256 only.
func (a *consumerAPI) createKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expiresAt"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && err != io.EOF {
			writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, `the body is {"name"?: "…", "expiresAt"?: RFC 3339}`, err))
			return
		}
	}
	if body.ExpiresAt != nil && !body.ExpiresAt.After(time.Now()) {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "expiresAt is in the past", nil))
		return
	}
	var secret [32]byte
	var id [8]byte
	if _, err := rand.Read(secret[:]); err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	_, _ = rand.Read(id[:])
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	hash := sha256.Sum256([]byte(key))
	k, err := a.store.CreateKey(r.Context(), store.Key{
		ID: "key_" + hex.EncodeToString(id[:]), Consumer: r.PathValue("name"), Name: body.Name,
		Hash: hash[:], Prefix: key[:len(KeyPrefix)+4], ExpiresAt: body.ExpiresAt,
	})
	if err != nil {
		writeError(w, r, storeError(err, "no consumer "+r.PathValue("name")))
		return
	}
	out := keyJSON(k)
	out["key"] = key
	writeJSON(w, http.StatusCreated, out)
}

func keyJSON(k store.Key) map[string]any {
	return map[string]any{"id": k.ID, "consumer": k.Consumer, "name": k.Name, "prefix": k.Prefix,
		"createdAt": k.CreatedAt, "expiresAt": k.ExpiresAt, "revokedAt": k.RevokedAt}
}

func (a *consumerAPI) listKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := a.store.Keys(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, r, storeError(err, "no consumer "+r.PathValue("name")))
		return
	}
	out := make([]map[string]any, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyJSON(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (a *consumerAPI) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := a.store.RevokeKey(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, r, storeError(err, "no key "+r.PathValue("id")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
