package config

import (
	"fmt"
	"strings"
)

// ServiceByName returns the Service named name, or nil.
func (p *Policy) ServiceByName(name string) *Service { return byName(p.Services, name) }

// byName returns the document of list named name, or nil.
func byName[M manifest](list []M, name string) M {
	for _, m := range list {
		if md, _ := m.header(); md.Name == name {
			return m
		}
	}
	var none M
	return none
}

// Summary describes a valid policy in one line, for portcullis validate:
// "valid: 1 gateway, 2 listeners, 5 routes, 3 services, 1 auth provider, 0 consumers".
// AI providers, policy tests and a monitor are counted when there are any.
func (p *Policy) Summary() string {
	var listeners, routes int
	if g := p.Gateway; g != nil {
		listeners = len(g.Spec.Listeners)
		routes = len(g.Spec.routeSites())
	}
	gateways := 0
	if p.Gateway != nil {
		gateways = 1
	}
	parts := []string{
		count(gateways, "gateway"),
		count(listeners, "listener"),
		count(routes, "route"),
		count(len(p.Services), "service"),
		count(len(p.AuthProviders), "auth provider"),
		count(len(p.Consumers), "consumer"),
	}
	if n := len(p.AIProviders); n > 0 {
		parts = append(parts, count(n, "AI provider"))
	}
	if n := len(p.PolicyTests); n > 0 {
		parts = append(parts, count(n, "policy test"))
	}
	if p.Monitor != nil {
		parts = append(parts, count(1, "monitor"))
	}
	return "valid: " + strings.Join(parts, ", ")
}

// count is "1 route", "2 routes".
func count(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}
