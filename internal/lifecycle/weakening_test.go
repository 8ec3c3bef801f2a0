package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// weakeningCase is a pair of edits of the base policy (see policy) and the
// weakening changes between them, written "KIND NAME FIELD: REASON".
type weakeningCase struct {
	name     string
	old, new []string
	want     []string
}

// weakeningCases has at least one case for every rule of the table (the test
// checks it).
var weakeningCases = []weakeningCase{
	// Routes: who may call.
	{"new route without authentication", nil, []string{"route2.name: r2"},
		[]string{"Route r2 authentication: new route with no authentication"}},
	{"new route with authentication none", nil, []string{"route2.authentication: {type: none}"},
		[]string{"Route r2 authentication: new route with no authentication"}},
	{"authentication removed", nil, []string{"route.authentication: ~"},
		[]string{"Route r authentication: authentication removed (was jwt)"}},
	{"authentication set to none", nil, []string{"route.authentication: {type: none}"},
		[]string{"Route r authentication: authentication set to none (was jwt)"}},
	{"authentication weaker type", nil, []string{"route.authentication: {type: apiKey}"},
		[]string{"Route r authentication: authentication weakened from jwt to apiKey"}},
	{"authorization removed", []string{"route.authorization: {roles: [admin], scopes: [orders:read], rule: 'true'}"}, nil,
		[]string{`Route r authorization: authorization removed (required roles "admin", scopes "orders:read", a rule)`}},
	{"role dropped", []string{"route.authorization: {roles: [admin, reader]}"}, []string{"route.authorization: {roles: [reader]}"},
		[]string{`Route r authorization.roles: authorization no longer requires role "admin"`}},
	{"roles dropped", []string{"route.authorization: {roles: [admin, reader]}"}, []string{"route.authorization: {scopes: [x]}"},
		[]string{`Route r authorization.roles: authorization no longer requires roles "admin", "reader"`}},
	{"scope dropped", []string{"route.authorization: {scopes: ['orders:read', 'orders:write']}"}, []string{"route.authorization: {scopes: ['orders:read']}"},
		[]string{`Route r authorization.scopes: authorization no longer requires scope "orders:write"`}},
	{"authorization rule changed", []string{`route.authorization: {rule: "claims.tenant == 'a'"}`}, []string{`route.authorization: {rule: "claims.tenant != ''"}`},
		[]string{"Route r authorization.rule: authorization rule changed; review it"}},
	{"authorization rule removed", []string{`route.authorization: {roles: [a], rule: "claims.tenant == 'a'"}`}, []string{`route.authorization: {roles: [a]}`},
		[]string{"Route r authorization.rule: authorization rule removed"}},

	// Routes: what reaches them.
	{"more methods", []string{"route.methods: [GET]"}, []string{"route.methods: [GET, POST]"},
		[]string{"Route r methods: route accepts more methods: POST"}},
	{"every method", []string{"route.methods: [GET, DELETE]"}, nil,
		[]string{"Route r methods: route now accepts every method (was GET, DELETE)"}},
	{"every host", []string{"route.match: {pathPrefix: /r, host: api.example.com}"}, nil,
		[]string{"Route r match.host: route now matches every host (was api.example.com)"}},
	{"host to wildcard", []string{"route.match: {pathPrefix: /r, host: api.example.com}"}, []string{"route.match: {pathPrefix: /r, host: '*.example.com'}"},
		[]string{"Route r match.host: route host widened from api.example.com to *.example.com"}},
	{"wildcard to a wider one", []string{"route.match: {pathPrefix: /r, host: '*.eu.example.com'}"}, []string{"route.match: {pathPrefix: /r, host: '*.example.com'}"},
		[]string{"Route r match.host: route host widened from *.eu.example.com to *.example.com"}},
	{"exact path to prefix", []string{"route.match: {path: /r/export}"}, nil,
		[]string{"Route r match: route match broadened from path /r/export to prefix /r"}},
	{"shorter prefix", []string{"route.match: {pathPrefix: /r/v1}"}, nil,
		[]string{"Route r match: route match broadened from prefix /r/v1 to prefix /r"}},
	{"match removed", nil, []string{"route.match: ~"},
		[]string{"Route r match: route match broadened from prefix /r to prefix /"}},
	{"route moved onto a plain-HTTP listener", []string{"listener2.name: secure", "route.@on: secure"}, []string{"listener2.name: secure"},
		[]string{`Route r listeners: route now served over plain HTTP on listener "web" (was HTTPS only)`}},

	// Routes: how often.
	{"rate limit fails open", []string{"route.rateLimit: {requests: 100, interval: 1m, onStoreFailure: deny}"}, []string{"route.rateLimit: {requests: 100, interval: 1m}"},
		[]string{"Route r rateLimit.onStoreFailure: rate limit now lets requests through when its counter store fails (was deny)"}},
	{"rate limit removed", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, nil,
		[]string{"Route r rateLimit: rate limit removed (was 100 per 1m0s)"}},
	{"rate limit raised", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, []string{"route.rateLimit: {requests: 1000, interval: 1m}"},
		[]string{"Route r rateLimit: rate limit raised from 100 to 1000 per 1m0s"}},
	{"rate limit interval shortened", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, []string{"route.rateLimit: {requests: 60, interval: 30s}"},
		[]string{"Route r rateLimit: rate limit raised from 100 per 1m0s to 60 per 30s"}},
	{"rate limit burst raised", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, []string{"route.rateLimit: {requests: 100, interval: 1m, burst: 10}"},
		[]string{"Route r rateLimit: rate limit burst raised from 100 to 110 at once"}},
	{"rate limit same rate over a longer interval", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, []string{"route.rateLimit: {requests: 200, interval: 2m}"},
		[]string{"Route r rateLimit: rate limit burst raised from 100 to 200 at once"}},
	{"rate limit key to route", []string{"route.rateLimit: {requests: 100, interval: 1m, by: consumer}"}, []string{"route.rateLimit: {requests: 100, interval: 1m, by: route}"},
		[]string{"Route r rateLimit.by: rate limit key widened from consumer to route: one bucket is now shared by every caller"}},
	{"rate limit default key to route", []string{"route.rateLimit: {requests: 100, interval: 1m}", "route.authentication: ~"}, []string{"route.rateLimit: {requests: 100, interval: 1m, by: route}", "route.authentication: ~"},
		[]string{"Route r rateLimit.by: rate limit key widened from ip to route: one bucket is now shared by every caller"}},
	{"rate limit key to a header", []string{"route.rateLimit: {requests: 100, interval: 1m, by: ip}"}, []string{"route.rateLimit: {requests: 100, interval: 1m, by: 'header:X-Tenant'}"},
		[]string{"Route r rateLimit.by: rate limit key changed from ip to header:X-Tenant, a value each client chooses"}},
	{"quota removed", []string{"route.quota: {requests: 100000, period: month}"}, nil,
		[]string{"Route r quota: quota removed (was 100000 per month)"}},
	{"quota raised", []string{"route.quota: {requests: 100000, period: month}"}, []string{"route.quota: {requests: 200000, period: month}"},
		[]string{"Route r quota: quota raised from 100000 to 200000 per month"}},
	{"quota to a shorter period", []string{"route.quota: {requests: 100000, period: month}"}, []string{"route.quota: {requests: 4000, period: day}"},
		[]string{"Route r quota: quota raised from 100000 per month to 4000 per day"}},
	{"quota to a longer period", []string{"route.quota: {requests: 4000, period: day}"}, []string{"route.quota: {requests: 5000, period: month}"},
		[]string{"Route r quota: quota raised from 4000 per day to 5000 per month"}},
	{"quota fails open", []string{"route.quota: {requests: 100, period: day, onStoreFailure: deny}"}, []string{"route.quota: {requests: 100, period: day, onStoreFailure: allow}"},
		[]string{"Route r quota.onStoreFailure: quota now lets requests through when its counter store fails (was deny)"}},
	{"quota key to route", []string{"route.quota: {requests: 100, period: day}"}, []string{"route.quota: {requests: 100, period: day, by: route}"},
		[]string{"Route r quota.by: quota key widened from consumer to route: one bucket is now shared by every caller"}},

	// Routes: with what input.
	{"body limit raised", []string{"route.validation: {maxBodyBytes: 1024}"}, []string{"route.validation: {maxBodyBytes: 2048}"},
		[]string{"Route r validation.maxBodyBytes: maximum body size raised from 1024 to 2048 bytes"}},
	{"body limit removed", []string{"route.validation: {maxBodyBytes: 1024}"}, nil,
		[]string{"Route r validation.maxBodyBytes: maximum body size raised from 1024 to 1048576 bytes"}},
	{"JSON depth raised", []string{"route.validation: {maxJSONDepth: 8}"}, []string{"route.validation: {maxJSONDepth: 16}"},
		[]string{"Route r validation.maxJSONDepth: maximum JSON nesting raised from 8 to 16"}},
	{"content types widened", []string{"route.validation: {contentTypes: [application/json]}"}, []string{"route.validation: {contentTypes: [application/json, text/plain]}"},
		[]string{"Route r validation.contentTypes: content types widened: text/plain now accepted"}},
	{"content types removed", []string{"route.validation: {contentTypes: [application/json]}"}, []string{"route.validation: {maxBodyBytes: 1024}"},
		[]string{"Route r validation.contentTypes: content types no longer restricted (were application/json)"}},
	{"openapi removed", []string{"route.validation: {openapi: api.yaml}"}, nil,
		[]string{"Route r validation.openapi: OpenAPI request validation removed"}},
	{"json schema removed", []string{"route.validation: {jsonSchema: body.json}"}, []string{"route.validation: {maxBodyBytes: 1048576}"},
		[]string{"Route r validation.jsonSchema: JSON Schema request validation removed"}},
	{"waf to detect", []string{"route.waf: {mode: block}"}, []string{"route.waf: {mode: detect}"},
		[]string{"Route r waf.mode: WAF mode lowered from block to detect"}},
	{"waf off", []string{"route.waf: {mode: block, paranoiaLevel: 3}"}, []string{"route.waf: {mode: 'off'}"},
		[]string{"Route r waf.mode: WAF turned off (was block)"}},
	{"waf removed", []string{"route.waf: {mode: detect}"}, nil,
		[]string{"Route r waf.mode: WAF turned off (was detect)"}},
	{"waf paranoia lowered", []string{"route.waf: {mode: block, paranoiaLevel: 2}"}, []string{"route.waf: {mode: block}"},
		[]string{"Route r waf.paranoiaLevel: WAF paranoia level lowered from 2 to 1"}},
	{"waf threshold raised", []string{"route.waf: {mode: block}"}, []string{"route.waf: {mode: block, anomalyThreshold: 10}"},
		[]string{"Route r waf.anomalyThreshold: WAF anomaly threshold raised from 5 to 10"}},
	{"waf exclusions added", []string{"route.waf: {mode: block, exclusions: [942100]}"}, []string{"route.waf: {mode: block, exclusions: [942100, 920350, 932100]}"},
		[]string{"Route r waf.exclusions: WAF exclusions added: rules 920350, 932100"}},

	// Routes: AI.
	{"ai provider added", aiRoute("{providers: [llm]}"), aiRoute("{providers: [llm, llm2]}"),
		[]string{`Route r ai.providers: AI provider "llm2" added to the route`}},
	{"ai provider added through a model alias", aiRoute("{providers: [llm]}"), aiRoute("{providers: [llm], models: {smart: [llm/gpt-4o, llm2/claude]}}"),
		[]string{`Route r ai.providers: AI provider "llm2" added to the route`}},
	{"token limit removed", aiRoute("{providers: [llm], tokenLimit: {tokens: 100000, interval: 1m}}"), aiRoute("{providers: [llm]}"),
		[]string{"Route r ai.tokenLimit: token limit removed (was 100000 tokens per 1m0s)"}},
	{"token limit raised", aiRoute("{providers: [llm], tokenLimit: {tokens: 100000, interval: 1m}}"), aiRoute("{providers: [llm], tokenLimit: {tokens: 200000, interval: 1m}}"),
		[]string{"Route r ai.tokenLimit: token limit raised from 100000 to 200000 tokens per 1m0s"}},
	{"token limit key to route", aiRoute("{providers: [llm], tokenLimit: {tokens: 1000, interval: 1m, by: key}}"), aiRoute("{providers: [llm], tokenLimit: {tokens: 1000, interval: 1m, by: route}}"),
		[]string{"Route r ai.tokenLimit.by: token limit key widened from key to route: one bucket is now shared by every caller"}},
	{"budget removed", aiRoute("{providers: [llm], budget: {usd: 50, period: month}}"), aiRoute("{providers: [llm]}"),
		[]string{"Route r ai.budget: budget removed (was $50 per month)"}},
	{"budget raised", aiRoute("{providers: [llm], budget: {usd: 50, period: month}}"), aiRoute("{providers: [llm], budget: {usd: 75.5, period: month}}"),
		[]string{"Route r ai.budget: budget raised from $50 to $75.5 per month"}},
	{"budget to a shorter period", aiRoute("{providers: [llm], budget: {usd: 50, period: month}}"), aiRoute("{providers: [llm], budget: {usd: 5, period: day}}"),
		[]string{"Route r ai.budget: budget raised from $50 per month to $5 per day"}},
	{"pii redaction off", aiRoute("{providers: [llm], guard: {redactPII: true}}"), aiRoute("{providers: [llm], guard: {redactPII: false}}"),
		[]string{"Route r ai.guard.redactPII: PII redaction turned off"}},
	{"guard removed", aiRoute("{providers: [llm], guard: {redactPII: true, promptInjection: block}}"), aiRoute("{providers: [llm]}"),
		[]string{
			"Route r ai.guard.promptInjection: prompt-injection guard turned off (was block)",
			"Route r ai.guard.redactPII: PII redaction turned off",
		}},
	{"prompt injection to detect", aiRoute("{providers: [llm], guard: {promptInjection: block}}"), aiRoute("{providers: [llm], guard: {promptInjection: detect}}"),
		[]string{"Route r ai.guard.promptInjection: prompt-injection guard lowered from block to detect"}},
	{"deny pattern removed", aiRoute("{providers: [llm], guard: {deny: [a, b]}}"), aiRoute("{providers: [llm], guard: {deny: [b]}}"),
		[]string{`Route r ai.guard.deny: deny pattern "a" removed from the guard`}},
	{"budget split per caller", aiRoute("{providers: [llm], budget: {usd: 50, period: month, by: route}}"), aiRoute("{providers: [llm], budget: {usd: 50, period: month, by: key}}"),
		[]string{"Route r ai.budget.by: budget now counted per key: each may spend what the whole route could before"}},

	// Listeners.
	{"https to http", []string{"listener2.name: secure"}, []string{"listener2.protocol: HTTP", "listener2.tls: ~"},
		[]string{"Listener secure protocol: listener now serves plain HTTP (was HTTPS)"}},
	{"tls minimum lowered", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, minVersion: '1.3'}"}, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem}"},
		[]string{"Listener secure tls.minVersion: minimum TLS version lowered from 1.3 to 1.2"}},
	{"tls minimum lowered, written out", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, minVersion: '1.3'}"}, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, minVersion: '1.2'}"},
		[]string{"Listener secure tls.minVersion: minimum TLS version lowered from 1.3 to 1.2"}},
	{"https to http, client certificates and hsts with it", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, clientCAFile: ca.pem, hsts: {maxAge: 1h}}"}, []string{"listener2.protocol: HTTP", "listener2.tls: ~"},
		[]string{"Listener secure protocol: listener now serves plain HTTP (was HTTPS)"}},
	{"client certificates dropped", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, clientCAFile: ca.pem}"}, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem}"},
		[]string{"Listener secure tls.clientCAFile: client certificates no longer required (clientCAFile removed)"}},
	{"hsts removed", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, hsts: {maxAge: 8760h}}"}, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem}"},
		[]string{"Listener secure tls.hsts: HSTS removed"}},
	{"hsts max-age lowered", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, hsts: {maxAge: 8760h}}"}, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, hsts: {maxAge: 1h}}"},
		[]string{"Listener secure tls.hsts.maxAge: HSTS max-age lowered from 8760h0m0s to 1h0m0s"}},
	{"hsts subdomains dropped", []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, hsts: {maxAge: 1h, includeSubDomains: true}}"}, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, hsts: {maxAge: 1h}}"},
		[]string{"Listener secure tls.hsts.includeSubDomains: HSTS no longer covers subdomains"}},

	// IP filters (gateway-wide and per route).
	{"gateway ip filter removed", []string{"gateway.ipFilter: {deny: [203.0.113.0/24]}"}, nil,
		[]string{"Gateway gw ipFilter: IP filter removed"}},
	{"route allow list widened", []string{"route.ipFilter: {allow: [10.1.0.0/16]}"}, []string{"route.ipFilter: {allow: [10.0.0.0/8]}"},
		[]string{"Route r ipFilter: IP allow list widened: 10.0.0.0/8"}},
	{"route allow list dropped, deny shrunk", []string{"route.ipFilter: {allow: [10.0.0.0/8], deny: [10.9.0.0/16, 10.8.0.1/32]}"}, []string{"route.ipFilter: {deny: [10.9.0.0/16]}"},
		[]string{"Route r ipFilter: IP allow list removed: every address admitted; IP deny list no longer covers: 10.8.0.1/32"}},

	// The Gateway.
	{"body idle timeout raised", nil, []string{"gateway.limits: {bodyIdleTimeout: 5m}"},
		[]string{"Gateway gw limits.bodyIdleTimeout: request bodies may stall for 5m0s instead of 30s"}},
	{"trusted proxy added", []string{"gateway.trustedProxies: [10.0.0.0/8]"}, []string{"gateway.trustedProxies: [10.0.0.0/8, 192.168.0.0/16]"},
		[]string{"Gateway gw trustedProxies: trusted proxies widened: 192.168.0.0/16"}},
	{"trusted proxy broadened", []string{"gateway.trustedProxies: [10.1.0.0/16, 10.2.0.1/32]"}, []string{"gateway.trustedProxies: [10.0.0.0/8]"},
		[]string{"Gateway gw trustedProxies: trusted proxies widened: 10.0.0.0/8"}},
	{"header bytes raised", nil, []string{"gateway.limits: {maxHeaderBytes: 65536}"},
		[]string{"Gateway gw limits.maxHeaderBytes: maximum header bytes raised from 32768 to 65536"}},
	{"header count raised", []string{"gateway.limits: {maxHeaderCount: 50}"}, nil,
		[]string{"Gateway gw limits.maxHeaderCount: maximum header count raised from 50 to 100"}},

	// Upstreams.
	{"upstream verification off", []string{"service.url: https://api.internal"}, []string{"service.url: https://api.internal", "service.tls: {insecureSkipVerify: true}"},
		[]string{"Service svc tls.insecureSkipVerify: upstream certificate verification turned off (insecureSkipVerify)"}},
	{"upstream verification off in a tls block", []string{"service.url: https://api.internal", "service.tls: {serverName: api.internal}"}, []string{"service.url: https://api.internal", "service.tls: {serverName: api.internal, insecureSkipVerify: true}"},
		[]string{"Service svc tls.insecureSkipVerify: upstream certificate verification turned off (insecureSkipVerify)"}},
	{"a new Service without verification", nil, []string{"service2.tls: {insecureSkipVerify: true}"},
		[]string{"Service svc2 tls.insecureSkipVerify: a new Service whose certificate is not verified (insecureSkipVerify)"}},
	{"upstream caFile removed", []string{"service.url: https://api.internal", "service.tls: {caFile: ca.pem}"}, []string{"service.url: https://api.internal"},
		[]string{"Service svc tls.caFile: upstream certificates verified against the system roots instead of caFile"}},
	{"upstream https to http", []string{"service.url: https://api.internal:8443"}, []string{"service.url: http://api.internal:8080"},
		[]string{"Service svc urls: upstream traffic downgraded to plain HTTP: http://api.internal:8080"}},
	{"one upstream of several to http", []string{"service.url: ~", "service.urls: ['https://a.internal', 'http://b.internal']"}, []string{"service.url: ~", "service.urls: ['http://a.internal', 'http://b.internal']"},
		[]string{"Service svc urls: upstream traffic downgraded to plain HTTP: http://a.internal"}},
	{"ai provider to http", []string{"llm.baseURL: https://llm.example.com/v1"}, []string{"llm.baseURL: http://llm.example.com/v1"},
		[]string{"AIProvider llm baseURL: provider base URL downgraded to plain HTTP: http://llm.example.com/v1"}},

	// AuthProviders.
	{"algorithms widened", nil, []string{"provider.algorithms: [RS256, ES256, EdDSA, PS512]"},
		[]string{"AuthProvider idp algorithms: accepted signature algorithms widened: PS512"}},
	{"clock skew raised", nil, []string{"provider.clockSkew: 5m"},
		[]string{"AuthProvider idp clockSkew: clock skew raised from 30s to 5m0s"}},
	{"audience check removed", []string{"provider.audiences: [my-api]"}, nil,
		[]string{"AuthProvider idp audiences: audience check removed (was my-api)"}},
	{"audience added", []string{"provider.audiences: [my-api]"}, []string{"provider.audiences: [my-api, other-api]"},
		[]string{"AuthProvider idp audiences: accepted audiences widened: other-api"}},
	{"issuer changed", nil, []string{"provider.issuer: https://evil.example.com/"},
		[]string{"AuthProvider idp issuer: issuer changed from https://idp.example.com/ to https://evil.example.com/"}},
	{"issuer removed", nil, []string{"provider.issuer: ~"},
		[]string{"AuthProvider idp issuer: issuer check removed (was https://idp.example.com/)"}},

	// Consumers.
	{"consumer rate limit removed", []string{"consumer.rateLimit: {requests: 10, interval: 1s}"}, nil,
		[]string{"Consumer alice rateLimit: rate limit removed (was 10 per 1s)"}},
	{"consumer rate limit raised", []string{"consumer.rateLimit: {requests: 10, interval: 1s}"}, []string{"consumer.rateLimit: {requests: 10, interval: 500ms}"},
		[]string{"Consumer alice rateLimit: rate limit raised from 10 per 1s to 10 per 500ms"}},

	// The Monitor.
	{"auto-block off", []string{"monitor.autoBlock: {enabled: true, ttl: 15m}"}, []string{"monitor.autoBlock: {enabled: false, ttl: 15m}"},
		[]string{"Monitor mon autoBlock.enabled: auto-block turned off"}},
	{"monitor removed with auto-block", []string{"monitor.autoBlock: {enabled: true}"}, nil,
		[]string{"Monitor mon autoBlock.enabled: auto-block turned off"}},
	{"detector threshold raised", []string{"monitor.detectors: {scan.paths: {threshold: 20, window: 1m}, auth.bruteforce: {threshold: 10}}"}, []string{"monitor.detectors: {scan.paths: {threshold: 50, window: 5m}, auth.bruteforce: {threshold: 12}}"},
		[]string{`Monitor mon detectors: detector "auth.bruteforce" threshold raised from 10 to 12; detector "scan.paths" threshold raised from 20 to 50`}},
	{"detector off, ratio raised, window shortened", []string{"monitor.detectors: {scan.paths: {threshold: 20}}"}, []string{"monitor.detectors: {scan.paths: {threshold: 20}, traffic.surge: {enabled: false}, upstream.errors: {ratio: 0.9, window: 30s}}"},
		[]string{`Monitor mon detectors: detector "traffic.surge" turned off; detector "upstream.errors" window shortened from 1m0s to 30s; detector "upstream.errors" ratio raised from 0.5 to 0.9`}},
}

