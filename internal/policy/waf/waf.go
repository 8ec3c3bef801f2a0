// Package waf is the WAF step of a route's policy chain: Coraza v3 running the
// OWASP Core Rule Set v4 (embedded, from coraza-coreruleset) on the request
// headers and the already-buffered body, in block or detect mode.
//
// Building a WAF compiles the whole rule set (hundreds of milliseconds), so
// callers build one per distinct Config and share it; Check is safe for
// concurrent use. Responses are not inspected.
package waf

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
)

// Modes of a WAF ("off" is the caller's business: it builds no WAF).
const (
	ModeBlock  = "block"  // refuse what the CRS anomaly evaluation refuses
	ModeDetect = "detect" // report, never refuse
)

// DefaultMaxBodyBytes is the body limit used when Config.MaxBodyBytes is 0:
// the route default of CONTRACT.md (validation.maxBodyBytes).
const DefaultMaxBodyBytes = 1 << 20

// maxBodyLimit bounds MaxBodyBytes: Coraza buffers at most 1 GiB (its
// SecRequestBodyLimit, which is one more than the largest body accepted).
const maxBodyLimit = 1<<30 - 1

// argumentLimit is how many arguments Coraza keeps from each source (query,
// path, body). Past it ARGUMENTS_LIMIT_REACHED is set and rules 200004/200005
// refuse the request: arguments Coraza dropped would otherwise go uninspected.
const argumentLimit = 1000

// Config is one route's WAF settings (the route's `waf` field, plus its body
// limit).
type Config struct {
	Mode             string // ModeBlock or ModeDetect
	ParanoiaLevel    int    // 1..4; 0 means 1
	AnomalyThreshold int    // inbound anomaly score threshold; 0 means 5
	Exclusions       []int  // rule ids removed (SecRuleRemoveById)
	MaxBodyBytes     int64  // the route's body limit; the WAF inspects the whole body up to it; 0 means DefaultMaxBodyBytes

	// crsTest turns the WAF into the target of the CRS regression suite
	// (crsTestDirectives). Only this package's tests set it: no manifest can
	// reach it.
	crsTest bool
}

// Detection is one rule that matched and logged.
type Detection struct {
	RuleID   int
	Message  string
	Data     string // where it matched and a short, redacted prefix of the value: never a full credential
	Severity string // "critical", "error", "warning", "notice"…; "" when the rule sets none
	Phase    int    // 1 (request headers) or 2 (request body)
}

// Verdict is the WAF's decision on one request.
type Verdict struct {
	Detections []Detection
	// Block is true in block mode when the CRS anomaly evaluation (or a body
	// that could not be fully parsed or counted) interrupted the request.
	Block bool
	// Status is the status of the refusal: 403 for an attack, 400 when the
	// body could not be fully parsed or counted (413 if a body over the
	// limit reaches the WAF). It is also set in detect mode when the request
	// would have been refused (Block stays false), so that callers can count
	// would-be blocks; 0 when nothing was refused.
	Status int
}

// WAF is a compiled rule set for one Config.
type WAF struct {
	waf   coraza.WAF
	block bool // block mode
}

