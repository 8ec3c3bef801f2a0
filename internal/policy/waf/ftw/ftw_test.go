package ftw

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

const sample = `---
meta:
  author: "someone"
  description: "sample"
rule_id: 942100
tests:
  - test_id: 1
    desc: "SQLi"
    stages:
      - input:
          dest_addr: "127.0.0.1"
          port: 80
          method: "POST"
          uri: "/post"
          headers:
            User-Agent: "OWASP CRS test agent"
            Host: "localhost"
          data: "var=1' or 1=1--&x=a b"
        output:
          log:
            expect_ids: [942100]
  - stages:
      - input:
          headers:
            - name: X-B
              value: "2"
            - name: X-A
              value: "1"
        output:
          status: [200, 404]
          log:
            no_expect_ids: [942100]
`

func TestParse(t *testing.T) {
	f, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if f.RuleID != 942100 || f.Meta.Author != "someone" || len(f.Tests) != 2 {
		t.Fatalf("parsed %+v", f)
	}
	if id := f.ID(f.Tests[1]); id != "942100-2" {
		t.Errorf("second test's id %s, want 942100-2 (inferred from its position)", id)
	}
	in := f.Tests[0].Stages[0].Input
	// A map is sent sorted by name, as go-ftw does.
	if len(in.Headers) != 2 || in.Headers[0].Name != "Host" || in.Headers[1].Name != "User-Agent" {
		t.Errorf("headers %+v", in.Headers)
	}
	// A list keeps its order.
	h := f.Tests[1].Stages[0].Input.Headers
	if len(h) != 2 || h[0].Name != "X-B" || h[1].Name != "X-A" {
		t.Errorf("ordered headers %+v", h)
	}
	if s := f.Tests[1].Stages[0].Output.Status; len(s) != 2 || s[1] != 404 {
		t.Errorf("status list %v", s)
	}
}

