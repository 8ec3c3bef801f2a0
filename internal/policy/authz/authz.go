// Package authz is the second step of a route's policy chain: may the
// authenticated caller do this? Refusals are 403.
package authz

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// Roles requires that the caller holds every one of a set of roles.
type Roles struct{ required []string }

// NewRoles builds a roles requirement.
func NewRoles(required []string) *Roles { return &Roles{required: required} }

// Check refuses a caller that lacks a required role.
func (z *Roles) Check(c *policy.Call) *httperr.Error {
	return requireAll(c.Identity.Roles, z.required, c.Identity.Consumer, "role")
}

// requireAll refuses (403) when held lacks any of required; what names the
// kind of thing in the logged cause.
func requireAll(held, required []string, consumer, what string) *httperr.Error {
	for _, r := range required {
		if !slices.Contains(held, r) {
			return httperr.New(http.StatusForbidden, httperr.DecisionForbidden, "not allowed",
				fmt.Errorf("consumer %q lacks %s %q", consumer, what, r))
		}
	}
	return nil
}
