package config

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/monitor/detect"
	"github.com/portcullis/portcullis/internal/proxy"
)

// service checks a Service: its URLs, tls and health check.
func (c checker) service(s *ServiceSpec) {
	switch {
	case s.URL != "" && len(s.URLs) > 0:
		c.at("spec.urls", "set url or urls, not both")
	case s.URL == "" && len(s.URLs) == 0 && !c.d.bad["spec.urls"]:
		c.at("spec.url", "a Service needs url or urls")
	}
	if s.URL != "" {
		c.url("spec.url", "url", s.URL, false)
	}
	for i, u := range s.URLs {
		c.url(indexPath("spec.urls", i), "url", u, false)
	}
	if s.TLS != nil {
		c.serviceTLS(s)
	}
	if h := s.HealthCheck; h != nil && h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		c.at("spec.healthCheck.path", "healthCheck.path %q must start with \"/\"", h.Path)
	}
}

// serviceTLS checks a Service's tls: an https URL for it to apply to, settings
// that do not contradict each other, and files that load. The files are read
// here too (and again on every compile), so that `validate` reports a missing
// or broken one at its field, not only a reload.
func (c checker) serviceTLS(s *ServiceSpec) {
	t := s.TLS
	if !slices.ContainsFunc(append([]string{s.URL}, s.URLs...), isHTTPS) {
		c.at("spec.tls", "tls applies to https:// URLs only, and this Service has none")
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		c.at("spec.tls.insecureSkipVerify", "set tls.caFile or tls.insecureSkipVerify, not both (insecureSkipVerify ignores the CA)")
	}
	if sn := t.ServerName; strings.ContainsAny(sn, "/@ \t") || strings.Contains(sn, ":") && net.ParseIP(sn) == nil {
		c.at("spec.tls.serverName", "tls.serverName %q must be a host name, without scheme, port or path", sn)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		c.at("spec.tls", "tls.certFile and tls.keyFile go together")
		return
	}
	var fe *proxy.TLSFileError
	if _, _, err := proxy.LoadTLS(proxy.ClientTLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile}); errors.As(err, &fe) {
		c.at("spec.tls."+fe.Field, "%v", fe)
	}
}

// isHTTPS reports whether raw is an https URL.
func isHTTPS(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https"
}

// jwtAlgorithms are the signature algorithms an oauth2 or jwt AuthProvider may
// accept.
var jwtAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// tokenOnlyFields are the AuthProvider fields for oauth2 and jwt only.
var tokenOnlyFields = []string{"issuer", "jwksURL", "audiences", "algorithms", "clockSkew", "introspection", "claims", "caFile"}

// authProvider checks an AuthProvider: the fields its type needs and allows.
func (c checker) authProvider(s *AuthProviderSpec) {
	if !c.oneOf("spec.type", "type", s.Type, true, "oauth2", "jwt", "apiKey") {
		return
	}
	if s.Type == "apiKey" {
		for _, f := range tokenOnlyFields {
			if c.has("spec." + f) {
				c.at("spec."+f, "%s is only for oauth2 and jwt providers", f)
			}
		}
		if s.Header != "" && s.Query != "" {
			c.at("spec.query", "set header or query, not both")
		}
		if s.Header != "" && !isToken(s.Header) {
			c.at("spec.header", "header %q is not a valid header name", s.Header)
		}
		return
	}
	for _, f := range []string{"header", "query"} {
		if c.has("spec." + f) {
			c.at("spec."+f, "%s is only for apiKey providers", f)
		}
	}
	switch {
	case s.Type == "jwt" && s.Introspection != nil:
		c.at("spec.introspection", "introspection is only for oauth2 providers")
	case s.Issuer == "" && s.JWKSURL == "" && s.Introspection == nil:
		alternatives := "issuer or jwksURL"
		if s.Type == "oauth2" {
			alternatives = "issuer, jwksURL or introspection"
		}
		c.at("spec.issuer", "an AuthProvider of type %s needs %s", s.Type, alternatives)
	}
	if s.Issuer != "" {
		c.url("spec.issuer", "issuer", s.Issuer, false)
	}
	if s.JWKSURL != "" {
		c.url("spec.jwksURL", "jwksURL", s.JWKSURL, true)
	}
	if in := s.Introspection; in != nil {
		if in.URL == "" {
			c.at("spec.introspection.url", "introspection.url is required")
		} else {
			c.url("spec.introspection.url", "introspection.url", in.URL, true)
		}
		if in.ClientID == "" {
			c.at("spec.introspection.clientID", "introspection.clientID is required")
		}
		if in.ClientSecretEnv == "" {
			c.at("spec.introspection.clientSecretEnv", "introspection.clientSecretEnv is required")
		}
	}
	for i, alg := range s.Algorithms {
		switch {
		case alg == "none" || strings.HasPrefix(alg, "HS"):
			c.at(indexPath("spec.algorithms", i), "algorithm %q is never accepted", alg)
		case !slices.Contains(jwtAlgorithms, alg):
			c.at(indexPath("spec.algorithms", i), "algorithm %q is not one of %s", alg, strings.Join(jwtAlgorithms, ", "))
		}
	}
}