// weakeningLines writes a report's weakening changes as the cases do.
func weakeningLines(r Report) []string {
	var lines []string
	for _, w := range r.Weakening {
		lines = append(lines, fmt.Sprintf("%s %s %s: %s", w.Kind, w.Name, w.Field, w.Reason))
	}
	return lines
}

func TestWeakeningRules(t *testing.T) {
	fired := make([]bool, len(rules))
	for _, tc := range weakeningCases {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := policy(t, tc.old...), policy(t, tc.new...)
			r := Diff(old, cur)
			if got := weakeningLines(r); !slices.Equal(got, tc.want) {
				t.Errorf("weakening:\n  got  %q\n  want %q\nchanges: %+v", got, tc.want, r.Changes)
			}
			for _, w := range r.Weakening {
				if w.Reason == "" {
					t.Errorf("weakening without a reason: %+v", w)
				}
				if !slices.ContainsFunc(r.Changes, func(c Change) bool { return c.Kind == w.Kind && c.Name == w.Name }) {
					t.Errorf("weakening %+v matches no change in %+v", w, r.Changes)
				}
			}
			// Which rules judged this pair weakening.
			before, after := objectsOf(old), objectsOf(cur)
			for i, rl := range rules {
				for k, o := range before {
					if n, ok := after[k]; ok && k.kind == rl.kind && rl.judge(o.value, n.value) != "" {
						fired[i] = true
					}
				}
				for k, n := range after {
					if _, ok := before[k]; !ok && k.kind == rl.kind && rl.judge(nil, n.value) != "" {
						fired[i] = true
					}
				}
				for k, o := range before {
					if _, ok := after[k]; !ok && k.kind == rl.kind && rl.judge(o.value, nil) != "" {
						fired[i] = true
					}
				}
			}
		})
	}
	for i, rl := range rules {
		if !fired[i] {
			t.Errorf("rule %d (%s %s) has no case in weakeningCases", i, rl.kind, rl.field)
		}
	}
}

