package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/monitor"
)

// newMasterKey returns the base64 text of a fresh master key.
func newMasterKey() string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

// secretsCLI runs `portcullis secrets ARGS` against g's admin API, with the
// extra environment env.
func secretsCLI(t *testing.T, g *gateway, env []string, args ...string) (int, string, string) {
	t.Helper()
	env = append([]string{"PORTCULLIS_ADMIN_URL=http://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken}, env...)
	return runWith(t, env, append([]string{"secrets"}, args...)...)
}

// TestSecretStoredEncryptedSignsWebhook: a secret set through the CLI is in
// the SQLite file only encrypted, the Monitor's webhook secretEnv naming it
// (and no environment variable) signs the alerts with it, and a master key
// rotation keeps it usable with the new key alone.
func TestSecretStoredEncryptedSignsWebhook(t *testing.T) {
	const value = "stored-hook-secret-3f9a1c"
	oldKey := newMasterKey()
	t.Setenv("PORTCULLIS_MASTER_KEY", oldKey)
	received := make(chan []byte, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(monitor.SignatureHeader) != monitor.Sign(value, body) {
			t.Errorf("webhook signature %q is not made with the stored secret", r.Header.Get(monitor.SignatureHeader))
		}
		received <- body
	}))
	defer hook.Close()
	up, _ := echoUpstream(t)
	g := startGateway(t, monitorPolicy(up.URL, "detectors: {}"), "public")

	code, out, errOut := secretsCLI(t, g, []string{"E2E_SECRET_SOURCE=" + value}, "set", "E2E_STORED_HOOK_SECRET", "--from-env", "E2E_SECRET_SOURCE")
	if code != 0 {
		t.Fatalf("secrets set: exit %d, %s%s", code, out, errOut)
	}
	code, out, errOut = secretsCLI(t, g, nil, "list")
	if code != 0 || !strings.Contains(out, "E2E_STORED_HOOK_SECRET") || strings.Contains(out, value) {
		t.Fatalf("secrets list: exit %d, %q %s", code, out, errOut)
	}
	_, body := g.adminGet("/admin/v1/secrets")
	if bytes.Contains(body, []byte(value)) || !bytes.Contains(body, []byte(`"keyId"`)) {
		t.Errorf("GET /admin/v1/secrets: %s", body)
	}

	// Not in the database file, nor its WAL, nor anywhere in the gateway's folder.
	files, _ := filepath.Glob(filepath.Join(g.dir, "portcullis.db*"))
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(value)) {
			t.Errorf("%s holds the secret in clear", filepath.Base(f))
		}
	}
	if !bytes.Contains(readAll(t, files), []byte("E2E_STORED_HOOK_SECRET")) {
		t.Error("the secret's name is in none of the database files: the check above proves nothing")
	}
	if strings.Contains(g.stderr.String(), value) {
		t.Error("the gateway logged the secret's value")
	}

	// The webhook names the stored secret; the environment does not hold it.
	g.reload(monitorPolicy(up.URL, "alerts: {webhook: "+hook.URL+", secretEnv: E2E_STORED_HOOK_SECRET}"))
	g.waitLog("policy reloaded", 1)
	for i := range 30 {
		if resp, _ := get(t, g.url("public")+"/api/orders", "X-API-Key", fmt.Sprintf("pck_guess%04d", i)); resp.StatusCode != 401 {
			t.Fatalf("a wrong key: %d", resp.StatusCode)
		}
	}
	select {
	case <-received: // the handler checked the signature
	case <-time.After(15 * time.Second):
		t.Fatalf("the webhook received no alert; stderr:\n%s", g.stderr.String())
	}
	g.stop()

	// Rotation, on the store, to a new key in a file.
	newKey := newMasterKey()
	keyFile := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runWith(t, nil, "secrets", "rotate-master-key", "--store", "sqlite:"+filepath.Join(g.dir, "portcullis.db"), "--new-key-file", keyFile)
	if code != 0 || !strings.Contains(out, "1 secret(s) re-encrypted") {
		t.Fatalf("rotate-master-key: exit %d, %q %s", code, out, errOut)
	}
	// The old key alone no longer opens it; the new one does.
	for _, c := range []struct {
		key  string
		open bool
	}{{oldKey, false}, {newKey, true}} {
		t.Setenv("PORTCULLIS_MASTER_KEY", c.key)
		h := startGatewayWith(t, "sqlite:"+filepath.Join(g.dir, "portcullis.db"), nil,
			monitorPolicy(up.URL, "alerts: {webhook: "+hook.URL+", secretEnv: E2E_STORED_HOOK_SECRET}"), "public")
		failed := strings.Contains(h.stderr.String(), "the alert webhook's secret is not available")
		if failed == c.open {
			t.Errorf("restarted with the %s key: webhook secret unavailable = %v\n%s", map[bool]string{false: "old", true: "new"}[c.open], failed, h.stderr.String())
		}
		h.stop()
	}
}

func readAll(t *testing.T, files []string) []byte {
	var all []byte
	for _, f := range files {
		data, _ := os.ReadFile(f)
		all = append(all, data...)
	}
	return all
}

// TestSecretRefusedWithoutMasterKey: with no master key the gateway refuses
// to store a secret (never in clear), and says what to set.
func TestSecretRefusedWithoutMasterKey(t *testing.T) {
	t.Setenv("PORTCULLIS_MASTER_KEY", "")
	up, _ := echoUpstream(t)
	g := startGateway(t, monitorPolicy(up.URL, "detectors: {}"), "public")
	code, out, errOut := secretsCLI(t, g, []string{"E2E_SECRET_SOURCE=v"}, "set", "E2E_ANY", "--from-env", "E2E_SECRET_SOURCE")
	if code != 1 || !strings.Contains(errOut, "409") || !strings.Contains(errOut, "PORTCULLIS_MASTER_KEY") {
		t.Fatalf("secrets set without a master key: exit %d, %q %q", code, out, errOut)
	}
	if _, body := g.adminGet("/admin/v1/secrets"); !bytes.Contains(body, []byte(`"secrets":[]`)) {
		t.Errorf("something was stored: %s", body)
	}
}

