package authz

import (
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

func TestScopes(t *testing.T) {
	z := NewScopes([]string{"orders:read", "orders:write"})
	for _, c := range []struct {
		scopes []string
		ok     bool
	}{
		{[]string{"orders:write", "x", "orders:read"}, true},
		{[]string{"orders:read", "orders:write"}, true},
		{nil, false},
		{[]string{"orders:read"}, false},
		{[]string{"Orders:Read", "orders:write"}, false},
		{[]string{"orders:read orders:write"}, false},
	} {
		err := z.Check(&policy.Call{Identity: policy.Identity{Consumer: "a", Scopes: c.scopes}})
		if c.ok != (err == nil) || (err != nil && (err.Status != 403 || err.Decision != "forbidden")) {
			t.Errorf("scopes %q: %v", c.scopes, err)
		}
	}
	if err := NewScopes(nil).Check(&policy.Call{}); err != nil {
		t.Errorf("no requirement: %v", err)
	}
}
