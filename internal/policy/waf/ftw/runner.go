package ftw

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Target is the system under test: where requests go, and what its WAF
// logged for each of them. The runner knows nothing else about it, so the
// same tests run against a bare WAF or the whole gateway.
type Target interface {
	// Addr is the host:port the runner sends raw requests to.
	Addr() string
	// Log returns the log lines the target's WAF wrote for the request that
	// resp answers; resp is nil when no response could be read (then there
	// is nothing to correlate and the target returns nil). A target
	// typically tags each response with a request id (the gateway's
	// X-Request-Id) and keeps its lines by id; Log may wait (until ctx ends)
	// for lines written after the response. Lines name their rule as
	// ModSecurity's error log does, [id "942100"] (or a JSON log's "id"),
	// and are matched by the tests' regular expressions.
	Log(ctx context.Context, resp *http.Response) ([]string, error)
}

// Runner runs tests against a Target.
type Runner struct {
	Target Target
	// Exceptions are the tests not run as written, by id (RULE-TEST).
	Exceptions map[string]Exception
	// Timeout bounds one stage's exchange; 0 means 10 s.
	Timeout time.Duration
	// Workers is how many tests run at once; 0 means 1. Tests are
	// independent: the target correlates logs per request, not by time.
	Workers int
}

// Exception is why a test is not run as written.
type Exception struct {
	Reason string
	// Output, when set, replaces the expectations of every stage of the
	// test (typically: the rule fires, where the test wants the status
	// another web server answers); nil: the test is not run.
	Output *Output
}

// Result is the outcome of one test.
type Result struct {
	ID         string // RULE-TEST
	File       string
	Excluded   string // the reason, when the test was not run
	Overridden string // the reason, when it ran with replaced expectations
	Err        error  // why it failed; nil when it passed (or was excluded)
}

// Run runs every test of files and returns one Result per test, in order.
func (r *Runner) Run(ctx context.Context, files []*File) []Result {
	type job struct {
		f *File
		t Test
	}
	var jobs []job
	for _, f := range files {
		for _, t := range f.Tests {
			jobs = append(jobs, job{f, t})
		}
	}
	results := make([]Result, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(r.Workers, 1) {
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				res := Result{ID: j.f.ID(j.t), File: j.f.Path}
				t := j.t
				if e, ok := r.Exceptions[res.ID]; ok {
					if e.Output == nil {
						res.Excluded = e.Reason
						results[i] = res
						continue
					}
					res.Overridden = e.Reason
					t.Stages = slices.Clone(t.Stages)
					for k := range t.Stages {
						t.Stages[k].Output = *e.Output
					}
				}
				res.Err = r.RunTest(ctx, t)
				results[i] = res
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// RunTest runs one test's stages in order; it stops at the first failing
// stage.
func (r *Runner) RunTest(ctx context.Context, t Test) error {
	var cookies []string
	for i, s := range t.Stages {
		res, err := r.runStage(ctx, s, cookies)
		if err != nil && s.Output.RetryOnce != nil && *s.Output.RetryOnce {
			res, err = r.runStage(ctx, s, cookies)
		}
		if err != nil {
			if len(t.Stages) > 1 {
				return fmt.Errorf("stage %d: %w", i+1, err)
			}
			return err
		}
		if s.Input.SaveCookie && res != nil {
			for _, c := range res.Cookies() {
				cookies = append(cookies, c.Name+"="+c.Value)
			}
		}
	}
	return nil
}

// runStage sends one stage's request and checks the outcome.
func (r *Runner) runStage(ctx context.Context, s Stage, cookies []string) (*http.Response, error) {
	raw, err := s.Input.Request(cookies)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, full, exchangeErr := r.exchange(ctx, raw)
	out := s.Output
	if out.ExpectError != nil && *out.ExpectError {
		if exchangeErr == nil {
			return resp, fmt.Errorf("expected an error, got status %d", resp.StatusCode)
		}
		return resp, nil
	}
	if exchangeErr != nil {
		return nil, exchangeErr
	}
	if len(out.Status) > 0 && !slices.Contains(out.Status, resp.StatusCode) {
		return resp, fmt.Errorf("status %d, want %v", resp.StatusCode, []int(out.Status))
	}
	if out.ResponseContains != "" {
		if ok, err := regexp.Match(out.ResponseContains, full); err != nil || !ok {
			return resp, fmt.Errorf("response does not match %q (%v)", out.ResponseContains, err)
		}
	}
	lines, err := r.Target.Log(ctx, resp)
	if err != nil {
		return resp, fmt.Errorf("reading the target's log: %w", err)
	}
	return resp, checkLog(out, lines)
}

// exchange sends raw on a new connection and reads one response; full is the
// response's raw bytes.
func (r *Runner) exchange(ctx context.Context, raw []byte) (*http.Response, []byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.Target.Addr())
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, nil, err
		}
	}
	if _, err := conn.Write(raw); err != nil {
		return nil, nil, err
	}
	var full bytes.Buffer
	br := bufio.NewReader(io.TeeReader(conn, &full))
	// The request's method tells ReadResponse whether a body follows (not
	// for HEAD); raw requests name it only in their bytes.
	method, _, _ := strings.Cut(strings.TrimLeft(string(raw), " \t"), " ")
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, nil, err
	}
	return resp, full.Bytes(), nil
}

// ruleIDs finds the rule ids in log lines, as go-ftw does: ModSecurity's
// [id "N"] or a JSON log's "id": N.
var ruleIDs = regexp.MustCompile(`\[id "(\d+)"\]|"id":\s*"?(\d+)"?`)

// checkLog checks the log expectations of out against the request's lines.
func checkLog(out Output, lines []string) error {
	logged := map[int]bool{}
	for _, l := range lines {
		for _, m := range ruleIDs.FindAllStringSubmatch(l, -1) {
			for _, g := range m[1:] {
				if id, err := strconv.Atoi(g); err == nil {
					logged[id] = true
				}
			}
		}
	}
	var problems []string
	var missing, unexpected []int
	for _, id := range out.Log.ExpectIDs {
		if !logged[id] {
			missing = append(missing, id)
		}
	}
	for _, id := range out.Log.NoExpectIDs {
		if logged[id] {
			unexpected = append(unexpected, id)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("expected ids not logged: %v", missing))
	}
	if len(unexpected) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected ids logged: %v", unexpected))
	}
	for _, c := range []struct {
		expr string
		want bool
	}{{out.Log.MatchRegex, true}, {out.LogContains, true}, {out.Log.NoMatchRegex, false}, {out.NoLogContains, false}} {
		if c.expr == "" {
			continue
		}
		re, err := regexp.Compile(c.expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("bad regular expression %q: %v", c.expr, err))
			continue
		}
		if slices.ContainsFunc(lines, re.MatchString) != c.want {
			if c.want {
				problems = append(problems, fmt.Sprintf("no log line matches %q", c.expr))
			} else {
				problems = append(problems, fmt.Sprintf("a log line matches %q", c.expr))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	ids := make([]int, 0, len(logged))
	for id := range logged {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return fmt.Errorf("%s (logged: %v)", strings.Join(problems, "; "), ids)
}
