package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// crashChildEnv, when set to a database path, turns TestCrashSafety into
// the child that appends versions to it until it is killed.
const crashChildEnv = "PORTCULLIS_SQLITE_CRASH_CHILD"

// crashFiles returns the files of version n as the child writes them: large
// enough that one version spans many database pages.
func crashFiles(n int64) []store.File {
	files := make([]store.File, 4)
	for i := range files {
		files[i] = store.File{
			Name:    fmt.Sprintf("f%d.yaml", i),
			Content: strings.Repeat(fmt.Sprintf("# version %d file %d\n", n, i), 2000),
		}
	}
	return files
}

// TestCrashSafety kills a process that is appending versions, at random
// moments, and checks after each kill that the store opens with an intact
// chain whose newest version is complete and includes every append the
// child reported as done.
func TestCrashSafety(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := range 6 {
		reported := runAndKill(t, path, round)

		s := open(t, path)
		ctx := t.Context()
		r, err := s.VerifyChain(ctx)
		if err != nil || !r.OK {
			t.Fatalf("round %d: VerifyChain after the kill = %+v, %v", round, r, err)
		}
		active, err := s.ActiveVersion(ctx)
		if err != nil {
			t.Fatalf("round %d: ActiveVersion: %v", round, err)
		}
		if active.Number < reported || active.Number > reported+1 {
			t.Errorf("round %d: newest version %d; the child had reported %d done", round, active.Number, reported)
		}
		if want := crashFiles(active.Number); !reflect.DeepEqual(active.Files, want) {
			t.Errorf("round %d: version %d is incomplete: %d files", round, active.Number, len(active.Files))
		}
		if r.Versions != active.Number {
			t.Errorf("round %d: %d versions, newest %d", round, r.Versions, active.Number)
		}
		t.Logf("round %d: killed after %d reported appends; newest version %d, chain OK", round, reported, active.Number)
		s.Close()
	}
}

// runAndKill starts the child on path, lets it report a few appends, kills
// it with SIGKILL at a random moment and returns the newest version number
// it reported as appended.
func runAndKill(t *testing.T, path string, round int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan int64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "appended "); ok {
				v, _ := strconv.ParseInt(n, 10, 64)
				lines <- v
			}
		}
	}()
	var reported int64
	timeout := time.After(30 * time.Second)
	for seen := 0; seen < 2+round; {
		select {
		case v, ok := <-lines:
			if !ok {
				t.Fatalf("round %d: the child stopped: %v", round, cmd.Wait())
			}
			reported, seen = v, seen+1
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("round %d: the child reported no appends within 30s", round)
		}
	}
	// Kill it somewhere within the next append or two.
	deadline := time.After(time.Duration(rand.IntN(20_000)) * time.Microsecond)
	for waiting := true; waiting; {
		select {
		case v, ok := <-lines:
			if !ok {
				t.Fatalf("round %d: the child stopped: %v", round, cmd.Wait())
			}
			reported = max(reported, v)
		case <-deadline:
			waiting = false
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for v := range lines { // anything it printed before dying
		reported = max(reported, v)
	}
	cmd.Wait()
	return reported
}

// crashChild appends versions to the store at path until it is killed (or a
// minute has passed, should its parent be gone), printing each number once
// the append has returned.
func crashChild(path string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	var base int64
	if v, err := s.ActiveVersion(ctx); err == nil {
		base = v.Number
	}
	for ctx.Err() == nil {
		v, err := s.AppendVersion(ctx, store.NewVersion{Files: crashFiles(base + 1), Reason: "crash test",
			Source: store.SourceAPI, ExpectBase: base})
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		base = v.Number
		fmt.Printf("appended %d\n", v.Number)
	}
}
