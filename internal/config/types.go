// Package config holds the manifest kinds of CONTRACT §2, decodes them strictly
// from YAML with the file, line and column of every field, and validates a whole
// manifest set at once so that every problem is reported, not only the first.
package config

import "time"

// APIVersion is the only apiVersion the gateway accepts.
const APIVersion = "gateway/v1"

// Kinds of manifest documents.
const (
	KindGateway      = "Gateway"
	KindService      = "Service"
	KindAuthProvider = "AuthProvider"
	KindConsumer     = "Consumer"
	KindAIProvider   = "AIProvider"
	KindPolicyTest   = "PolicyTest"
	KindMonitor      = "Monitor"
)

// Metadata names a document.
type Metadata struct {
	Name string `yaml:"name"`
}

// Gateway is the listeners and routes of a policy. A policy has exactly one.
type Gateway struct {
	Metadata Metadata    `yaml:"metadata"`
	Spec     GatewaySpec `yaml:"spec"`
	Source   Source      `yaml:"-"`
}

// GatewaySpec is a Gateway's body.
type GatewaySpec struct {
	GatewayClass   string     `yaml:"gatewayClass"`
	Review         *Review    `yaml:"review"`
	TrustedProxies []string   `yaml:"trustedProxies"`
	IPFilter       *IPFilter  `yaml:"ipFilter"` // every listener, before routing (extension to CONTRACT §2)
	AccessLog      *AccessLog `yaml:"accessLog"`
	Limits         *Limits    `yaml:"limits"`
	Listeners      []Listener `yaml:"listeners"`
	Routes         []Route    `yaml:"routes"`
}

// Review says who owns the policy and when it must next be reviewed.
type Review struct {
	Owner    string `yaml:"owner"`
	ReviewBy Date   `yaml:"reviewBy"`
}

// AccessLog configures the JSON-lines access log.
type AccessLog struct {
	Enabled *bool  `yaml:"enabled"` // default true
	Path    string `yaml:"path"`    // default "stdout"; "stderr" or a file path
}

// Limits bounds what a client may send in request headers.
type Limits struct {
	MaxHeaderBytes int `yaml:"maxHeaderBytes"` // default 32768
	MaxHeaderCount int `yaml:"maxHeaderCount"` // default 100
	// BodyIdleTimeout is how long a request body may send nothing before the
	// gateway gives up on the client (slow-body protection); default 30s.
	// An extension to CONTRACT §2.
	BodyIdleTimeout Duration `yaml:"bodyIdleTimeout"`
}

// Listener is one port the gateway serves.
type Listener struct {
	Name     string       `yaml:"name"`
	Port     int          `yaml:"port"`
	Address  string       `yaml:"address"`  // default 0.0.0.0
	Protocol string       `yaml:"protocol"` // HTTP | HTTPS; default HTTP
	TLS      *ListenerTLS `yaml:"tls"`
	Routes   []Route      `yaml:"routes"`
}

// ListenerTLS is an HTTPS listener's certificate and client-certificate policy.
type ListenerTLS struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// Certificates are more certificate/key pairs, served by SNI
	// (extension to CONTRACT §2): a client naming one of their hosts gets
	// that one, any other the certFile/keyFile pair.
	Certificates []CertPair `yaml:"certificates"`
	ClientCAFile string     `yaml:"clientCAFile"`
	MinVersion   string     `yaml:"minVersion"`
	HSTS         *HSTS      `yaml:"hsts"`
}

// CertPair is a certificate chain and its key, PEM files.
type CertPair struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

// HSTS adds Strict-Transport-Security to every response of a listener.
type HSTS struct {
	MaxAge            Duration `yaml:"maxAge"`
	IncludeSubDomains bool     `yaml:"includeSubDomains"`
}

