package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/adminclient"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/control"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/lifecycle"
	"github.com/portcullis/portcullis/internal/requestid"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/store"
)

// maxPolicyBytes bounds a policy upload.
const maxPolicyBytes = 16 << 20

// adminAuthor is the identity of changes made with the admin token.
const adminAuthor = "admin"

// policyAPI serves /admin/v1/policy… on a control plane.
type policyAPI struct{ plane *control.Plane }

func (a *policyAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/policy", a.active)
	mux.HandleFunc("GET /admin/v1/policy/versions", a.versions)
	mux.HandleFunc("GET /admin/v1/policy/versions/{n}", a.version)
	mux.HandleFunc("POST /admin/v1/policy/versions", a.apply)
	mux.HandleFunc("POST /admin/v1/policy/rollback", a.rollback)
	mux.HandleFunc("GET /admin/v1/policy/diff", a.diff)
	mux.HandleFunc("GET /admin/v1/policy/verify", a.verify)
	mux.HandleFunc("GET /admin/v1/policy/shadow", a.shadowReport)
	mux.HandleFunc("POST /admin/v1/policy/shadow/promote", a.promote)
	mux.HandleFunc("DELETE /admin/v1/policy/shadow", a.discard)
}

// toJSON is a stored version as the API shows it.
func toJSON(v store.Version) adminclient.Version {
	j := adminclient.Version{Version: v.Number, Hash: v.Hash, PrevHash: v.PrevHash, Reason: v.Reason, Author: v.Author,
		Source: v.Source, Weakening: v.Weakening, Rollback: v.Rollback, RollbackOf: v.RollbackOf, CreatedAt: v.CreatedAt}
	for _, f := range v.Files {
		j.Files = append(j.Files, adminclient.File{Name: f.Name, Content: f.Content})
	}
	if len(v.Files) > 0 {
		var b strings.Builder
		for i, f := range v.Files {
			if i > 0 {
				b.WriteString("---\n")
			}
			fmt.Fprintf(&b, "# file: %s\n", f.Name)
			b.WriteString(f.Content)
			if !strings.HasSuffix(f.Content, "\n") {
				b.WriteByte('\n')
			}
		}
		j.Manifests = b.String()
	}
	return j
}

func (a *policyAPI) active(w http.ResponseWriter, r *http.Request) {
	v, err := a.plane.Store().ActiveVersion(r.Context())
	if err != nil {
		writeError(w, r, storeError(err, "no policy version yet"))
		return
	}
	writeJSON(w, http.StatusOK, toJSON(v))
}