// New validates cfg and compiles the rule set. It is expensive: callers
// cache the result by config.
func New(cfg Config) (*WAF, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	wc := coraza.NewWAFConfig().
		WithRootFS(coreruleset.FS).
		WithDirectives(directives(cfg))
	// Observe every rule as it loads, to catch exclusions that name no rule
	// (a typo would otherwise silently exclude nothing).
	wc = experimental.WAFConfigWithRuleObserver(wc, func(r types.RuleMetadata) { seen[r.ID()] = true })
	w, err := coraza.NewWAF(wc)
	if err != nil {
		return nil, fmt.Errorf("waf: compiling the rule set: %w", err)
	}
	var unknown []string
	for _, id := range cfg.Exclusions {
		if !seen[id] {
			unknown = append(unknown, strconv.Itoa(id))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("waf: exclusions name no rule: %s", strings.Join(unknown, ", "))
	}
	return &WAF{waf: w, block: cfg.Mode == ModeBlock}, nil
}

// Key identifies the rule set cfg compiles to, for callers' caches: configs
// that differ only by defaults or by the order or repetition of exclusions
// share one key.
func (c Config) Key() string {
	_ = c.normalise() // an invalid config gets a key too; New refuses it
	ex := slices.Clone(c.Exclusions)
	slices.Sort(ex)
	return fmt.Sprintf("mode=%s pl=%d threshold=%d body=%d exclusions=%v crstest=%v",
		c.Mode, c.ParanoiaLevel, c.AnomalyThreshold, c.MaxBodyBytes, slices.Compact(ex), c.crsTest)
}

// normalise applies the defaults and refuses what cannot be built.
func (c *Config) normalise() error {
	var errs []error
	if c.Mode != ModeBlock && c.Mode != ModeDetect {
		errs = append(errs, fmt.Errorf("waf: mode %q: want %q or %q", c.Mode, ModeBlock, ModeDetect))
	}
	if c.ParanoiaLevel == 0 {
		c.ParanoiaLevel = 1
	}
	if c.ParanoiaLevel < 1 || c.ParanoiaLevel > 4 {
		errs = append(errs, fmt.Errorf("waf: paranoia level %d: want 1 to 4", c.ParanoiaLevel))
	}
	if c.AnomalyThreshold == 0 {
		c.AnomalyThreshold = 5
	}
	if c.AnomalyThreshold < 0 {
		errs = append(errs, fmt.Errorf("waf: anomaly threshold %d: want a positive score", c.AnomalyThreshold))
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > maxBodyLimit {
		errs = append(errs, fmt.Errorf("waf: body limit %d: want 1 to %d bytes", c.MaxBodyBytes, maxBodyLimit))
	}
	for _, id := range c.Exclusions {
		switch {
		case id <= 0:
			errs = append(errs, fmt.Errorf("waf: exclusion %d: not a rule id", id))
		case isIntegrityRule(id):
			errs = append(errs, fmt.Errorf("waf: exclusion %d: rules 200000-200099 make sure every body is parsed and counted; they cannot be excluded", id))
		}
	}
	return errors.Join(errs...)
}

// isIntegrityRule reports whether id is one of the rules, numbered as in
// Coraza's coraza.conf-recommended, that pick the body parser and refuse
// what it cannot parse or count. Excluding one would let a body through
// uninspected.
func isIntegrityRule(id int) bool { return id >= 200000 && id <= 200099 }

// directives is the whole configuration, in the order Coraza needs it: the
// engine settings, then the CRS setup and our CRS variables, then the rules,
// then the removals (SecRuleRemoveById only removes rules already loaded).
func directives(c Config) string {
	var b strings.Builder
	engine := "DetectionOnly"
	if c.Mode == ModeBlock {
		engine = "On"
	}
	// Coraza refuses a body that reaches SecRequestBodyLimit (>=), so the
	// limit is one more than the largest body the route accepts; the whole
	// body stays in memory (no temporary files).
	fmt.Fprintf(&b, `Include @coraza.conf-recommended
SecRuleEngine %s
SecRequestBodyLimit %d
SecRequestBodyInMemoryLimit %d
SecResponseBodyAccess Off
SecAuditEngine Off
SecArgumentsLimit %d
`, engine, c.MaxBodyBytes+1, c.MaxBodyBytes+1, argumentLimit)
	b.WriteString(integrityRules)
	if c.crsTest {
		b.WriteString(crsTestDirectives)
	}
	b.WriteString("Include @crs-setup.conf.example\n")
	fmt.Fprintf(&b, `SecAction "id:900000,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level=%d,setvar:tx.detection_paranoia_level=%d"
SecAction "id:900110,phase:1,pass,nolog,t:none,setvar:tx.inbound_anomaly_score_threshold=%d"
`, c.ParanoiaLevel, c.ParanoiaLevel, c.AnomalyThreshold)
	if !c.crsTest {
		b.WriteString(jsonContentTypes)
	}
	b.WriteString("Include @owasp_crs/*.conf\n")
	removed := slices.Clone(c.Exclusions)
	if !c.crsTest {
		// Rule 911100 refuses every method outside tx.allowed_methods (GET
		// HEAD POST OPTIONS by default), so PUT, PATCH and DELETE would be
		// refused at paranoia level 1. The route's `methods` already decide
		// which methods reach the WAF (405 otherwise), so the rule is removed
		// rather than fed a second, all-methods list that would only
		// duplicate the router's decision. The CRS regression target keeps
		// the stock rule: its tests exercise it.
		removed = append(removed, 911100)
	}
	slices.Sort(removed)
	for _, id := range slices.Compact(removed) {
		fmt.Fprintf(&b, "SecRuleRemoveById %d\n", id)
	}
	return b.String()
}

// integrityRules refuse (400) a request whose arguments the WAF could not all
// keep, or whose URI it could not parse: what it dropped would go
// uninspected. Coraza's own coraza.conf-recommended has them under these ids;
// the copy in coraza-coreruleset v4.25.0 lacks them. Rules 200002 (body parse
// error) and 200003 (multipart strict validation) come from that file.
const integrityRules = `SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" \
    "id:200004,phase:1,t:none,log,deny,status:400,msg:'Argument limit reached; request rejected (GET/PATH args)'"
SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" \
    "id:200005,phase:2,t:none,log,deny,status:400,msg:'Argument limit reached; request rejected (POST args)'"
SecRule URI_PARSE_ERROR "@eq 1" \
    "id:200009,phase:1,t:none,log,deny,status:400,msg:'URI failed to parse.'"
`

// crsContentTypes is the CRS v4.25 default of tx.allowed_request_content_type
// (REQUEST-901-INITIALIZATION.conf, rule 901162); a test checks it against
// the embedded rules, so that an upgrade that changes it is noticed.
const crsContentTypes = `|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| |application/soap+xml| |application/json|`

// jsonContentTypes adds the request's own Content-Type to the types rule
// 920420 allows when it is a structured JSON type (application/*+json:
// merge-patch, JSON:API, problem…). The stock list has only
// application/json, so PATCH with application/merge-patch+json would score
// 5 at paranoia level 1 and be refused; yet rule 200006 has Coraza parse
// these bodies as JSON, so they are inspected and counted like
// application/json ones. Any other type the WAF cannot parse stays refused.
// Rule 900220 is crs-setup's knob for this list; setting it here keeps 901162
// from setting the default, hence the copy of that default.
const jsonContentTypes = `SecAction "id:900220,phase:1,pass,nolog,t:none,setvar:'tx.allowed_request_content_type=` + crsContentTypes + `'"
SecRule REQUEST_HEADERS:Content-Type "@rx ^(application/[a-z0-9.-]+[+]json)(?:[;\s]|$)" \
    "id:900221,phase:1,pass,nolog,t:none,t:lowercase,capture,setvar:'tx.allowed_request_content_type=%{tx.allowed_request_content_type} |%{tx.1}|'"
`

// crsTestDirectives is the setup the CRS regression suite is written for,
// as Coraza's own CRS test uses it: the CRS test tuning variables, and
// response inspection (the RESPONSE-95x tests). ModSecurity logs rules of a
// phase without SecDefaultAction; Coraza only has that default for phase 2,
// hence the defaults for phases 3 to 5 (the suite expects the reporting rule
// 980170 in the log). Only for the regression runner (Config.crsTest).
const crsTestDirectives = `SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecDefaultAction "phase:3,log,auditlog,pass"
SecDefaultAction "phase:4,log,auditlog,pass"
SecDefaultAction "phase:5,log,auditlog,pass"
SecAction "id:900005,phase:1,pass,nolog,t:none,\
    setvar:tx.crs_validate_utf8_encoding=1,\
    setvar:tx.arg_name_length=100,\
    setvar:tx.arg_length=400,\
    setvar:tx.total_arg_length=64000,\
    setvar:tx.max_num_args=255,\
    setvar:tx.max_file_size=64100,\
    setvar:tx.combined_file_sizes=65535"
`

// detectionOnlyInterrupter is implemented by Coraza's transaction: in
// DetectionOnly mode it remembers the interruption that block mode would
// have made. Not in Coraza's stable interface (its TODO(4.x)); the detect
// mode tests fail if it goes away.
type detectionOnlyInterrupter interface {
	DetectionOnlyInterruption() *types.Interruption
}

// logger is implemented by Coraza's matched rules: whether the rule logs.
type logger interface{ Log() bool }

// Check runs phases 1 and 2 on r's headers and body, the request body the
// chain already buffered (nil: no body). It never reads r.Body. The logging
// phase is not run: its CRS rules only write reports (980170), and the
// gateway writes its own from the Verdict.
func (w *WAF) Check(r *http.Request, clientIP string, body []byte) Verdict {
	tx := w.waf.NewTransaction()
	defer tx.Close()
	err := w.processRequest(tx, r, clientIP, body)
	v := w.verdict(tx)
	if err != nil && v.Status == 0 {
		// The body could not be buffered whole: refuse it as unparsable
		// rather than pass it on half inspected.
		v.Block, v.Status = w.block, http.StatusBadRequest
	}
	return v
}

// processRequest feeds r to tx and runs phases 1 and 2; it stops at an
// interruption. An error means the body could not be written to Coraza's
// buffer (the limits make that impossible short of a bug) and phase 2 did
// not run.
func (w *WAF) processRequest(tx types.Transaction, r *http.Request, clientIP string, body []byte) error {
	clientPort, serverIP, serverPort := 0, "", 0
	if _, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		clientPort, _ = strconv.Atoi(p)
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		serverIP, serverPort = a.IP.String(), a.Port
	}
	tx.ProcessConnection(clientIP, clientPort, serverIP, serverPort)
	uri := r.RequestURI // as the client sent it
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	tx.ProcessURI(uri, r.Method, r.Proto)
	for name, values := range r.Header {
		for _, v := range values {
			tx.AddRequestHeader(name, v)
		}
	}
	// net/http moves Host and Transfer-Encoding out of r.Header; the CRS
	// has rules on both. An HTTP/1.1 request without a Host header never
	// gets here (net/http answers 400), so an empty r.Host is an empty
	// header (CRS 920290), not a missing one (920280).
	switch {
	case r.Host != "":
		tx.AddRequestHeader("Host", r.Host)
		tx.SetServerName(r.Host)
	case r.ProtoMajor == 1 && r.ProtoMinor >= 1:
		tx.AddRequestHeader("Host", "")
	}
	for _, te := range r.TransferEncoding {
		tx.AddRequestHeader("Transfer-Encoding", te)
	}
	if tx.ProcessRequestHeaders() != nil {
		return nil
	}
	if len(body) > 0 && tx.IsRequestBodyAccessible() {
		// An over-limit body (the chain refuses those first) interrupts
		// with 413 in block mode, and is inspected up to the limit in
		// detect mode.
		it, _, err := tx.WriteRequestBody(body)
		if err != nil {
			return err
		}
		if it != nil {
			return nil
		}
	}
	// An error here is a body the processor could not parse: it is in
	// REQBODY_ERROR, which rule 200002 refuses.
	_, _ = tx.ProcessRequestBody()
	return nil
}

// verdict reads the decision and the logged matches off a processed tx.
func (w *WAF) verdict(tx types.Transaction) Verdict {
	var v Verdict
	if it := tx.Interruption(); it != nil {
		v.Block, v.Status = true, refusalStatus(it)
	} else if d, ok := tx.(detectionOnlyInterrupter); ok {
		if it := d.DetectionOnlyInterruption(); it != nil {
			v.Status = refusalStatus(it)
		}
	}
	for _, mr := range tx.MatchedRules() {
		if l, ok := mr.(logger); ok && !l.Log() {
			continue
		}
		v.Detections = append(v.Detections, detection(mr))
	}
	return v
}

// refusalStatus is the status an interruption asks for (deny defaults to 403).
func refusalStatus(it *types.Interruption) int {
	if it.Status == 0 {
		return http.StatusForbidden
	}
	return it.Status
}

// maxMessage bounds a detection's message: a few CRS messages expand
// request data (e.g. 920450's header name).
const maxMessage = 200

func detection(mr types.MatchedRule) Detection {
	rule := mr.Rule()
	d := Detection{
		RuleID:  rule.ID(),
		Message: truncate(mr.Message(), maxMessage),
		Phase:   int(rule.Phase()),
	}
	if s := rule.Severity(); s != types.RuleSeverityUnset {
		d.Severity = s.String()
	}
	if mds := mr.MatchedDatas(); len(mds) > 0 {
		md := mds[0]
		d.Data = matchedData(md.Variable().Name(), md.Key(), md.Value())
	}
	return d
}
