// Package adminclient is the CLI's side of the admin API (CONTRACT §4): one
// method per endpoint, JSON in and out, and the API's problem+json errors
// turned into Go errors that keep every detail the server gave (for a 422,
// each problem with its file and line).
package adminclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client calls one gateway's admin API.
type Client struct {
	base  string
	token string
	http  *http.Client
	err   error // a TLS setting that failed (NewTLS): every call returns it
}

// New returns a client for the admin API at base (e.g. http://127.0.0.1:9901)
// that authenticates with token.
func New(base, token string) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}
}

// TLS are the files of a client of an admin API served over TLS.
type TLS struct {
	CAFile            string // the admin certificate's CA; "" for the system roots
	CertFile, KeyFile string // a client certificate, when the admin requires one
}

// NewTLS is New for an https:// base: it verifies the admin's certificate
// against t.CAFile (or the system roots) and presents t's client
// certificate if it has one. A file that fails to load fails every call.
func NewTLS(base, token string, t TLS) *Client {
	c := New(base, token)
	cfg, err := t.config()
	if err != nil {
		c.err = fmt.Errorf("admin TLS settings: %w", err)
		return c
	}
	c.http.Transport = &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	return c
}

func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Error is an answer other than 2xx.
type Error struct {
	Status int
	Title  string
	Detail string
	// Problems are a refused policy's problems, one per line as FILE:LINE:COL: message.
	Problems []string
	// Weakening lists the weakening changes of a 409 refusal.
	Weakening []Change
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("admin API: %d: %s", e.Status, msg)
}