func (a *policyAPI) versions(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	vs, err := a.plane.Store().Versions(r.Context(), limit, before)
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	out := make([]adminclient.Version, 0, len(vs))
	for _, v := range vs {
		out = append(out, toJSON(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

func (a *policyAPI) version(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 1 {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the version must be a positive number", err))
		return
	}
	v, err := a.plane.Store().Version(r.Context(), n)
	if err != nil {
		writeError(w, r, storeError(err, fmt.Sprintf("no version %d", n)))
		return
	}
	writeJSON(w, http.StatusOK, toJSON(v))
}

// apply takes a candidate policy: the manifests as YAML (one file), or as
// JSON {"files": [{"name", "content"}]} so that problems name the caller's
// files (an extension to CONTRACT §4, used by `portcullis policy apply`).
func (a *policyAPI) apply(w http.ResponseWriter, r *http.Request) {
	reason := strings.TrimSpace(r.Header.Get("X-Change-Reason"))
	if reason == "" {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the X-Change-Reason header is required: every policy change says why", nil))
		return
	}
	q := r.URL.Query()
	files, herr := readPolicyFiles(r)
	if herr != nil {
		writeError(w, r, herr)
		return
	}
	if q.Get("shadow") == "true" {
		out, run, err := a.plane.StartShadow(r.Context(), control.Proposal{Files: files, Reason: reason, Author: adminAuthor})
		if err != nil {
			writeProposalError(w, r, out, err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"shadow": map[string]any{"hash": run.Hash, "since": run.Since},
			"changes": nonNil(out.Report.Changes), "weakening": nonNil(out.Report.Weakening)})
		return
	}
	prop := control.Proposal{Files: files, Reason: reason, Author: adminAuthor, Source: store.SourceAPI,
		DryRun: q.Get("dryRun") == "true", AllowWeakening: q.Get("allowWeakening") == "true", Base: -1}
	if m := strings.Trim(r.Header.Get("If-Match"), `" `); m != "" && m != "*" {
		base, err := strconv.ParseInt(m, 10, 64)
		if err != nil || base < 0 {
			writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "If-Match must be the version number the change was made against", err))
			return
		}
		prop.Base = base
	}
	out, err := a.plane.Propose(r.Context(), prop)
	if err != nil {
		writeProposalError(w, r, out, err)
		return
	}
	body := map[string]any{"changes": nonNil(out.Report.Changes), "weakening": nonNil(out.Report.Weakening)}
	switch {
	case prop.DryRun:
		body["dryRun"] = true
		writeJSON(w, http.StatusOK, body)
	case !out.Changed:
		body["version"] = out.Version.Number
		body["unchanged"] = true
		writeJSON(w, http.StatusOK, body)
	default:
		body["version"] = out.Version.Number
		body["hash"] = out.Version.Hash
		writeJSON(w, http.StatusCreated, body)
	}
}

func readPolicyFiles(r *http.Request) ([]store.File, *httperr.Error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxPolicyBytes))
	if err != nil {
		return nil, httperr.New(http.StatusRequestEntityTooLarge, httperr.DecisionInvalid, "the policy is larger than 16 MiB", err)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var body struct {
			Files []store.File `json:"files"`
		}
		if err := json.Unmarshal(data, &body); err != nil || len(body.Files) == 0 {
			return nil, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, `a JSON policy is {"files": [{"name": …, "content": …}]}`, err)
		}
		for _, f := range body.Files {
			if f.Name == "" || strings.ContainsAny(f.Name, `/\`) || f.Name == "." || f.Name == ".." {
				return nil, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, fmt.Sprintf("file name %q must be a plain file name", f.Name), nil)
			}
		}
		return body.Files, nil
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the request body must hold the manifests (application/yaml)", nil)
	}
	return []store.File{{Name: "policy.yaml", Content: string(data)}}, nil
}

// writeProposalError answers a refused proposal with what the caller needs to fix it.
func writeProposalError(w http.ResponseWriter, r *http.Request, out control.Outcome, err error) {
	var problems config.Problems
	var weak *control.WeakeningError
	var failures control.TestFailures
	switch {
	case errors.As(err, &problems):
		list := make([]map[string]any, 0, len(problems))
		for _, p := range problems {
			list = append(list, map[string]any{"file": p.File, "line": p.Line, "col": p.Col, "message": p.Message})
		}
		writeProblem(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("the policy is invalid: %d problem(s); the active version keeps serving", len(problems)),
			map[string]any{"errors": list})
	case errors.As(err, &failures):
		list := make([]map[string]any, 0, len(failures))
		for _, f := range failures {
			list = append(list, map[string]any{"file": f.Position, "message": f.String()})
		}
		writeProblem(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("%d policy test case(s) failed; the active version keeps serving", len(failures)),
			map[string]any{"errors": list, "tests": failures, "changes": nonNil(out.Report.Changes), "weakening": nonNil(out.Report.Weakening)})
	case errors.As(err, &weak):
		writeProblem(w, r, http.StatusConflict, weak.Error(),
			map[string]any{"changes": nonNil(weak.Report.Changes), "weakening": nonNil(weak.Report.Weakening)})
	case errors.Is(err, store.ErrConflict):
		writeProblem(w, r, http.StatusConflict, "the policy changed since the version this change was made against: "+err.Error(), nil)
	case errors.As(err, new(*control.CompileError)):
		writeProblem(w, r, http.StatusUnprocessableEntity, err.Error()+"; the active version keeps serving", nil)
	case errors.As(err, new(*control.ActivationError)):
		writeProblem(w, r, http.StatusInternalServerError, err.Error(), map[string]any{"version": out.Version.Number})
	default:
		writeError(w, r, storeError(err, ""))
	}
}

func (a *policyAPI) rollback(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Version int64  `json:"version"`
		Reason  string `json:"reason"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.Version < 1 {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, `the body is {"version": N, "reason": "…"}`, err))
		return
	}
	if strings.TrimSpace(body.Reason) == "" {
		body.Reason = strings.TrimSpace(r.Header.Get("X-Change-Reason"))
	}
	if body.Reason == "" {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "a rollback needs a reason", nil))
		return
	}
	out, err := a.plane.Rollback(r.Context(), body.Version, body.Reason, adminAuthor)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, storeError(err, fmt.Sprintf("no version %d", body.Version)))
			return
		}
		writeProposalError(w, r, out, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"version": out.Version.Number, "rollbackOf": body.Version,
		"changes": nonNil(out.Report.Changes), "weakening": nonNil(out.Report.Weakening)})
}

