package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/blocklist"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/store"
)

const blockedKey = "pck_blocked-test-key"

func blocksPolicy() string {
	sum := sha256.Sum256([]byte(blockedKey))
	return `
apiVersion: gateway/v1
kind: Gateway
metadata: {name: t}
spec:
  listeners: [{name: a, port: 8001}]
  routes:
    - {name: open, match: {pathPrefix: /open}, to: one}
    - {name: keyed, match: {pathPrefix: /keyed}, to: one, authentication: {type: apiKey}}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: one}
spec: {url: "http://127.0.0.1:9001"}
---
apiVersion: gateway/v1
kind: Consumer
metadata: {name: mallory}
spec:
  apiKeys: [{id: key-m, sha256: ` + hex.EncodeToString(sum[:]) + `}]
`
}

// TestDecideBlocks: an address block refuses before routing (even where no
// route matches), consumer and key blocks right after authentication; each
// is a 403 with decision blocked, and a block swapped in applies to the
// next request of the same snapshot.
func TestDecideBlocks(t *testing.T) {
	var blocks blocklist.Holder
	s := compile(t, blocksPolicy(), Deps{Metrics: metrics.New(), Blocks: &blocks}, nil)
	defer s.Release(nil)
	l := s.Listeners[0]
	decide := func(path, clientIP string) Decision {
		r := httptest.NewRequest("GET", "http://example.com"+path, nil)
		r.Header.Set("X-API-Key", blockedKey)
		return s.Decide(l, r, clientIP)
	}
	wantDecision := func(what string, d Decision, want string) {
		t.Helper()
		got := httperr.DecisionAllowed
		if d.Err != nil {
			got = d.Err.Decision
			if want == httperr.DecisionBlocked && d.Err.Status != 403 {
				t.Errorf("%s: status %d, want 403", what, d.Err.Status)
			}
		}
		if got != want {
			t.Errorf("%s: decision %s, want %s", what, got, want)
		}
	}
	wantDecision("keyed, no blocks", decide("/keyed", "192.0.2.1"), httperr.DecisionAllowed)

	in := time.Now().Add(time.Hour)
	blocks.Store(blocklist.New([]blocklist.Entry{{Kind: store.BlockIP, Value: "192.0.2.0/24", ExpiresAt: in}}, time.Now()))
	wantDecision("a blocked network, open route", decide("/open", "192.0.2.1"), httperr.DecisionBlocked)
	wantDecision("a blocked network, no route", decide("/nowhere", "192.0.2.1"), httperr.DecisionBlocked)
	wantDecision("another client", decide("/open", "198.51.100.1"), httperr.DecisionAllowed)
	if d := decide("/open", "192.0.2.1"); d.Route != nil {
		t.Error("a blocked client was routed")
	}

	blocks.Store(blocklist.New([]blocklist.Entry{{Kind: store.BlockConsumer, Value: "mallory", ExpiresAt: in}}, time.Now()))
	d := decide("/keyed", "192.0.2.1")
	wantDecision("a blocked consumer", d, httperr.DecisionBlocked)
	if d.Identity.Consumer != "mallory" || d.Route == nil {
		t.Errorf("a consumer block refuses after authentication and routing: %+v", d)
	}
	wantDecision("a blocked consumer on an open route (anonymous there)", decide("/open", "192.0.2.1"), httperr.DecisionAllowed)

	blocks.Store(blocklist.New([]blocklist.Entry{{Kind: store.BlockKey, Value: "key-m", ExpiresAt: in}}, time.Now()))
	wantDecision("a blocked key", decide("/keyed", "192.0.2.1"), httperr.DecisionBlocked)

	// Authentication first: without a valid key the caller is 401, whatever
	// the blocks, so a block reveals nothing to someone without the key.
	r := httptest.NewRequest("GET", "http://example.com/keyed", nil)
	wantDecision("no key", s.Decide(l, r, "192.0.2.1"), httperr.DecisionUnauthenticated)

	blocks.Store(nil)
	wantDecision("blocks lifted", decide("/keyed", "192.0.2.1"), httperr.DecisionAllowed)
}