// do sends a request and decodes a 2xx JSON answer into out (may be nil).
func (c *Client) do(ctx context.Context, method, path string, header http.Header, body io.Reader, out any) error {
	if c.err != nil {
		return c.err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API unreachable (set PORTCULLIS_ADMIN_URL?): %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

func decodeError(status int, data []byte) error {
	var p struct {
		Title     string   `json:"title"`
		Detail    string   `json:"detail"`
		Weakening []Change `json:"weakening"`
		Errors    []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Col     int    `json:"col"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(data, &p) != nil {
		e.Detail = strings.TrimSpace(string(data))
		return e
	}
	e.Title, e.Detail, e.Weakening = p.Title, p.Detail, p.Weakening
	for _, pe := range p.Errors {
		e.Problems = append(e.Problems, fmt.Sprintf("%s:%d:%d: %s", pe.File, pe.Line, pe.Col, pe.Message))
	}
	return e
}

// Version is one policy version as the API shows it; the admin API encodes
// this same type, so the two sides of the wire cannot drift apart.
type Version struct {
	Version    int64     `json:"version"`
	Hash       string    `json:"hash"`
	PrevHash   string    `json:"prevHash"`
	Reason     string    `json:"reason"`
	Author     string    `json:"author"`
	Source     string    `json:"source"`
	Weakening  bool      `json:"weakening"`
	Rollback   bool      `json:"rollback"`
	RollbackOf int64     `json:"rollbackOf,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	Manifests  string    `json:"manifests,omitempty"`
	Files      []File    `json:"files,omitempty"`
}

// Change is one entry of a diff.
type Change struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Op     string `json:"op"`
	Field  string `json:"field,omitempty"`
	From   any    `json:"from,omitempty"`
	To     any    `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Diff is the answer of a diff or an apply.
type Diff struct {
	Version   int64    `json:"version,omitempty"`
	Changes   []Change `json:"changes"`
	Weakening []Change `json:"weakening"`
	Shadow    *struct {
		Hash string `json:"hash"`
	} `json:"shadow,omitempty"`
}

// Versions lists the policy versions, newest first.
func (c *Client) Versions(ctx context.Context) ([]Version, error) {
	var out struct {
		Versions []Version `json:"versions"`
	}
	err := c.do(ctx, http.MethodGet, "/admin/v1/policy/versions", nil, nil, &out)
	return out.Versions, err
}

// Version returns one version with its manifests.
func (c *Client) Version(ctx context.Context, n int64) (Version, error) {
	var v Version
	err := c.do(ctx, http.MethodGet, "/admin/v1/policy/versions/"+strconv.FormatInt(n, 10), nil, nil, &v)
	return v, err
}

// DiffVersions compares two versions.
func (c *Client) DiffVersions(ctx context.Context, from, to int64) (Diff, error) {
	var d Diff
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	err := c.do(ctx, http.MethodGet, "/admin/v1/policy/diff?"+q.Encode(), nil, nil, &d)
	return d, err
}

// File is one manifest file of a policy.
type File struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// ApplyOptions are the query flags of an apply.
type ApplyOptions struct {
	Reason         string
	DryRun         bool
	AllowWeakening bool
	Shadow         bool
	Base           int64 // > 0: refuse (409) unless the active version is still this one
}

// Apply proposes files as the new policy. The files travel as JSON so that
// the server's problems name the caller's files and lines.
func (c *Client) Apply(ctx context.Context, files []File, o ApplyOptions) (Diff, error) {
	body, err := json.Marshal(map[string]any{"files": files})
	if err != nil {
		return Diff{}, err
	}
	q := url.Values{}
	if o.DryRun {
		q.Set("dryRun", "true")
	}
	if o.AllowWeakening {
		q.Set("allowWeakening", "true")
	}
	if o.Shadow {
		q.Set("shadow", "true")
	}
	h := http.Header{"Content-Type": {"application/json"}, "X-Change-Reason": {o.Reason}}
	if o.Base > 0 {
		h.Set("If-Match", strconv.FormatInt(o.Base, 10))
	}
	var d Diff
	err = c.do(ctx, http.MethodPost, "/admin/v1/policy/versions?"+q.Encode(), h, bytes.NewReader(body), &d)
	return d, err
}

// Rollback makes version n's content active again, as a new version.
func (c *Client) Rollback(ctx context.Context, n int64, reason string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"version": n, "reason": reason})
	var out struct {
		Version int64 `json:"version"`
	}
	err := c.do(ctx, http.MethodPost, "/admin/v1/policy/rollback", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), &out)
	return out.Version, err
}

// ChainReport is the answer of verify.
type ChainReport struct {
	OK       bool  `json:"ok"`
	Versions int64 `json:"versions"`
	BrokenAt int64 `json:"brokenAt"`
}

// Verify checks the hash chain of the history.
func (c *Client) Verify(ctx context.Context) (ChainReport, error) {
	var r ChainReport
	err := c.do(ctx, http.MethodGet, "/admin/v1/policy/verify", nil, nil, &r)
	return r, err
}

// CreateConsumer creates a consumer with roles.
func (c *Client) CreateConsumer(ctx context.Context, name string, roles []string) error {
	if roles == nil {
		roles = []string{}
	}
	body, _ := json.Marshal(map[string]any{"name": name, "roles": roles})
	return c.do(ctx, http.MethodPost, "/admin/v1/consumers", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), nil)
}

// Key is a created API key; Key.Key is shown this once only.
type Key struct {
	ID        string     `json:"id"`
	Consumer  string     `json:"consumer"`
	Key       string     `json:"key"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// CreateKey creates an API key for a consumer.
func (c *Client) CreateKey(ctx context.Context, consumer, name string, expiresAt *time.Time) (Key, error) {
	req := map[string]any{}
	if name != "" {
		req["name"] = name
	}
	if expiresAt != nil {
		req["expiresAt"] = expiresAt.UTC().Format(time.RFC3339)
	}
	body, _ := json.Marshal(req)
	var k Key
	err := c.do(ctx, http.MethodPost, "/admin/v1/consumers/"+url.PathEscape(consumer)+"/keys", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), &k)
	return k, err
}

// RevokeKey revokes an API key.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/admin/v1/keys/"+url.PathEscape(id), nil, nil, nil)
}

// Block is an incident-response block as the API shows it.
type Block struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // ip, consumer or key
	Value     string    `json:"value"`
	Reason    string    `json:"reason"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// NewBlock is what CreateBlock blocks: exactly one of IP, Consumer and KeyID.
type NewBlock struct {
	IP       string
	Consumer string
	KeyID    string
	TTL      time.Duration
	Reason   string
}

// CreateBlock blocks an IP address or network, a consumer or an API key for
// b.TTL.
func (c *Client) CreateBlock(ctx context.Context, b NewBlock) (Block, error) {
	req := map[string]any{"ttl": b.TTL.String(), "reason": b.Reason}
	for field, v := range map[string]string{"ip": b.IP, "consumer": b.Consumer, "keyId": b.KeyID} {
		if v != "" {
			req[field] = v
		}
	}
	body, _ := json.Marshal(req)
	var out Block
	err := c.do(ctx, http.MethodPost, "/admin/v1/blocks", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), &out)
	return out, err
}

// Blocks lists the blocks in force.
func (c *Client) Blocks(ctx context.Context) ([]Block, error) {
	var out struct {
		Blocks []Block `json:"blocks"`
	}
	err := c.do(ctx, http.MethodGet, "/admin/v1/blocks", nil, nil, &out)
	return out.Blocks, err
}

// RemoveBlock lifts a block before it expires.
func (c *Client) RemoveBlock(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/admin/v1/blocks/"+url.PathEscape(id), nil, nil, nil)
}

// IsStatus reports whether err is an admin API answer with that status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// AuditRecord is one record of the audit trail; the admin API encodes this
// same type. The path is redacted (CONTRACT §4).
type AuditRecord struct {
	Time          time.Time `json:"time"`
	RequestID     string    `json:"requestId"`
	Consumer      string    `json:"consumer"`
	ClientIP      string    `json:"clientIP"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Route         string    `json:"route"`
	Status        int       `json:"status"`
	Decision      string    `json:"decision"`
	Reason        string    `json:"reason"`
	PolicyVersion int64     `json:"policyVersion"`
	LatencyMs     float64   `json:"latencyMs"`
	Listener      string    `json:"listener"`
	KeyID         string    `json:"keyId,omitempty"`
	AI            *AuditAI  `json:"ai,omitempty"` // AI calls only
}

// AuditAI is what an AI call adds to its record (CONTRACT §4).
type AuditAI struct {
	Provider         string  `json:"provider"`
	Model            string  `json:"model"`
	PromptTokens     int64   `json:"promptTokens"`
	CompletionTokens int64   `json:"completionTokens"`
	CostUSD          float64 `json:"costUSD"`
	Usage            string  `json:"usage"` // "provider" | "estimated"
	Ended            string  `json:"ended"` // "complete" | "client_disconnect" | "upstream_error"
}

// AuditQuery selects audit records: empty fields select everything; Limit
// 0 is the API's default page size.
type AuditQuery struct {
	Consumer string
	Route    string
	Since    time.Time
	Limit    int
	Cursor   string
}

// Audit returns one page of audit records, newest first, and the cursor of
// the next page ("" when none remain).
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, string, error) {
	v := url.Values{}
	for k, s := range map[string]string{"consumer": q.Consumer, "route": q.Route, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Records []AuditRecord `json:"records"`
		Next    string        `json:"next"`
	}
	path := "/admin/v1/audit"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, nil, &out)
	return out.Records, out.Next, err
}
