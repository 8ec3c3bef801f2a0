package waf

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"

	"github.com/portcullis/portcullis/internal/policy/waf/ftw"
)

// crsExceptions are the CRS regression tests not run as written, each with
// the reason; all of them are about the web server in front of the WAF, not
// the WAF. Where a test wants the answer of the CRS reference server (Apache
// httpd), it runs with what this stack does instead: the rule fires, or
// net/http refuses the request itself. Coraza's own CRS test
// (corazawaf/coraza testing/coreruleset/.ftw.yml, .ftw-overrides.yml)
// excludes or overrides most of the same tests for the same reasons.
var crsExceptions = map[string]ftw.Exception{
	"920100-5": {Reason: "CONNECT to a host without a port: Apache refuses it itself (400), net/http does not; the WAF flags it",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920100}}}},
	"920100-8": {Reason: "a colon in a path segment is legal (RFC 3986): Apache refuses it itself (400), net/http does not, and 920100 rightly stays quiet",
		Output: &ftw.Output{Status: ftw.Statuses{200}, Log: ftw.Log{NoExpectIDs: []int{920100}}}},
	"920270-4": {Reason: "a NUL in the Host header: Apache refuses it itself (400), net/http does not; the WAF flags it",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920270}}}},
	"920274-1": {Reason: "a control character in the Host header: Apache refuses it itself (400), net/http does not; the WAF flags it",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920274}}}},
	"920290-1": {Reason: "an empty Host header: Apache refuses it itself (400), net/http does not; the WAF flags it",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920290}}}},
	"920290-4": {Reason: "net/http drops an empty Host header of an HTTP/1.0 request, which is then indistinguishable from none: the WAF flags a missing Host (920280) instead of an empty one (920290)",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920280}}}},
	"920610-2": {Reason: "a raw fragment in the URI: Apache refuses it itself (400), net/http does not; the WAF flags it",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920610}}}},
	"920620-1": {Reason: "two Content-Type headers: Apache joins them into one (so the rule cannot fire there), net/http keeps them apart and the rule rightly fires",
		Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{920620}}}},
	"920280-3": {Reason: "an HTTP/0.9 request line: net/http refuses it itself (505) before the WAF; Apache answers 400",
		Output: &ftw.Output{Status: ftw.Statuses{505}}},
	"920430-3": {Reason: "an HTTP/0.9 request line: net/http refuses it itself (505) before the WAF; Apache answers 400",
		Output: &ftw.Output{Status: ftw.Statuses{505}}},
	"920430-9": {Reason: "an HTTP/0.8 request line: net/http refuses it itself (505) before the WAF; Apache answers 400",
		Output: &ftw.Output{Status: ftw.Statuses{505}}},
	"920430-8": {Reason: "an HTTP/4.0 request line: net/http refuses it itself (505) before the WAF, which never sees it",
		Output: &ftw.Output{Status: ftw.Statuses{505}}},
	"920430-5": {Reason: "a request line without a version: net/http refuses it itself (400) before the WAF; Apache answers as HTTP/0.9, which go-ftw reads as an error",
		Output: &ftw.Output{Status: ftw.Statuses{400}}},
	"922130-1": multipartStrict,
	"922130-2": multipartStrict,
	"922130-7": multipartStrict,
}

// multipartStrict: Coraza's multipart parser refuses the part itself where
// ModSecurity's lets rule 922130 see it (a 400 in block mode either way).
var multipartStrict = ftw.Exception{
	Reason: "a multipart part header with invalid characters: Coraza's parser refuses it (MULTIPART_STRICT_ERROR, REQBODY_ERROR: rules 200003, 200002) before rule 922130 can see it; ModSecurity's lets it through to 922130",
	Output: &ftw.Output{Log: ftw.Log{ExpectIDs: []int{200002, 200003}}},
}

