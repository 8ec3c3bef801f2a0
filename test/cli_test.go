package test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run runs the binary and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runWith(t, nil, args...)
}

// runWith runs the binary with env added to the environment.
func runWith(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatal(err)
		return -1, "", ""
	}
}

var problemLine = regexp.MustCompile(`^[^:]+\.yaml:\d+:\d+: .+$`)

func TestValidateCommand(t *testing.T) {
	code, out, errOut := run(t, "validate", "../examples/quickstart")
	if code != 0 || !strings.HasPrefix(out, "valid") {
		t.Fatalf("quickstart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	dir := t.TempDir()
	bad := `apiVersion: gateway/v1
kind: Gateway
metadata: {name: bad}
spec:
  listeners:
    - name: public
      port: 99999
      colour: blue
  routes:
    - match: {pathPrefix: /x}
      to: nowhere
      timeout: soon
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "validate", filepath.Join(dir, "bad.yaml"))
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) < 4 {
		t.Fatalf("want every problem (port, unknown field, service, duration), got:\n%s", errOut)
	}
	for _, l := range lines {
		if !problemLine.MatchString(l) {
			t.Errorf("not FILE:LINE:COL: message: %q", l)
		}
	}
	for _, want := range []string{"bad.yaml:7:", "bad.yaml:8:", "bad.yaml:11:", "bad.yaml:12:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no problem reported at %s:\n%s", want, errOut)
		}
	}

	if code, _, _ := run(t, "validate"); code != 2 {
		t.Errorf("missing argument: exit %d, want 2", code)
	}
	if code, _, _ := run(t, "run", "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _, _ := run(t, "validate", filepath.Join(dir, "missing.yaml")); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}

// TestSeedExampleIsValid checks the brief's example validates as written
// (and that the copy in examples/ matches the brief's); TestSeedExampleRuns
// serves it.
func TestSeedExampleIsValid(t *testing.T) {
	seed := "../examples/seed/gateway.yaml"
	// The project workspace's shared/ holds the brief's original (CI has it
	// beside the clone); the copy in examples/ must not drift from it.
	if original, err := os.ReadFile("../../shared/examples/seed/gateway.yaml"); err == nil {
		if copied, err := os.ReadFile(seed); err != nil || !bytes.Equal(original, copied) {
			t.Fatalf("examples/seed/gateway.yaml differs from shared/examples/seed/gateway.yaml (%v): copy it again", err)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatalf("CI must have shared/ beside the clone: %v", err)
	}
	code, out, errOut := run(t, "validate", seed)
	if code != 0 || !strings.HasPrefix(out, "valid: 1 gateway") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
}

// TestQuickstart follows the README's first command: the quickstart config on
// its fixed ports with the built-in demo upstream, no admin token given. It
// checks the printed curl lines, follows one, and finds the admin token file.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "run", "--config", "../examples/quickstart",
		"--store", "sqlite:"+filepath.Join(dir, "portcullis.db"), "--admin", "127.0.0.1:0",
		"--demo-upstream", "127.0.0.1:9080")
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	cmd.Env = append(os.Environ(), "PORTCULLIS_ADMIN_TOKEN=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	// The banner is written in several writes: wait for the line itself,
	// not for "Try:" before it.
	const curlLine = "curl -i http://127.0.0.1:8000/api/hello"
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), curlLine) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := stderr.String()
	if !strings.Contains(out, curlLine) {
		t.Fatalf("no curl lines printed (are ports 8000 and 9080 free?):\n%s", out)
	}
	resp, err := http.Get("http://127.0.0.1:8000/api/hello")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"service": "demo-upstream"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// Without PORTCULLIS_ADMIN_TOKEN a token file is made beside the store, mode 0600.
	info, err := os.Stat(filepath.Join(dir, "portcullis.admin-token"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", info, err)
	}
}

// TestExamplesValidate: every example folder is a valid policy, and the
// api-keys example's own PolicyTest cases hold.
func TestExamplesValidate(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*")
	if err != nil || len(dirs) < 3 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	for _, dir := range dirs {
		if code, out, errOut := run(t, "validate", dir); code != 0 {
			t.Errorf("%s: exit %d\n%s%s", dir, code, out, errOut)
		}
	}
	cases := filepath.Join(t.TempDir(), "cases.yaml")
	writeFile(t, cases, "cases:\n  - name: path tricks stay out\n    request: {method: GET, path: /catalog/../orders}\n    expect: {status: 401}\n")
	if code, out, errOut := run(t, "policy", "test", "../examples/api-keys", "--cases", cases); code != 0 || !strings.Contains(out, "5 cases, 0 failed") {
		t.Errorf("api-keys example: exit %d\n%s%s", code, out, errOut)
	}
}