// TestSecretStoredEncryptedPostgres: on PostgreSQL the secrets table holds
// no value in clear, in any column.
func TestSecretStoredEncryptedPostgres(t *testing.T) {
	const value = "pg-stored-secret-8d27e0"
	dsn := freshDatabase(t)
	t.Setenv("PORTCULLIS_MASTER_KEY", newMasterKey())
	up, _ := echoUpstream(t)
	g := startGatewayOn(t, dsn, monitorPolicy(up.URL, "detectors: {}"), "public")
	if code, out, errOut := secretsCLI(t, g, []string{"E2E_SECRET_SOURCE=" + value}, "set", "E2E_PG_SECRET", "--from-env", "E2E_SECRET_SOURCE"); code != 0 {
		t.Fatalf("secrets set: exit %d, %s%s", code, out, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name, keyID string
	var wrapped, nonce, ciphertext []byte
	var row string
	if err := conn.QueryRow(ctx, `SELECT name, key_id, wrapped_key, nonce, ciphertext, s::text FROM secrets s`).
		Scan(&name, &keyID, &wrapped, &nonce, &ciphertext, &row); err != nil {
		t.Fatal(err)
	}
	if name != "E2E_PG_SECRET" || len(keyID) != 16 {
		t.Errorf("row: name %q, key id %q", name, keyID)
	}
	for what, b := range map[string][]byte{"wrapped_key": wrapped, "nonce": nonce, "ciphertext": ciphertext, "the row as text": []byte(row)} {
		if bytes.Contains(b, []byte(value)) || bytes.Contains(b, []byte(fmt.Sprintf("%x", value))) {
			t.Errorf("%s holds the value in clear", what)
		}
	}
	if code, out, errOut := secretsCLI(t, g, nil, "delete", "E2E_PG_SECRET"); code != 0 {
		t.Fatalf("secrets delete: exit %d, %s%s", code, out, errOut)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM secrets`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after delete: %d rows, %v", n, err)
	}
}

// TestAuditEncryptedAtRest: with a master key the audit trail's records are
// in the SQLite files only encrypted — a request's path is in none of them —
// and the admin API still lists them; without one the same path is there in
// clear (so the check proves something).
func TestAuditEncryptedAtRest(t *testing.T) {
	up, _ := echoUpstream(t)
	for _, tc := range []struct {
		name, key string
		inClear   bool
	}{{"with a master key", newMasterKey(), false}, {"without", "", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PORTCULLIS_MASTER_KEY", tc.key)
			g := startGateway(t, monitorPolicy(up.URL, ""), "public")
			const needle = "needle-7c1e9b"
			if resp, _ := get(t, g.url("public")+"/open/"+needle); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			g.signal(syscall.SIGTERM) // everything queued is written
			if code := g.waitExit(15 * time.Second); code != 0 {
				t.Fatalf("exit %d", code)
			}
			files, _ := filepath.Glob(filepath.Join(g.dir, "portcullis.db*"))
			if got := bytes.Contains(readAll(t, files), []byte(needle)); got != tc.inClear {
				t.Errorf("the path is in the database files in clear: %v, want %v", got, tc.inClear)
			}
			again := startGatewayOn(t, "sqlite:"+filepath.Join(g.dir, "portcullis.db"), monitorPolicy(up.URL, ""), "public")
			if _, body := again.adminGet("/admin/v1/audit"); !bytes.Contains(body, []byte("/open/"+needle)) {
				t.Errorf("the audit record is not listed after a restart: %s", body)
			}
		})
	}
}

// TestSecretChangeReachesEveryNode: two nodes share PostgreSQL and a policy
// whose webhook secretEnv names a secret nobody has set yet. Once it is set
// through one node — no reload anywhere — the other node signs its alerts
// with it.
func TestSecretChangeReachesEveryNode(t *testing.T) {
	const value = "live-hook-secret-81d2"
	t.Setenv("PORTCULLIS_MASTER_KEY", newMasterKey())
	signed := make(chan bool, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		signed <- r.Header.Get(monitor.SignatureHeader) == monitor.Sign(value, body)
	}))
	defer hook.Close()
	up, _ := echoUpstream(t)
	dsn := freshDatabase(t)
	policy := monitorPolicy(up.URL, "alerts: {webhook: "+hook.URL+", secretEnv: E2E_LIVE_HOOK_SECRET}")
	a := startGatewayOn(t, dsn, policy, "public")
	b := startGatewayOn(t, dsn, policy, "public")

	if code, out, errOut := secretsCLI(t, a, []string{"E2E_SECRET_SOURCE=" + value}, "set", "E2E_LIVE_HOOK_SECRET", "--from-env", "E2E_SECRET_SOURCE"); code != 0 {
		t.Fatalf("secrets set: exit %d, %s%s", code, out, errOut)
	}
	b.waitLog("a stored secret changed; the policy was compiled again with it", 1)
	for i := range 30 {
		get(t, b.url("public")+"/api/orders", "X-API-Key", fmt.Sprintf("pck_guess%04d", i))
	}
	select {
	case ok := <-signed:
		if !ok {
			t.Error("node b's webhook delivery is not signed with the secret set through node a")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("node b posted no alert")
	}
}