// consumer checks a Consumer: its keys (unique across consumers) and rate limit.
func (c checker) consumer(s *ConsumerSpec) {
	for i, k := range s.APIKeys {
		path := indexPath("spec.apiKeys", i)
		if k.ID == "" {
			c.at(path+".id", "key id is required")
		} else if first, dup := c.v.keyIDs[k.ID]; dup {
			c.at(path+".id", "duplicate key id %q (the first is at %s)", k.ID, first)
		} else {
			c.v.keyIDs[k.ID] = c.pos(path + ".id")
		}
		if !sha256Hex.MatchString(k.SHA256) {
			c.at(path+".sha256", "sha256 must be 64 lowercase hex digits (the SHA-256 of the key)")
		} else if first, dup := c.v.keyHashes[k.SHA256]; dup {
			c.at(path+".sha256", "this key's sha256 is already declared at %s", first)
		} else {
			c.v.keyHashes[k.SHA256] = c.pos(path + ".sha256")
		}
	}
	for i, cert := range s.Certificates {
		path := indexPath("spec.certificates", i)
		switch {
		case (cert.SHA256 == "") == (cert.Subject == ""):
			c.at(path, "a certificate is named by exactly one of sha256 and subject")
		case cert.SHA256 != "" && !sha256Hex.MatchString(cert.SHA256):
			c.at(path+".sha256", "sha256 must be 64 lowercase hex digits (the SHA-256 of the certificate's DER encoding)")
		default:
			id, field := "sha256:"+cert.SHA256, ".sha256"
			if cert.Subject != "" {
				id, field = "subject:"+cert.Subject, ".subject"
			}
			if first, dup := c.v.certificates[id]; dup {
				c.at(path+field, "this certificate already identifies a consumer at %s", first)
			} else {
				c.v.certificates[id] = c.pos(path + field)
			}
		}
	}
	c.rateLimit("spec.rateLimit", s.RateLimit)
}

// aiProvider checks an AIProvider: its type, base URL and prices.
func (c checker) aiProvider(s *AIProviderSpec) {
	c.oneOf("spec.type", "type", s.Type, true, "openai", "anthropic", "gemini", "mistral", "qwen", "ollama", "openaiCompatible")
	switch {
	case s.BaseURL != "":
		c.url("spec.baseURL", "baseURL", s.BaseURL, false)
	case s.Type == "openaiCompatible":
		c.at("spec.baseURL", "an openaiCompatible AIProvider needs baseURL")
	}
	for model, price := range s.Pricing {
		if price.InputPerMTok < 0 || price.OutputPerMTok < 0 {
			c.at(keyPath("spec.pricing", model), "the price of %q must not be negative", model)
		}
	}
}

// policyTest checks the cases of a PolicyTest.
func (c checker) policyTest(s *PolicyTestSpec) {
	for i, tc := range s.Cases {
		path := indexPath("spec.cases", i)
		if tc.Name == "" {
			c.at(path+".name", "a case needs a name")
		}
		switch {
		case tc.Request.Method == "":
			c.at(path+".request.method", "request.method is required")
		case !isToken(tc.Request.Method):
			c.at(path+".request.method", "%q is not an HTTP method", tc.Request.Method)
		}
		if !strings.HasPrefix(tc.Request.Path, "/") {
			c.at(path+".request.path", "request.path must start with \"/\"")
		}
		switch {
		case !c.has(path + ".expect.status"):
			c.at(path+".expect.status", "expect.status is required")
		case tc.Expect.Status < 100 || tc.Expect.Status > 599:
			c.at(path+".expect.status", "expect.status %d is not an HTTP status (100-599)", tc.Expect.Status)
		}
	}
}

// monitor checks a Monitor's alert webhook and its detectors' settings.
func (c checker) monitor(s *MonitorSpec) {
	if a := s.Alerts; a != nil {
		if a.Webhook != "" {
			c.url("spec.alerts.webhook", "alerts.webhook", a.Webhook, true)
		}
		if a.SecretEnv != "" && !validEnvName(a.SecretEnv) {
			c.at("spec.alerts.secretEnv", "alerts.secretEnv %q is not an environment variable name", a.SecretEnv)
		}
	}
	if _, err := detect.ParseSettings(s.Detectors); err != nil {
		c.at("spec.detectors", "%v", err)
	}
}

// validEnvName reports whether s is a POSIX environment variable name.
func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}
