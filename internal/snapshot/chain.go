package snapshot

import (
	"encoding/hex"
	"fmt"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/policy/authn"
	"github.com/portcullis/portcullis/internal/policy/authz"
)

// chainBuilder builds each route's policy chain. This is the one table from
// route fields to components, in the chain's fixed order: authentication,
// authorization (rate limits, validation and the WAF join it as they land).
type chainBuilder struct {
	policy   *config.Policy
	keys     *authn.Keys
	declared authn.KeySet
}

func (b chainBuilder) build(r *Route, rc config.Route) error {
	if a := rc.Authentication; a != nil {
		switch a.Type {
		case "", "none":
		case "apiKey":
			cfg := authn.APIKeyConfig{Declared: b.declared, Store: b.keys}
			for _, p := range b.policy.AuthProviders {
				if p.Metadata.Name == a.Provider {
					cfg.Header, cfg.Query = p.Spec.Header, p.Spec.Query
				}
			}
			r.Authn = authn.NewAPIKey(cfg)
		default:
			// config refuses the types not built yet; reaching here is a bug,
			// and failing closed is the answer.
			return fmt.Errorf("authentication type %q is not implemented", a.Type)
		}
		if r.Authn != nil {
			r.StripHeader, r.StripQuery = r.Authn.Credential()
		}
	}
	if z := rc.Authorization; z != nil && len(z.Roles) > 0 {
		r.Authz = authz.NewRoles(z.Roles)
	}
	return nil
}

// declaredKeys indexes the API keys declared in Consumer manifests by hash.
func declaredKeys(p *config.Policy) (authn.KeySet, error) {
	set := authn.KeySet{}
	for _, c := range p.Consumers {
		for _, k := range c.Spec.APIKeys {
			raw, err := hex.DecodeString(k.SHA256)
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("consumer %s: key %s: sha256 is not 64 hex digits", c.Metadata.Name, k.ID)
			}
			set[[32]byte(raw)] = authn.Key{ID: k.ID, Consumer: c.Metadata.Name, Roles: c.Spec.Roles}
		}
	}
	return set, nil
}