// TestCRSRegressionSuite runs every test of the CRS v4 regression suite
// (coraza-coreruleset's tests.FS) against a WAF in the setup the suite is
// written for: detect mode, paranoia level 4, the CRS test tuning, and
// response inspection.
func TestCRSRegressionSuite(t *testing.T) {
	files, err := ftw.Load(crstests.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range files {
		for _, tc := range f.Tests {
			ids[f.ID(tc)] = true
		}
	}
	if len(ids) == 0 {
		t.Fatal("no CRS tests found")
	}
	for id := range crsExceptions {
		if !ids[id] {
			t.Errorf("exception for %s: no such test (left over from an older CRS?)", id)
		}
	}
	if raceEnabled {
		// The full suite takes minutes under the race detector on two
		// cores; every 10th test still exercises the runner and the target
		// concurrently. Without -race, every test runs.
		files = sample(files, 10)
	}
	w, err := New(Config{Mode: ModeDetect, ParanoiaLevel: 4, crsTest: true})
	if err != nil {
		t.Fatal(err)
	}
	target := newCRSTarget(t, w)
	// The timeout is generous: one test (920390-1, a 64 KB argument) takes
	// seconds, more under the race detector.
	runner := ftw.Runner{Target: target, Exceptions: crsExceptions, Workers: runtime.GOMAXPROCS(0), Timeout: 2 * time.Minute}
	start := time.Now()
	results := runner.Run(context.Background(), files)
	passed, excluded, overridden := 0, 0, 0
	for _, r := range results {
		switch {
		case r.Excluded != "":
			excluded++
			continue
		case r.Err != nil:
			t.Errorf("%s (%s): %v", r.ID, r.File, r.Err)
		default:
			passed++
		}
		if r.Overridden != "" {
			overridden++
		}
	}
	t.Logf("CRS regression suite: %d passed of %d run (%d tests: %d excluded, %d run with replaced expectations; race detector sample: %v) in %v",
		passed, len(results)-excluded, len(results), excluded, overridden, raceEnabled, time.Since(start).Round(time.Millisecond))
}

// sample keeps every nth test of files (the first, the n+1th…), in order.
func sample(files []*ftw.File, n int) []*ftw.File {
	var out []*ftw.File
	i := 0
	for _, f := range files {
		kept := *f
		kept.Tests = nil
		for _, t := range f.Tests {
			if i%n == 0 {
				kept.Tests = append(kept.Tests, t)
			}
			i++
		}
		if len(kept.Tests) > 0 {
			out = append(out, &kept)
		}
	}
	return out
}

// crsTarget is the suite's target: an HTTP server that runs the WAF on every
// request and answers like albedo, the CRS suite's backend. It tags each
// response with X-Request-Id and keeps the WAF's error-log lines for that id.
type crsTarget struct {
	waf     *WAF
	backend http.Handler
	srv     *httptest.Server
	next    atomic.Uint64
	mu      sync.Mutex
	logs    map[string][]string
}

func newCRSTarget(t *testing.T, w *WAF) *crsTarget {
	c := &crsTarget{waf: w, backend: albedo(), logs: map[string][]string{}}
	c.srv = httptest.NewServer(c)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crsTarget) Addr() string { return c.srv.Listener.Addr().String() }

func (c *crsTarget) Log(_ context.Context, resp *http.Response) ([]string, error) {
	if resp == nil {
		return nil, nil
	}
	id := resp.Header.Get("X-Request-Id")
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := c.logs[id]
	delete(c.logs, id)
	return lines, nil
}

// ServeHTTP runs the WAF as a proxy in front of the backend would: request
// phases, then (not interrupted) the backend's response through phases 3
// and 4, then the logging phase.
func (c *crsTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strconv.FormatUint(c.next.Add(1), 10)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	tx := c.waf.waf.NewTransaction()
	defer tx.Close()
	if err := c.waf.processRequest(tx, r, host, body); err != nil {
		http.Error(w, "buffering the body: "+err.Error(), http.StatusInternalServerError)
		return
	}
	rec := httptest.NewRecorder()
	if !tx.IsInterrupted() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		c.backend.ServeHTTP(rec, r)
		// net/http sniffs a missing Content-Type on the backend's first
		// write, so a proxy in front of albedo sees one.
		if _, ok := rec.Header()["Content-Type"]; !ok && rec.Body.Len() > 0 {
			rec.Header().Set("Content-Type", http.DetectContentType(rec.Body.Bytes()))
		}
		for name, values := range rec.Header() {
			for _, v := range values {
				tx.AddResponseHeader(name, v)
			}
		}
		if tx.ProcessResponseHeaders(rec.Code, r.Proto) == nil && tx.IsResponseBodyProcessable() {
			if it, _, err := tx.WriteResponseBody(rec.Body.Bytes()); it == nil && err == nil {
				_, _ = tx.ProcessResponseBody()
			}
		}
	}
	tx.ProcessLogging()
	var lines []string
	for _, mr := range tx.MatchedRules() {
		if l, ok := mr.(logger); ok && l.Log() {
			lines = append(lines, mr.ErrorLog())
		}
	}
	c.mu.Lock()
	c.logs[id] = lines
	c.mu.Unlock()
	for name, values := range rec.Header() {
		w.Header()[name] = values
	}
	w.Header().Set("X-Request-Id", id)
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// albedo answers as the CRS suite's backend (github.com/coreruleset/albedo)
// does: POST /reflect answers as its JSON body describes, everything else
// (CONNECT included) is an empty 200.
func albedo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == "/reflect" || r.URL.Path == "/reflect/") {
			reflect(w, r)
		}
	})
}

func reflect(w http.ResponseWriter, r *http.Request) {
	var spec struct {
		Status      int               `json:"status"`
		Headers     map[string]string `json:"headers"`
		Body        string            `json:"body"`
		EncodedBody string            `json:"encodedBody"`
	}
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
		http.Error(w, "Invalid JSON in request body", http.StatusBadRequest)
		return
	}
	if spec.Status != 0 && (spec.Status < 100 || spec.Status >= 600) {
		http.Error(w, fmt.Sprintf("Invalid status code: %d", spec.Status), http.StatusBadRequest)
		return
	}
	body := []byte(spec.Body)
	if spec.Body == "" && spec.EncodedBody != "" {
		b, err := base64.StdEncoding.DecodeString(spec.EncodedBody)
		if err != nil {
			http.Error(w, "invalid base64 encoding of response body", http.StatusBadRequest)
			return
		}
		body = b
	}
	for name, v := range spec.Headers {
		w.Header().Add(name, v)
	}
	status := spec.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
