package test

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/testpki"
)

// h2specKnownFailures are the h2spec cases Go's own HTTP/2 server
// (net/http, which serves h2 on our HTTPS listeners) fails, each with why.
// The test fails when any other case fails — and when one of these starts
// to pass, so that the list stays true.
var h2specKnownFailures = map[string]string{
	"http2/6.5.3 Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE": "Go refuses a SETTINGS frame that repeats a " +
		"parameter as a PROTOCOL_ERROR (a guard against settings floods), where RFC 9113 says to apply the values in order",
	"http2/8.1.2.2 Sends a HEADERS frame that contains the connection-specific header field": "Go's server accepts " +
		"Connection-specific fields instead of a stream error; the gateway never forwards them (they are hop-by-hop)",
	"http2/8.1.2.2 Sends a HEADERS frame that contains the TE header field with any value other than \"trailers\"": "Go's " +
		"server accepts TE values other than trailers instead of a stream error; the gateway never forwards TE",
}

// h2specBinary finds h2spec: on PATH or in GOPATH/bin (.ci/run installs it
// with `go install github.com/summerwind/h2spec/cmd/h2spec@latest`).
func h2specBinary(t *testing.T) string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	out, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "h2spec")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("h2spec is not installed (CI installs it: go install github.com/summerwind/h2spec/cmd/h2spec@latest)")
	}
	t.Skip("h2spec is not installed: go install github.com/summerwind/h2spec/cmd/h2spec@latest")
	return ""
}

type junitSuites struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Package string    `xml:"package,attr"`
			Class   string    `xml:"classname,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestH2Spec runs the h2spec HTTP/2 conformance suite against an HTTPS
// listener.
func TestH2Spec(t *testing.T) {
	bin := h2specBinary(t)
	ca := testpki.NewCA(t, "e2e CA")
	up, _ := echoUpstream(t)
	dir := t.TempDir()
	cert, key := ca.Issue(t, "gateway", "127.0.0.1", "localhost")
	writeFile(t, filepath.Join(dir, "cert.pem"), string(cert))
	writeFile(t, filepath.Join(dir, "key.pem"), string(key))
	g := startGateway(t, httpsPolicy(up.URL, fmt.Sprintf("{certFile: %[1]s/cert.pem, keyFile: %[1]s/key.pem}", dir)), "secure")
	host, port, _ := strings.Cut(g.listeners["secure"], ":")
	report := filepath.Join(dir, "h2spec.xml")
	out, _ := exec.Command(bin, "-t", "-k", "-h", host, "-p", port, "-o", "5", "-j", report).CombinedOutput()
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report: %v\n%s", err, out)
	}
	var suites junitSuites
	if err := xml.Unmarshal(raw, &suites); err != nil {
		t.Fatalf("h2spec report: %v", err)
	}
	passed, failed := 0, map[string]bool{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			switch {
			case c.Skipped != nil:
			case c.Failure != nil || c.Error != nil:
				failed[c.Package+" "+c.Class] = true
			default:
				passed++
			}
		}
	}
	var unexpected, fixed []string
	for name := range failed {
		if _, ok := h2specKnownFailures[name]; !ok {
			unexpected = append(unexpected, name)
		}
	}
	for name := range h2specKnownFailures {
		if !failed[name] {
			fixed = append(fixed, name)
		}
	}
	sort.Strings(unexpected)
	sort.Strings(fixed)
	t.Logf("h2spec: %d passed, %d failed (%d known)", passed, len(failed), len(failed)-len(unexpected))
	if len(unexpected) > 0 {
		t.Errorf("h2spec cases failed:\n%s\n\n%s", strings.Join(unexpected, "\n"), out)
	}
	if len(fixed) > 0 {
		t.Errorf("h2spec cases listed as known failures now pass; remove them:\n%s", strings.Join(fixed, "\n"))
	}
}