// Route sends matching requests through its policy chain to a Service or to AI providers.
type Route struct {
	Name           string          `yaml:"name"`
	Match          *Match          `yaml:"match"`
	Methods        []string        `yaml:"methods"`
	To             string          `yaml:"to"`
	StripPrefix    bool            `yaml:"stripPrefix"`
	WebSocket      bool            `yaml:"websocket"` // allow Upgrade: websocket (extension to CONTRACT §2)
	IPFilter       *IPFilter       `yaml:"ipFilter"`  // before authentication (extension to CONTRACT §2)
	Authentication *Authentication `yaml:"authentication"`
	Authorization  *Authorization  `yaml:"authorization"`
	RateLimit      *RateLimit      `yaml:"rateLimit"`
	Quota          *Quota          `yaml:"quota"`
	Validation     *Validation     `yaml:"validation"`
	WAF            *WAF            `yaml:"waf"`
	Timeout        Duration        `yaml:"timeout"`
	AI             *AIRoute        `yaml:"ai"`
}

// Match selects requests by host and path.
type Match struct {
	PathPrefix string `yaml:"pathPrefix"`
	Path       string `yaml:"path"` // exact path (extension to CONTRACT §2)
	Host       string `yaml:"host"`
}

// IPFilter admits or refuses clients by address. Deny wins; when Allow is
// set, only addresses in it are admitted. Entries are CIDRs or addresses.
type IPFilter struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// Authentication names how a route's callers prove who they are.
type Authentication struct {
	Type     string `yaml:"type"` // oauth2 | jwt | apiKey | mtls | none
	Provider string `yaml:"provider"`
}

// Authorization is what an authenticated caller must hold.
type Authorization struct {
	Roles  []string `yaml:"roles"`
	Scopes []string `yaml:"scopes"`
	Rule   string   `yaml:"rule"`
}

// RateLimit is a GCRA limit.
type RateLimit struct {
	Requests int      `yaml:"requests"`
	Interval Duration `yaml:"interval"`
	By       string   `yaml:"by"`
	Burst    int      `yaml:"burst"`
	// OnStoreFailure is what happens while the counter store (Redis) cannot
	// answer: allow (the default) or deny (503).
	OnStoreFailure string `yaml:"onStoreFailure"`
}

// Quota counts requests per calendar period.
type Quota struct {
	Requests int64  `yaml:"requests"`
	Period   string `yaml:"period"` // hour | day | month
	By       string `yaml:"by"`
	// OnStoreFailure is as RateLimit's: allow (the default) or deny (503).
	OnStoreFailure string `yaml:"onStoreFailure"`
}

// Validation is a route's request contract.
type Validation struct {
	MaxBodyBytes *int64   `yaml:"maxBodyBytes"`
	ContentTypes []string `yaml:"contentTypes"`
	OpenAPI      string   `yaml:"openapi"`
	JSONSchema   string   `yaml:"jsonSchema"`
	// MaxJSONDepth bounds the nesting of a JSON body (an extension; default
	// DefaultMaxJSONDepth).
	MaxJSONDepth int `yaml:"maxJSONDepth"`
}

// WAF configures the Coraza + CRS web application firewall on a route.
type WAF struct {
	Mode             string `yaml:"mode"` // block | detect | off
	ParanoiaLevel    int    `yaml:"paranoiaLevel"`
	AnomalyThreshold int    `yaml:"anomalyThreshold"`
	Exclusions       []int  `yaml:"exclusions"`
}

// AIRoute makes a route an OpenAI-compatible front for AI providers.
type AIRoute struct {
	Providers  []string            `yaml:"providers"`
	Models     map[string][]string `yaml:"models"`
	TokenLimit *TokenLimit         `yaml:"tokenLimit"`
	Budget     *Budget             `yaml:"budget"`
	Guard      *Guard              `yaml:"guard"`
}

// TokenLimit limits prompt + completion tokens like a rate limit.
type TokenLimit struct {
	Tokens   int      `yaml:"tokens"`
	Interval Duration `yaml:"interval"`
	By       string   `yaml:"by"`
}