func TestParseStatusScalar(t *testing.T) {
	f, err := Parse([]byte("rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {}\n        output: {status: 403}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Tests[0].Stages[0].Output.Status; len(s) != 1 || s[0] != 403 {
		t.Errorf("status %v", s)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":          "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {virtual_host_mode: true}\n        output: {}\n",
		"unknown output field":   "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {}\n        output: {isolated: true}\n",
		"unknown header field":   "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {headers: [{name: a, value: b, x: c}]}\n        output: {}\n",
		"data and raw request":   "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {data: a, encoded_request: YQ==}\n        output: {}\n",
		"data and encoded data":  "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {data: a, encoded_data: YQ==}\n        output: {}\n",
		"https":                  "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {protocol: https}\n        output: {}\n",
		"no stages":              "rule_id: 1\ntests:\n  - test_id: 1\n",
		"headers neither":        "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {headers: x}\n        output: {}\n",
		"not yaml":               "rule_id: [",
		"status not an int list": "rule_id: 1\ntests:\n  - test_id: 1\n    stages:\n      - input: {}\n        output: {status: [a]}\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	f, err := Parse([]byte("# only a comment\n# ---\n"))
	if err != nil || len(f.Tests) != 0 {
		t.Errorf("comment-only file: %+v, %v", f, err)
	}
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"A/942100.yaml": {Data: []byte(sample)},
		"A/empty.yaml":  {Data: []byte("# nothing\n")},
		"A/README.md":   {Data: []byte("not a test")},
	}
	files, err := Load(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Path != "A/942100.yaml" || len(files[0].Tests) != 2 {
		t.Errorf("loaded %d files: %+v", len(files), files)
	}
	fsys["B/bad.yaml"] = &fstest.MapFile{Data: []byte("rule_id: x\n")}
	if _, err := Load(fsys, "."); err == nil || !strings.Contains(err.Error(), "B/bad.yaml") {
		t.Errorf("err = %v, want one naming B/bad.yaml", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRequest(t *testing.T) {
	for name, c := range map[string]struct {
		in      Input
		cookies []string
		want    string
	}{
		"defaults": {
			in:   Input{},
			want: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
		},
		"form data is encoded and completed": {
			in: Input{Method: ptr("POST"), URI: ptr("/post"), Headers: Headers{{"Host", "localhost"}},
				Data: ptr("var=1' or 1=1--&x=a b&")},
			want: "POST /post HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\nContent-Length: 25\r\n\r\nvar=1%27+or+1%3D1--&x=a+b",
		},
		"encoded form data stays": {
			in:   Input{Method: ptr("POST"), Data: ptr("a=%27x")},
			want: "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\nContent-Length: 6\r\n\r\na=%27x",
		},
		"other content types stay": {
			in:   Input{Method: ptr("POST"), Headers: Headers{{"content-type", "application/json"}}, Data: ptr(`{"a": "b c"}`)},
			want: "POST / HTTP/1.1\r\ncontent-type: application/json\r\nConnection: close\r\nContent-Length: 12\r\n\r\n{\"a\": \"b c\"}",
		},
		"multipart gets CRLF": {
			in: Input{Method: ptr("POST"), Headers: Headers{{"Content-Type", "multipart/form-data; boundary=x"}},
				Data: ptr("--x\nContent-Disposition: form-data; name=\"a\"\n\n1\n--x--\n")},
			want: "POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nConnection: close\r\nContent-Length: 59\r\n\r\n--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n",
		},
		"a method with a body gets Content-Length 0": {
			in:   Input{Method: ptr("PUT"), Headers: Headers{{"Connection", "keep-alive"}}},
			want: "PUT / HTTP/1.1\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		},
		"no autocompletion": {
			in:   Input{Method: ptr("POST"), Version: ptr(""), Data: ptr("a b"), AutocompleteHeaders: ptr(false)},
			want: "POST / \r\n\r\na b",
		},
		"stop_magic": {
			in:   Input{StopMagic: ptr(true)},
			want: "GET / HTTP/1.1\r\n\r\n",
		},
		"template": {
			in:   Input{Method: ptr("POST"), Headers: Headers{{"Content-Type", "text/plain"}}, Data: ptr(`{{ "ab" | repeat 3 }}`)},
			want: "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 6\r\n\r\nababab",
		},
		"encoded data": {
			in:   Input{Method: ptr("POST"), Headers: Headers{{"Content-Type", "text/plain"}}, EncodedData: "AAE="},
			want: "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 2\r\n\r\n\x00\x01",
		},
		"ordered headers and cookies": {
			in:      Input{Headers: Headers{{"A", "1"}}, OrderedHeaders: []Header{{"B", "2"}, {"B", "3"}}},
			cookies: []string{"s=1", "t=2"},
			want:    "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nB: 3\r\nCookie: s=1; t=2\r\nConnection: close\r\n\r\n",
		},
		"encoded request": {
			in:   Input{EncodedRequest: "R0VUIC8gSFRUUC8xLjANCkhvc3Q6DQoNCg=="},
			want: "GET / HTTP/1.0\r\nHost:\r\n\r\n",
		},
		"raw request": {
			in:   Input{RawRequest: "GET /x HTTP/1.1\r\n\r\n"},
			want: "GET /x HTTP/1.1\r\n\r\n",
		},
	} {
		got, err := c.in.Request(c.cookies)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, c.want)
		}
	}
}

func TestRequestBadTemplate(t *testing.T) {
	if _, err := (&Input{Data: ptr(`{{ "a" | nosuchfunc }}`)}).Request(nil); err == nil {
		t.Error("no error for an unknown template function")
	}
}

// fakeTarget answers every request 200 with an id, except /close (it hangs
// up) and /status/N; the "log" of a request is the X-Log header it sent.
type fakeTarget struct {
	srv   *httptest.Server
	mu    sync.Mutex
	logs  map[string][]string
	calls map[string]int
}

func newFakeTarget(t *testing.T) *fakeTarget {
	f := &fakeTarget{logs: map[string][]string{}, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.calls[r.URL.Path]++
		n := f.calls[r.URL.Path]
		id := r.URL.Path + "#" + strings.Repeat("x", n)
		lines := r.Header.Values("X-Log")
		if r.URL.Path == "/flaky" && n == 1 {
			lines = nil // logged late the first time
		}
		f.logs[id] = lines
		f.mu.Unlock()
		switch {
		case r.URL.Path == "/close":
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
			return
		case r.URL.Path == "/cookie":
			http.SetCookie(w, &http.Cookie{Name: "s", Value: "abc"})
		case strings.HasPrefix(r.URL.Path, "/status/"):
			w.Header().Set("X-Id", id)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Header().Set("X-Id", id)
		_, _ = io.WriteString(w, "hello "+r.Header.Get("Cookie"))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTarget) Addr() string { return f.srv.Listener.Addr().String() }

func (f *fakeTarget) Log(_ context.Context, resp *http.Response) ([]string, error) {
	if resp == nil {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs[resp.Header.Get("X-Id")], nil
}

func stage(uri string, log []string, out Output) Stage {
	h := Headers{{"Host", "localhost"}}
	for _, l := range log {
		h = append(h, Header{"X-Log", l})
	}
	return Stage{Input: Input{URI: ptr(uri), Headers: h}, Output: out}
}

func TestRunner(t *testing.T) {
	target := newFakeTarget(t)
	line := `[client "1.2.3.4"] Coraza: Warning. SQLi [id "942100"] [msg "x"] [data "Matched Data: 1=1 found within ARGS:id"]`
	jsonLine := `{"transaction":{"messages":[{"details":{"id":"920350"}}]}}`
	for _, c := range []struct {
		name  string
		stage Stage
		ok    bool
	}{
		{"expected id", stage("/a", []string{line}, Output{Log: Log{ExpectIDs: []int{942100}}}), true},
		{"expected id from a JSON log", stage("/a", []string{jsonLine}, Output{Log: Log{ExpectIDs: []int{920350}}}), true},
		{"missing id", stage("/a", []string{line}, Output{Log: Log{ExpectIDs: []int{942100, 942101}}}), false},
		{"unexpected id", stage("/a", []string{line}, Output{Log: Log{NoExpectIDs: []int{942100}}}), false},
		{"absent id", stage("/a", nil, Output{Log: Log{NoExpectIDs: []int{942100}}}), true},
		{"status", stage("/a", nil, Output{Status: Statuses{200}}), true},
		{"status list", stage("/status/418", nil, Output{Status: Statuses{403, 418}}), true},
		{"wrong status", stage("/status/418", nil, Output{Status: Statuses{200}}), false},
		{"match_regex", stage("/a", []string{line}, Output{Log: Log{MatchRegex: `found within ARGS:id`}}), true},
		{"match_regex fails", stage("/a", []string{line}, Output{Log: Log{MatchRegex: `ARGS:other`}}), false},
		{"no_match_regex", stage("/a", []string{line}, Output{Log: Log{NoMatchRegex: `ARGS:id`}}), false},
		{"log_contains", stage("/a", []string{line}, Output{LogContains: `id "942100"`}), true},
		{"no_log_contains", stage("/a", []string{line}, Output{NoLogContains: `id "942100"`}), false},
		{"response_contains", stage("/a", nil, Output{ResponseContains: `(?s)200 OK.*hello`}), true},
		{"response_contains fails", stage("/a", nil, Output{ResponseContains: `goodbye`}), false},
		{"expect_error", stage("/close", nil, Output{ExpectError: ptr(true)}), true},
		{"expect_error without one", stage("/a", nil, Output{ExpectError: ptr(true)}), false},
		{"unexpected error", stage("/close", nil, Output{}), false},
		{"retry_once", stage("/flaky", []string{line}, Output{RetryOnce: ptr(true), Log: Log{ExpectIDs: []int{942100}}}), true},
	} {
		r := Runner{Target: target, Timeout: 5 * time.Second}
		err := r.RunTest(context.Background(), Test{Stages: []Stage{c.stage}})
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func TestRunnerHEAD(t *testing.T) {
	// A raw HEAD request keeping the connection open: the runner must not
	// wait for a body (the method is read off the raw bytes).
	target := newFakeTarget(t)
	r := Runner{Target: target, Timeout: 2 * time.Second}
	in := Input{EncodedRequest: "SEVBRCAvYSBIVFRQLzEuMQ0KSG9zdDogbG9jYWxob3N0DQoNCg=="} // HEAD /a HTTP/1.1, Host: localhost
	if err := r.RunTest(context.Background(), Test{Stages: []Stage{{Input: in, Output: Output{Status: Statuses{200}}}}}); err != nil {
		t.Error(err)
	}
}

func TestRunnerSaveCookie(t *testing.T) {
	target := newFakeTarget(t)
	r := Runner{Target: target, Timeout: 5 * time.Second}
	host := Headers{{"Host", "localhost"}}
	first := Stage{Input: Input{URI: ptr("/cookie"), Headers: host, SaveCookie: true}}
	second := Stage{Input: Input{URI: ptr("/b"), Headers: host}, Output: Output{ResponseContains: "hello s=abc"}}
	if err := r.RunTest(context.Background(), Test{Stages: []Stage{first, second}}); err != nil {
		t.Error(err)
	}
}

func TestRun(t *testing.T) {
	target := newFakeTarget(t)
	f, err := Parse([]byte(`rule_id: 7
tests:
  - test_id: 1
    stages: [{input: {uri: /a, headers: {Host: localhost}}, output: {status: 200}}]
  - test_id: 2
    stages: [{input: {uri: /a, headers: {Host: localhost}}, output: {status: 500}}]
  - test_id: 3
    stages: [{input: {uri: /a, headers: {Host: localhost}}, output: {status: 500}}]
  - test_id: 4
    stages: [{input: {uri: /a, headers: {Host: localhost}}, output: {status: 500}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := Runner{Target: target, Workers: 3, Exceptions: map[string]Exception{
		"7-3": {Reason: "skipped"},
		"7-4": {Reason: "replaced", Output: &Output{Status: Statuses{200}}},
	}}
	res := r.Run(context.Background(), []*File{f})
	if len(res) != 4 {
		t.Fatalf("%d results", len(res))
	}
	for i, want := range []struct {
		id                   string
		ok                   bool
		excluded, overridden string
	}{{"7-1", true, "", ""}, {"7-2", false, "", ""}, {"7-3", true, "skipped", ""}, {"7-4", true, "", "replaced"}} {
		got := res[i]
		if got.ID != want.id || (got.Err == nil) != want.ok || got.Excluded != want.excluded || got.Overridden != want.overridden {
			t.Errorf("result %d = %+v, want %+v", i, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("rule_id: 1\ntests:\n  - stages: [{input: {headers: [{name: a, value: b}]}, output: {status: [1, 2]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, tc := range file.Tests {
			if len(tc.Stages) == 0 {
				t.Errorf("test %s parsed without stages", file.ID(tc))
			}
		}
	})
}