// Edits that change the policy without weakening it.
var safeEdits = []struct {
	name     string
	old, new []string
}{
	{"rate limit lowered", []string{"route.rateLimit: {requests: 100, interval: 1m, burst: 5}"}, []string{"route.rateLimit: {requests: 50, interval: 1m}"}},
	{"rate limit added", nil, []string{"route.rateLimit: {requests: 100, interval: 1m}"}},
	{"rate limit same rate, shorter interval", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, []string{"route.rateLimit: {requests: 50, interval: 30s}"}},
	{"rate limit key consumer to ip", []string{"route.rateLimit: {requests: 100, interval: 1m, by: consumer}"}, []string{"route.rateLimit: {requests: 100, interval: 1m, by: ip}"}},
	{"rate limit default key written out", []string{"route.rateLimit: {requests: 100, interval: 1m}"}, []string{"route.rateLimit: {requests: 100, interval: 1m, by: consumer}"}},
	{"quota lowered to a shorter period", []string{"route.quota: {requests: 100000, period: month}"}, []string{"route.quota: {requests: 3000, period: day}"}},
	{"role added", []string{"route.authorization: {roles: [reader]}"}, []string{"route.authorization: {roles: [reader, admin]}"}},
	{"authorization added", nil, []string{"route.authorization: {scopes: ['orders:read'], rule: 'true'}"}},
	{"new route with authentication", nil, []string{"route2.authentication: {type: oauth2, provider: idp}"}},
	{"route removed", []string{"route2.name: r2"}, nil},
	{"authentication to a type as strong", mtlsReady(), append(mtlsReady(), "route.authentication: {type: mtls}")},
	{"authentication provider changed", nil, []string{"route.authentication: {type: oauth2, provider: idp}"}},
	{"authentication added", []string{"route.authentication: {type: apiKey}"}, nil},
	{"methods narrowed", []string{"route.methods: [GET, POST]"}, []string{"route.methods: [GET]"}},
	{"HEAD goes with GET", []string{"route.methods: [GET]"}, []string{"route.methods: [GET, HEAD]"}},
	{"path moved", nil, []string{"route.match: {pathPrefix: /s}"}},
	{"prefix lengthened", nil, []string{"route.match: {pathPrefix: /r/v2}"}},
	{"host narrowed", []string{"route.match: {pathPrefix: /r, host: '*.example.com'}"}, []string{"route.match: {pathPrefix: /r, host: api.example.com}"}},
	{"host to another", []string{"route.match: {pathPrefix: /r, host: a.example.com}"}, []string{"route.match: {pathPrefix: /r, host: b.example.com}"}},
	{"body limit lowered", []string{"route.validation: {maxBodyBytes: 10485760}"}, nil},
	{"content types narrowed", []string{"route.validation: {contentTypes: [application/json, text/plain]}"}, []string{"route.validation: {contentTypes: [Application/JSON]}"}},
	{"waf to block", []string{"route.waf: {mode: detect}"}, []string{"route.waf: {mode: block, paranoiaLevel: 2, anomalyThreshold: 3}"}},
	{"waf exclusion removed", []string{"route.waf: {mode: block, exclusions: [1, 2]}"}, []string{"route.waf: {mode: block, exclusions: [2]}"}},
	{"waf off, then tuned", []string{"route.waf: {mode: 'off'}"}, []string{"route.waf: {mode: 'off', paranoiaLevel: 1, exclusions: [3]}"}},
	{"ai provider removed", aiRoute("{providers: [llm, llm2]}"), aiRoute("{providers: [llm]}")},
	{"ai guard on", aiRoute("{providers: [llm]}"), aiRoute("{providers: [llm], guard: {redactPII: true, promptInjection: detect}}")},
	{"route no longer an AI route", aiRoute("{providers: [llm], guard: {redactPII: true}}"), nil},
	{"tls minimum raised", nil, []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, minVersion: '1.3', hsts: {maxAge: 1h}}"}},
	{"listener added", nil, []string{"listener2.name: secure"}},
	{"trusted proxies narrowed", []string{"gateway.trustedProxies: [10.0.0.0/8]"}, []string{"gateway.trustedProxies: [10.1.0.0/16, 10.2.3.4/32]"}},
	{"header limits lowered", nil, []string{"gateway.limits: {maxHeaderBytes: 16384, maxHeaderCount: 50}"}},
	{"access log to a file", nil, []string{"gateway.accessLog: {path: access.log}"}},
	{"review date moved", []string{"gateway.review: {owner: sec, reviewBy: 2027-03-01}"}, []string{"gateway.review: {owner: sec, reviewBy: 2027-09-01}"}},
	{"upstream http to https", nil, []string{"service.url: https://api.internal", "service.timeout: 5s"}},
	{"a new Service that verifies", nil, []string{"service2.tls: {serverName: api2.internal}"}},
	{"upstream verification back on", []string{"service.url: https://api.internal", "service.tls: {insecureSkipVerify: true}"}, []string{"service.url: https://api.internal", "service.tls: {caFile: ca.pem}"}},
	{"upstream client certificate added", []string{"service.url: https://api.internal"}, []string{"service.url: https://api.internal", "service.tls: {certFile: c.pem, keyFile: k.pem}"}},
	{"upstream another http host", []string{"service.url: http://a.internal"}, []string{"service.url: http://b.internal"}},
	{"audience removed from several", []string{"provider.audiences: [a, b]"}, []string{"provider.audiences: [a]"}},
	{"algorithms narrowed", nil, []string{"provider.algorithms: [ES256]", "provider.clockSkew: 10s"}},
	{"consumer rate limit lowered", []string{"consumer.rateLimit: {requests: 10, interval: 1s}"}, []string{"consumer.rateLimit: {requests: 5, interval: 1s}"}},
	{"consumer key added", nil, []string{"consumer.apiKeys: [{id: k1, sha256: " + strings.Repeat("ab", 32) + "}]"}},
	{"detector window changed", []string{"monitor.detectors: {scan.paths: {threshold: 20, window: 1m}}"}, []string{"monitor.detectors: {scan.paths: {threshold: 10, window: 5m}}"}},
	{"auto-block on", nil, []string{"monitor.autoBlock: {enabled: true}"}},
}

func TestSafeEditsAreNotWeakening(t *testing.T) {
	for _, tc := range safeEdits {
		t.Run(tc.name, func(t *testing.T) {
			r := Diff(policy(t, tc.old...), policy(t, tc.new...))
			if len(r.Changes) == 0 {
				t.Errorf("no changes")
			}
			if len(r.Weakening) > 0 {
				t.Errorf("weakening: %q", weakeningLines(r))
			}
		})
	}
}

// mtlsReady puts route "r" on an HTTPS listener that requires client
// certificates, where authentication type mtls may be used.
func mtlsReady() []string {
	return []string{"listener2.tls: {certFile: c.pem, keyFile: k.pem, clientCAFile: ca.pem}", "route.@on: secure"}
}
