package authz

import (
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

func TestRoles(t *testing.T) {
	z := NewRoles([]string{"reader", "billing"})
	if err := z.Check(&policy.Call{Identity: policy.Identity{Consumer: "a", Roles: []string{"billing", "reader", "x"}}}); err != nil {
		t.Errorf("all roles held: %v", err)
	}
	for _, roles := range [][]string{nil, {"reader"}, {"Reader", "billing"}} {
		if err := z.Check(&policy.Call{Identity: policy.Identity{Consumer: "a", Roles: roles}}); err == nil || err.Status != 403 || err.Decision != "forbidden" {
			t.Errorf("roles %v: %v", roles, err)
		}
	}
}
