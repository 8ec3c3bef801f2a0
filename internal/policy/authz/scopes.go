package authz

import (
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// Scopes requires that the caller's token carries every one of a set of
// scopes.
type Scopes struct{ required []string }

var _ policy.Authorizer = (*Scopes)(nil)

// NewScopes builds a scopes requirement.
func NewScopes(required []string) *Scopes { return &Scopes{required: required} }

// Check refuses a caller whose token lacks a required scope.
func (z *Scopes) Check(c *policy.Call) *httperr.Error {
	return requireAll(c.Identity.Scopes, z.required, c.Identity.Consumer, "scope")
}