func (a *policyAPI) diff(w http.ResponseWriter, r *http.Request) {
	from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
	if err1 != nil || err2 != nil {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "from and to must be version numbers", errors.Join(err1, err2)))
		return
	}
	report, err := a.plane.Diff(r.Context(), from, to)
	if err != nil {
		writeError(w, r, storeError(err, "no such version"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "changes": nonNil(report.Changes), "weakening": nonNil(report.Weakening)})
}

func (a *policyAPI) verify(w http.ResponseWriter, r *http.Request) {
	rep, err := a.plane.Store().VerifyChain(r.Context())
	if err != nil {
		writeError(w, r, storeError(err, ""))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": rep.OK, "versions": rep.Versions, "brokenAt": rep.BrokenAt})
}

func (a *policyAPI) shadowReport(w http.ResponseWriter, r *http.Request) {
	run := a.plane.Shadow()
	if run == nil {
		writeError(w, r, httperr.New(http.StatusNotFound, httperr.DecisionNotFound, control.ErrNoShadow.Error(), nil))
		return
	}
	rep := run.Report()
	if rep.Differences == nil {
		rep.Differences = []shadow.Count{}
	}
	writeJSON(w, http.StatusOK, rep)
}

func (a *policyAPI) promote(w http.ResponseWriter, r *http.Request) {
	reason := strings.TrimSpace(r.Header.Get("X-Change-Reason"))
	if reason == "" {
		writeError(w, r, httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the X-Change-Reason header is required: every policy change says why", nil))
		return
	}
	out, err := a.plane.PromoteShadow(r.Context(), reason, adminAuthor, r.URL.Query().Get("allowWeakening") == "true")
	if errors.Is(err, control.ErrNoShadow) {
		writeError(w, r, httperr.New(http.StatusNotFound, httperr.DecisionNotFound, err.Error(), nil))
		return
	}
	if err != nil {
		writeProposalError(w, r, out, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"version": out.Version.Number, "hash": out.Version.Hash,
		"changes": nonNil(out.Report.Changes), "weakening": nonNil(out.Report.Weakening)})
}

func (a *policyAPI) discard(w http.ResponseWriter, r *http.Request) {
	if !a.plane.DiscardShadow() {
		writeError(w, r, httperr.New(http.StatusNotFound, httperr.DecisionNotFound, control.ErrNoShadow.Error(), nil))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// storeError maps a store or control error to its answer; notFound is the
// detail of a 404.
func storeError(err error, notFound string) *httperr.Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httperr.New(http.StatusNotFound, httperr.DecisionNotFound, notFound, err)
	case errors.Is(err, store.ErrExists):
		return httperr.New(http.StatusConflict, httperr.DecisionInvalid, "it exists already", err)
	case errors.Is(err, store.ErrInvalid):
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, strings.TrimPrefix(err.Error(), "store: "), err)
	default:
		return httperr.New(http.StatusInternalServerError, httperr.DecisionInvalid, "internal error; see the gateway's log", err)
	}
}

func writeError(w http.ResponseWriter, r *http.Request, e *httperr.Error) {
	httperr.Write(w, e, r.Header.Get(requestid.Header))
}

// writeProblem writes a problem+json body with extension members.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string, ext map[string]any) {
	body := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status,
		"detail": detail, "requestId": r.Header.Get(requestid.Header)}
	for k, v := range ext {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func nonNil(cs []lifecycle.Change) []lifecycle.Change {
	if cs == nil {
		return []lifecycle.Change{}
	}
	return cs
}
