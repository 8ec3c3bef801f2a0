package control

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// TestFailure is one policy test case whose expectation did not hold.
type TestFailure struct {
	Test     string `json:"test"` // the PolicyTest's name, or the cases file
	Case     string `json:"case"`
	Want     int    `json:"wantStatus"`
	Got      int    `json:"gotStatus"`
	Detail   string `json:"detail,omitempty"`
	Position string `json:"position,omitempty"` // FILE:LINE:COL of the case
}

// TestFailures refuses a policy whose own test cases fail.
type TestFailures []TestFailure

func (fs TestFailures) Error() string {
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.String()
	}
	return fmt.Sprintf("%d policy test case(s) failed:\n%s", len(fs), strings.Join(lines, "\n"))
}

func (f TestFailure) String() string {
	s := fmt.Sprintf("%s: %q: want status %d, got %d", f.Test, f.Case, f.Want, f.Got)
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	if f.Position != "" {
		s = f.Position + ": " + s
	}
	return s
}

// stubStatus is what the offline stub upstream answers to every allowed request.
const stubStatus = http.StatusOK

// RunPolicyTests runs the PolicyTest cases declared in policy against snap,
// the compiled form of that same policy, offline: requests are decided by the
// snapshot exactly as the edge decides them, and an allowed request is
// answered by a stub upstream with 200 instead of being forwarded. It returns
// the failures (nil when every case holds).
func RunPolicyTests(snap *snapshot.Snapshot, policy *config.Policy) TestFailures {
	snap = snap.Sandbox() // the cases must not count against live rate limits
	var failures TestFailures
	for _, t := range policy.PolicyTests {
		for i, c := range t.Spec.Cases {
			f := RunCase(snap, c)
			if f == nil {
				continue
			}
			f.Test = t.Metadata.Name
			f.Position = t.Source.Positions.Of(fmt.Sprintf("spec.cases[%d]", i)).String()
			failures = append(failures, *f)
		}
	}
	return failures
}

// RunCase decides one case's request on snap; nil means it held.
func RunCase(snap *snapshot.Snapshot, c config.TestCase) *TestFailure {
	got, consumer, detail := decideCase(snap, c)
	switch {
	case got != c.Expect.Status:
	case c.Expect.Consumer != "" && consumer != c.Expect.Consumer:
		detail = fmt.Sprintf("want consumer %q, got %q", c.Expect.Consumer, consumer)
	default:
		return nil
	}
	return &TestFailure{Case: c.Name, Want: c.Expect.Status, Got: got, Detail: detail}
}

// decideCase returns the status the gateway would answer, the consumer it
// found and, for a refusal, the public reason.
func decideCase(snap *snapshot.Snapshot, c config.TestCase) (status int, consumer, detail string) {
	var ln *snapshot.Listener
	for _, l := range snap.Listeners {
		if c.Request.Listener == "" || l.Name == c.Request.Listener {
			ln = l
			break
		}
	}
	if ln == nil {
		return 0, "", fmt.Sprintf("no listener %q", c.Request.Listener)
	}
	host := c.Request.Host
	if host == "" {
		host = "gateway.test"
	}
	r, err := http.NewRequest(c.Request.Method, "http://"+host+c.Request.Path, strings.NewReader(c.Request.Body))
	if err != nil {
		return 0, "", "the case's request cannot be built: " + err.Error()
	}
	for k, v := range c.Request.Headers {
		r.Header.Set(k, v)
	}
	clientIP := c.Request.ClientIP
	if clientIP == "" {
		clientIP = "192.0.2.10"
	}
	r.RemoteAddr = net.JoinHostPort(clientIP, "40000")
	d := snap.Decide(ln, r, clientIP)
	if d.Err == nil {
		d.Err = checkCaseInput(r, d, clientIP, c.Request.Body)
	}
	if d.Err != nil {
		return d.Err.Status, d.Identity.Consumer, d.Err.Public
	}
	return stubStatus, d.Identity.Consumer, ""
}

// checkCaseInput runs the route's input steps on a case's request as the
// edge does — the body limit, validation, the WAF — without reporting the
// WAF's detections.
func checkCaseInput(r *http.Request, d snapshot.Decision, clientIP, body string) *httperr.Error {
	if int64(len(body)) > d.Route.MaxBodyBytes {
		return snapshot.BodyTooLarge()
	}
	if err := d.Route.CheckHead(r, d.Path); err != nil || !d.Route.NeedsBody() {
		return err
	}
	var buffered []byte
	if body != "" {
		buffered = []byte(body)
	}
	err, _ := d.Route.CheckBody(r, d.Path, clientIP, buffered)
	return err
}
