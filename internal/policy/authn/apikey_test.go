package authn

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

func TestAPIKey(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	hash := func(k string) [32]byte { return sha256.Sum256([]byte(k)) }
	var store Keys
	store.Replace(KeySet{
		hash("pck_alice"):   {ID: "k1", Consumer: "alice", Roles: []string{"reader"}},
		hash("pck_revoked"): {ID: "k2", Consumer: "bob", Revoked: true},
		hash("pck_expired"): {ID: "k3", Consumer: "bob", ExpiresAt: now.Add(-time.Second)},
		hash("pck_later"):   {ID: "k4", Consumer: "bob", ExpiresAt: now.Add(time.Hour)},
		hash("pck_shadow"):  {ID: "k5", Consumer: "store-carol"},
	})
	declared := KeySet{hash("pck_shadow"): {ID: "m1", Consumer: "manifest-carol"}}
	a := NewAPIKey(APIKeyConfig{Declared: declared, Store: &store})

	cases := []struct {
		key, consumer string
		ok            bool
	}{
		{"pck_alice", "alice", true},
		{" pck_alice ", "alice", true},
		{"pck_later", "bob", true},
		{"pck_shadow", "manifest-carol", true}, // a declared key wins
		{"pck_revoked", "", false},
		{"pck_expired", "", false},
		{"pck_unknown", "", false},
		{"", "", false},
		{strings.Repeat("x", 600), "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.key != "" {
			r.Header.Set("X-API-Key", c.key)
		}
		id, err := a.Authenticate(r, now)
		if (err == nil) != c.ok || id.Consumer != c.consumer {
			t.Errorf("key %.20q: identity %+v, err %v", c.key, id, err)
			continue
		}
		if err != nil {
			if err.Status != 401 || err.Header.Get("WWW-Authenticate") == "" || err.Decision != "unauthenticated" {
				t.Errorf("refusal: %+v", err)
			}
			if strings.Contains(err.Error(), c.key) && c.key != "" {
				t.Errorf("the error carries the key: %v", err)
			}
		}
	}
}

func TestAPIKeyInQuery(t *testing.T) {
	var store Keys
	store.Replace(KeySet{sha256.Sum256([]byte("k")): {ID: "k1", Consumer: "alice"}})
	a := NewAPIKey(APIKeyConfig{Query: "apikey", Store: &store})
	if h, q := a.Credential(); h != "" || q != "apikey" {
		t.Errorf("Credential = %q, %q", h, q)
	}
	r := httptest.NewRequest("GET", "/x?apikey=k&y=1", nil)
	r.Header.Set("X-API-Key", "ignored")
	if id, err := a.Authenticate(r, time.Now()); err != nil || id.Consumer != "alice" {
		t.Errorf("query key: %+v %v", id, err)
	}
}

// BenchmarkAPIKeyLookup is one API-key authentication with 100,000 keys loaded.
func BenchmarkAPIKeyLookup(b *testing.B) { benchmarkLookup(b, 100_000) }

var fixedNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func newKeyRequest(key string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", key)
	return r
}

func TestJoinRoles(t *testing.T) {
	var k Keys
	k.ReplaceRoles(map[string][]string{"alice": {"reader", "billing"}})
	id := k.JoinRoles(policy.Identity{Consumer: "alice", Roles: []string{"reader"}})
	if len(id.Roles) != 2 || id.Roles[1] != "billing" {
		t.Errorf("joined roles: %v", id.Roles)
	}
	if id := k.JoinRoles(policy.Identity{Consumer: "bob", Roles: []string{"x"}}); len(id.Roles) != 1 {
		t.Errorf("a consumer the store does not know: %v", id.Roles)
	}
	if id := (*Keys)(nil).JoinRoles(policy.Identity{Consumer: "alice"}); id.Roles != nil {
		t.Errorf("nil store: %v", id.Roles)
	}
}
