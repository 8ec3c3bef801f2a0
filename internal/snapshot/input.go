package snapshot

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy/validate"
	"github.com/portcullis/portcullis/internal/policy/waf"
)

// inputSteps are a route's last steps, the ones that may read the request
// body: validation, then the WAF. They run after Decide, on a request the
// rest of the chain admitted, because reading the body consumes it.
type inputSteps struct {
	Validate *validate.Validator // nil: no validation block
	WAF      *waf.WAF            // nil: no WAF, or mode off
	wafMode  string              // block | detect
	// onDetections logs and counts the WAF's detections of one request.
	onDetections func(requestID string, v waf.Verdict)
}

// BodyTooLarge is the 413 for a body over its route's limit. The connection
// is closed after it, since the rest of the body is never read.
func BodyTooLarge() *httperr.Error {
	e := httperr.New(http.StatusRequestEntityTooLarge, httperr.DecisionInvalid, "request body too large", nil)
	e.Header = http.Header{"Connection": {"close"}}
	return e
}

// UpstreamPath is the path the upstream sees for the normalized request path:
// without the route's prefix when it strips it.
func (rt *Route) UpstreamPath(path string) string {
	if rt.StripPrefix == "" {
		return path
	}
	path = strings.TrimPrefix(path, rt.StripPrefix)
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	return path
}

// NeedsBody reports whether CheckInput must see the request's body, read
// whole (at most MaxBodyBytes) before anything is forwarded.
func (rt *Route) NeedsBody() bool {
	return rt.WAF != nil || rt.Validate != nil && rt.Validate.NeedsBody()
}

// CheckHead runs what of the input steps needs no body: the content type
// and, with an OpenAPI document, the operation and its parameters. path is
// the normalized request path (Decision.Path).
func (rt *Route) CheckHead(r *http.Request, path string) *httperr.Error {
	if rt.Validate == nil {
		return nil
	}
	return rt.Validate.CheckRequest(r, rt.UpstreamPath(path))
}

// CheckBody runs the input steps that need the body, buffered whole (nil
// when NeedsBody is false or there is none): the validation of its content,
// then the WAF on the whole request. In block mode a WAF refusal is 403 (an
// attack) or 400 (a body it could not fully parse or count). The WAF's
// verdict is returned for the caller to report (ReportWAF) whatever the mode;
// policy tests do not report theirs.
func (rt *Route) CheckBody(r *http.Request, path, clientIP string, body []byte) (*httperr.Error, waf.Verdict) {
	if rt.Validate != nil && rt.Validate.NeedsBody() {
		if err := rt.Validate.CheckBody(r, rt.UpstreamPath(path), body); err != nil {
			return err, waf.Verdict{}
		}
	}
	if rt.WAF == nil {
		return nil, waf.Verdict{}
	}
	v := rt.WAF.Check(r, clientIP, body)
	switch {
	case !v.Block:
		return nil, v
	case v.Status == http.StatusBadRequest:
		return httperr.New(http.StatusBadRequest, httperr.DecisionWAF, "the request body could not be inspected", nil), v
	default:
		return httperr.New(http.StatusForbidden, httperr.DecisionWAF, "request refused by the web application firewall", nil), v
	}
}

// ReportWAF logs a request's WAF detections and counts it (see wafLogger); a
// verdict without detections reports nothing.
func (rt *Route) ReportWAF(requestID string, v waf.Verdict) {
	if len(v.Detections) > 0 {
		rt.onDetections(requestID, v)
	}
}

// ruleMatch is a WAF detection as its log line lists it.
type ruleMatch struct {
	ID   int    `json:"id"`
	Msg  string `json:"msg"`
	Data string `json:"data,omitempty"` // redacted by the WAF
}

// wafLogger returns the function that logs one request's WAF detections as
// one line, and counts the request in the metrics when it reached the
// anomaly threshold (CONTRACT §4: one per such request, not per rule).
func (b *chainBuilder) wafLogger(route, mode string) func(string, waf.Verdict) {
	log, m := b.deps.Log, b.deps.Metrics
	if log == nil {
		log = slog.Default()
	}
	return func(requestID string, v waf.Verdict) {
		rules := make([]ruleMatch, len(v.Detections))
		for i, d := range v.Detections {
			rules[i] = ruleMatch{ID: d.RuleID, Msg: d.Message, Data: d.Data}
		}
		if m != nil && v.Status != 0 {
			m.WAFDetection(route, mode, v.Block)
		}
		log.Warn("waf detection", "requestId", requestID, "route", route, "mode", mode,
			"blocked", v.Block, "status", v.Status, "rules", rules)
	}
}