// Budget limits spend in US dollars per calendar period.
type Budget struct {
	USD    float64 `yaml:"usd"`
	Period string  `yaml:"period"`
	// By is who shares a budget: consumer | key | route | ip (an
	// extension; default consumer on authenticated routes, else route).
	By string `yaml:"by"`
}

// Guard inspects prompts before they leave.
type Guard struct {
	RedactPII       bool   `yaml:"redactPII"`
	PromptInjection string `yaml:"promptInjection"` // block | detect | off
	// Deny are regular expressions (Go syntax); a prompt matching any is
	// refused with 400 (an extension).
	Deny []string `yaml:"deny"`
}

// Service is an upstream HTTP service.
type Service struct {
	Metadata Metadata    `yaml:"metadata"`
	Spec     ServiceSpec `yaml:"spec"`
	Source   Source      `yaml:"-"`
}

// ServiceSpec is a Service's body.
type ServiceSpec struct {
	URL         string       `yaml:"url"`
	URLs        []string     `yaml:"urls"`
	Timeout     Duration     `yaml:"timeout"`
	TLS         *UpstreamTLS `yaml:"tls"`
	HealthCheck *HealthCheck `yaml:"healthCheck"`
}

// UpstreamTLS is how the gateway speaks TLS to a Service.
type UpstreamTLS struct {
	CAFile             string `yaml:"caFile"`
	CertFile           string `yaml:"certFile"`
	KeyFile            string `yaml:"keyFile"`
	ServerName         string `yaml:"serverName"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
}

// HealthCheck probes a Service's URLs.
type HealthCheck struct {
	Path     string   `yaml:"path"`
	Interval Duration `yaml:"interval"`
}

// AuthProvider is an identity provider or an API-key scheme.
type AuthProvider struct {
	Metadata Metadata         `yaml:"metadata"`
	Spec     AuthProviderSpec `yaml:"spec"`
	Source   Source           `yaml:"-"`
}

// AuthProviderSpec is an AuthProvider's body.
type AuthProviderSpec struct {
	Type          string         `yaml:"type"` // oauth2 | jwt | apiKey
	Issuer        string         `yaml:"issuer"`
	JWKSURL       string         `yaml:"jwksURL"`
	Audiences     []string       `yaml:"audiences"`
	Algorithms    []string       `yaml:"algorithms"`
	ClockSkew     Duration       `yaml:"clockSkew"`
	Introspection *Introspection `yaml:"introspection"`
	Claims        *ClaimPaths    `yaml:"claims"`
	CAFile        string         `yaml:"caFile"`
	Header        string         `yaml:"header"`
	Query         string         `yaml:"query"`
}

// Introspection is an RFC 7662 token introspection endpoint.
type Introspection struct {
	URL             string `yaml:"url"`
	ClientID        string `yaml:"clientID"`
	ClientSecretEnv string `yaml:"clientSecretEnv"`
}

// ClaimPaths says where in a token's claims roles, scopes and the consumer are.
type ClaimPaths struct {
	Roles    string `yaml:"roles"`
	Scopes   string `yaml:"scopes"`
	Consumer string `yaml:"consumer"`
}

// Consumer is a caller of the APIs.
type Consumer struct {
	Metadata Metadata     `yaml:"metadata"`
	Spec     ConsumerSpec `yaml:"spec"`
	Source   Source       `yaml:"-"`
}

// ConsumerSpec is a Consumer's body.
type ConsumerSpec struct {
	Roles     []string   `yaml:"roles"`
	RateLimit *RateLimit `yaml:"rateLimit"`
	APIKeys   []APIKey   `yaml:"apiKeys"`
	// Certificates are the client certificates that identify the consumer
	// on routes with authentication type mtls (extension to CONTRACT §2).
	Certificates []ClientCertificate `yaml:"certificates"`
}

// ClientCertificate identifies a client certificate: by the SHA-256 of its
// DER encoding, or by its subject as RFC 4514 text ("CN=alice,O=Example"),
// which matches every certificate the listener's CA issued to that subject.
type ClientCertificate struct {
	SHA256  string `yaml:"sha256"`
	Subject string `yaml:"subject"`
}

// APIKey is a key declared by its hash only.
type APIKey struct {
	ID     string `yaml:"id"`
	SHA256 string `yaml:"sha256"`
}

// AIProvider is an LLM provider.
type AIProvider struct {
	Metadata Metadata       `yaml:"metadata"`
	Spec     AIProviderSpec `yaml:"spec"`
	Source   Source         `yaml:"-"`
}

// AIProviderSpec is an AIProvider's body.
type AIProviderSpec struct {
	Type      string             `yaml:"type"`
	BaseURL   string             `yaml:"baseURL"`
	APIKeyEnv string             `yaml:"apiKeyEnv"`
	Models    []string           `yaml:"models"`
	Pricing   map[string]Pricing `yaml:"pricing"`
	Timeout   Duration           `yaml:"timeout"`
}

// Pricing is a model's price per million tokens.
type Pricing struct {
	InputPerMTok  float64 `yaml:"inputPerMTok"`
	OutputPerMTok float64 `yaml:"outputPerMTok"`
}

// PolicyTest is a set of request cases that must hold for a policy to be applied.
type PolicyTest struct {
	Metadata Metadata       `yaml:"metadata"`
	Spec     PolicyTestSpec `yaml:"spec"`
	Source   Source         `yaml:"-"`
}

// PolicyTestSpec is a PolicyTest's body.
type PolicyTestSpec struct {
	Cases []TestCase `yaml:"cases"`
}

// TestCase is one request and what the gateway must answer.
type TestCase struct {
	Name    string       `yaml:"name"`
	Request TestRequest  `yaml:"request"`
	Expect  TestExpected `yaml:"expect"`
}

// TestRequest is the request a TestCase sends.
type TestRequest struct {
	Method   string            `yaml:"method"`
	Path     string            `yaml:"path"`
	Host     string            `yaml:"host"`
	Listener string            `yaml:"listener"`
	ClientIP string            `yaml:"clientIP"`
	Headers  map[string]string `yaml:"headers"`
	Body     string            `yaml:"body"`
}

// TestExpected is what a TestCase must observe.
type TestExpected struct {
	Status   int    `yaml:"status"`
	Consumer string `yaml:"consumer"`
}

// Monitor tunes anomaly detection and alert delivery.
type Monitor struct {
	Metadata Metadata    `yaml:"metadata"`
	Spec     MonitorSpec `yaml:"spec"`
	Source   Source      `yaml:"-"`
}

// MonitorSpec is a Monitor's body. Detectors are kept as raw settings until the
// monitoring issue gives them types.
type MonitorSpec struct {
	Alerts    *Alerts                   `yaml:"alerts"`
	Detectors map[string]map[string]any `yaml:"detectors"`
	AutoBlock *AutoBlock                `yaml:"autoBlock"`
}

// Alerts is where alerts are delivered.
type Alerts struct {
	Webhook   string `yaml:"webhook"`
	SecretEnv string `yaml:"secretEnv"`
}

// AutoBlock blocks an alert's subject for a while.
type AutoBlock struct {
	Enabled bool     `yaml:"enabled"`
	TTL     Duration `yaml:"ttl"`
}

// Source is where a document came from: its file, the line it starts on, and
// where each of its fields is written.
type Source struct {
	File      string
	Line      int
	Positions Positions
}

// Policy is a whole manifest set: everything the gateway enforces at once.
type Policy struct {
	Gateway       *Gateway
	Services      []*Service
	AuthProviders []*AuthProvider
	Consumers     []*Consumer
	AIProviders   []*AIProvider
	PolicyTests   []*PolicyTest
	Monitor       *Monitor
}

// Duration is a Go/Kubernetes-style duration ("500ms", "1m", "24h").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Date is a calendar date written as YYYY-MM-DD (UTC).
type Date struct{ time.Time }
