package config

// refuseUnimplemented refuses, at the field, every use of a component this
// version does not implement yet: a policy that asks for one must never be
// accepted and then silently not enforced. This is the one list of them; when a
// component lands, delete its lines here.
func (c checker) refuseUnimplemented() {
	switch m := c.d.m.(type) {
	case *Service:
		c.refuse(m.Spec.HealthCheck != nil, "spec.healthCheck", "Service healthCheck")
	}
}

// refuse reports what, used at path, as not implemented yet.
func (c checker) refuse(used bool, path, what string) {
	if used {
		c.at(path, "%s is not implemented yet in this version; remove it or upgrade", what)
	}
}
