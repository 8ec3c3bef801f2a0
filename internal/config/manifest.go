package config

// kinds lists the manifest kinds in the order messages name them.
var kinds = []string{KindGateway, KindService, KindAuthProvider, KindConsumer, KindAIProvider, KindPolicyTest, KindMonitor}

// manifest is what every document kind has in common.
type manifest interface {
	kind() string
	header() (*Metadata, *Source)
}

func (g *Gateway) kind() string                      { return KindGateway }
func (g *Gateway) header() (*Metadata, *Source)      { return &g.Metadata, &g.Source }
func (s *Service) kind() string                      { return KindService }
func (s *Service) header() (*Metadata, *Source)      { return &s.Metadata, &s.Source }
func (a *AuthProvider) kind() string                 { return KindAuthProvider }
func (a *AuthProvider) header() (*Metadata, *Source) { return &a.Metadata, &a.Source }
func (c *Consumer) kind() string                     { return KindConsumer }
func (c *Consumer) header() (*Metadata, *Source)     { return &c.Metadata, &c.Source }
func (a *AIProvider) kind() string                   { return KindAIProvider }
func (a *AIProvider) header() (*Metadata, *Source)   { return &a.Metadata, &a.Source }
func (t *PolicyTest) kind() string                   { return KindPolicyTest }
func (t *PolicyTest) header() (*Metadata, *Source)   { return &t.Metadata, &t.Source }
func (m *Monitor) kind() string                      { return KindMonitor }
func (m *Monitor) header() (*Metadata, *Source)      { return &m.Metadata, &m.Source }

// newManifest returns an empty document of a kind, or nil for an unknown kind.
func newManifest(kind string) manifest {
	switch kind {
	case KindGateway:
		return &Gateway{}
	case KindService:
		return &Service{}
	case KindAuthProvider:
		return &AuthProvider{}
	case KindConsumer:
		return &Consumer{}
	case KindAIProvider:
		return &AIProvider{}
	case KindPolicyTest:
		return &PolicyTest{}
	case KindMonitor:
		return &Monitor{}
	}
	return nil
}

// add puts a decoded document into the policy. A second Gateway or Monitor is
// not kept (validation refuses the policy for it).
func (p *Policy) add(m manifest) {
	switch m := m.(type) {
	case *Gateway:
		if p.Gateway == nil {
			p.Gateway = m
		}
	case *Service:
		p.Services = append(p.Services, m)
	case *AuthProvider:
		p.AuthProviders = append(p.AuthProviders, m)
	case *Consumer:
		p.Consumers = append(p.Consumers, m)
	case *AIProvider:
		p.AIProviders = append(p.AIProviders, m)
	case *PolicyTest:
		p.PolicyTests = append(p.PolicyTests, m)
	case *Monitor:
		if p.Monitor == nil {
			p.Monitor = m
		}
	}
}

// manifests lists every document of the policy.
func (p *Policy) manifests() []manifest {
	var ms []manifest
	if p.Gateway != nil {
		ms = append(ms, p.Gateway)
	}
	for _, s := range p.Services {
		ms = append(ms, s)
	}
	for _, a := range p.AuthProviders {
		ms = append(ms, a)
	}
	for _, c := range p.Consumers {
		ms = append(ms, c)
	}
	for _, a := range p.AIProviders {
		ms = append(ms, a)
	}
	for _, t := range p.PolicyTests {
		ms = append(ms, t)
	}
	if p.Monitor != nil {
		ms = append(ms, p.Monitor)
	}
	return ms
}

// Position returns where a field of the document KIND/NAME is written, or its
// nearest written parent (see Positions), e.g.
// p.Position("Gateway", "api-gateway", "spec.listeners[0].routes[1].to").
// It is the zero Position when the policy has no such document.
func (p *Policy) Position(kind, name, path string) Position {
	for _, m := range p.manifests() {
		if md, src := m.header(); m.kind() == kind && md.Name == name {
			return src.Positions.Of(path)
		}
	}
	return Position{}
}
