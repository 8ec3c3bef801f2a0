package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

const testKey = "AIzaSyTEST-key-0123456789abcdefghijk"

// deterministic replaces the generated IDs and the creation time for the
// duration of a test: "call_test1", "chatcmpl-test2", ... and 1700000000.
func deterministic(t *testing.T) {
	t.Helper()
	oldID, oldNow := newID, now
	n := 0
	newID = func(prefix string) string {
		n++
		return fmt.Sprintf("%stest%d", prefix, n)
	}
	now = func() int64 { return 1700000000 }
	t.Cleanup(func() { newID, now = oldID, oldNow })
}

// upstream is an httptest server standing in for the Gemini API: it checks
// each request against want (method, path, query, key header, body) and
// answers with status and body.
type upstream struct {
	t           *testing.T
	wantPath    string // escaped
	wantQuery   string
	wantBody    []byte // compared as JSON; nil: not checked
	status      int
	contentType string
	body        []byte
	calls       int
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := u.t
	u.calls++
	if r.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.Method)
	}
	if got := r.URL.EscapedPath(); got != u.wantPath {
		t.Errorf("path = %s, want %s", got, u.wantPath)
	}
	if r.URL.RawQuery != u.wantQuery {
		t.Errorf("query = %q, want %q", r.URL.RawQuery, u.wantQuery)
	}
	if strings.Contains(r.RequestURI, testKey) {
		t.Errorf("the key is in the URL: %s", r.RequestURI)
	}
	if got := r.Header.Get("x-goog-api-key"); got != testKey {
		t.Errorf("x-goog-api-key = %q, want the key", got)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	body, _ := io.ReadAll(r.Body)
	if u.wantBody != nil {
		jsonEqual(t, "upstream request", body, u.wantBody)
	}
	w.Header().Set("Content-Type", u.contentType)
	w.WriteHeader(u.status)
	_, _ = w.Write(u.body)
}

func newUpstream(t *testing.T, u *upstream) *Provider {
	t.Helper()
	u.t = t
	if u.status == 0 {
		u.status = http.StatusOK
	}
	if u.contentType == "" {
		u.contentType = "application/json; charset=UTF-8"
	}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	p, err := New(llm.ProviderConfig{BaseURL: srv.URL, Key: testKey, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonEqual compares two JSON texts as values, "created" members ignored.
func jsonEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	// Errorf, not Fatalf: the upstream server calls this off the test's
	// goroutine.
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: %v in %s", what, err, got)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Errorf("%s: the golden file: %v", what, err)
		return
	}
	dropCreated(g)
	dropCreated(w)
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", "  ")
		wb, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s differs:\ngot:  %s\nwant: %s", what, gb, wb)
	}
}

func dropCreated(v any) {
	if m, ok := v.(map[string]any); ok {
		delete(m, "created")
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// TestGolden runs every case of testdata/: request.json through the
// provider against a server that checks upstream_request.json and answers
// upstream_response.json (or upstream_stream.txt), the result compared with
// response.json (or stream.txt, one chunk a line).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/request.json")
	if err != nil || len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, reqFile := range dirs {
		dir := filepath.Dir(reqFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			deterministic(t)
			reqBody := readFile(t, reqFile)
			wantUp := readFile(t, filepath.Join(dir, "upstream_request.json"))
			var probe struct {
				Model string          `json:"model"`
				Input json.RawMessage `json:"input"`
			}
			if err := json.Unmarshal(reqBody, &probe); err != nil {
				t.Fatal(err)
			}
			path := "/v1beta/models/" + strings.TrimPrefix(probe.Model, "models/")
			switch {
			case probe.Input != nil:
				goldenEmbeddings(t, dir, path+":batchEmbedContents", reqBody, wantUp)
			case exists(filepath.Join(dir, "upstream_stream.txt")):
				goldenStream(t, dir, path+":streamGenerateContent", reqBody, wantUp)
			default:
				goldenChat(t, dir, path+":generateContent", reqBody, wantUp)
			}
		})
	}
}

func goldenChat(t *testing.T, dir, path string, reqBody, wantUp []byte) {
	u := &upstream{wantPath: path, wantBody: wantUp, body: readFile(t, filepath.Join(dir, "upstream_response.json"))}
	p := newUpstream(t, u)
	var req llm.ChatRequest
	if err := json.Unmarshal(reqBody, &req); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Chat(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(resp)
	jsonEqual(t, "response", got, readFile(t, filepath.Join(dir, "response.json")))
	if u.calls != 1 {
		t.Errorf("%d upstream calls, want 1", u.calls)
	}
}

func goldenStream(t *testing.T, dir, path string, reqBody, wantUp []byte) {
	u := &upstream{wantPath: path, wantQuery: "alt=sse", wantBody: wantUp, contentType: "text/event-stream",
		body: readFile(t, filepath.Join(dir, "upstream_stream.txt"))}
	p := newUpstream(t, u)
	var req llm.ChatRequest
	if err := json.Unmarshal(reqBody, &req); err != nil {
		t.Fatal(err)
	}
	s, err := p.ChatStream(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got [][]byte
	for {
		c, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(c)
		got = append(got, b)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
	want := bytes.Split(bytes.TrimSpace(readFile(t, filepath.Join(dir, "stream.txt"))), []byte("\n"))
	if len(got) != len(want) {
		t.Errorf("%d chunks, want %d:\n%s", len(got), len(want), bytes.Join(got, []byte("\n")))
	}
	for i := range min(len(got), len(want)) {
		jsonEqual(t, fmt.Sprintf("chunk %d", i), got[i], want[i])
	}
	// The last chunk's choices are an empty list, never null.
	if n := len(got); n > 0 && !bytes.Contains(got[n-1], []byte(`"choices":[]`)) {
		t.Errorf("last chunk %s: want \"choices\":[]", got[n-1])
	}
}

func goldenEmbeddings(t *testing.T, dir, path string, reqBody, wantUp []byte) {
	u := &upstream{wantPath: path, wantBody: wantUp, body: readFile(t, filepath.Join(dir, "upstream_response.json"))}
	p := newUpstream(t, u)
	var req llm.EmbeddingsRequest
	if err := json.Unmarshal(reqBody, &req); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Embeddings(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage != nil {
		t.Errorf("usage = %+v, want none (Gemini reports none)", resp.Usage)
	}
	got, _ := json.Marshal(resp)
	jsonEqual(t, "response", got, readFile(t, filepath.Join(dir, "response.json")))
}

// asError returns err as an *llm.Error, failing the test when it is not.
func asError(t *testing.T, err error) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return e
}
