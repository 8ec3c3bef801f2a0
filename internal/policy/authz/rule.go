package authz

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy"
)

// Rule limits: a rule that costs more than ruleCostLimit (CEL's abstract
// cost units, roughly one per operation or list element visited) or runs
// longer than ruleTimeout is stopped, and the request refused.
const (
	ruleCostLimit = 10_000
	ruleTimeout   = 100 * time.Millisecond
	// ruleInterruptEvery is how many comprehension iterations pass between
	// checks of the timeout.
	ruleInterruptEvery = 100
)

// ruleEnv declares what a rule can see:
//
//	request  map: method, path, host, headers (lower-case name → first
//	         value), query (name → first value), clientIP
//	consumer string
//	roles    list(string)
//	scopes   list(string)
//	claims   map(string, dyn): a token's claims; empty for API keys
//	now      timestamp
var ruleEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("consumer", cel.StringType),
		cel.Variable("roles", cel.ListType(cel.StringType)),
		cel.Variable("scopes", cel.ListType(cel.StringType)),
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("now", cel.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	)
	if err != nil {
		panic("authz: CEL environment: " + err.Error())
	}
	return env
}()

// Rule is a CEL authorization rule: the request is allowed when the
// expression is true.
type Rule struct {
	expr string
	prg  cel.Program
}

// RuleIssue is one problem found compiling a rule, at a 1-based line and
// column of the expression.
type RuleIssue struct {
	Line, Column int
	Message      string
}

// RuleError is a rule that does not compile. Its text is CEL's own report
// (with the line, column and a caret under the offending place); Issues lists
// each problem for a validator that maps them into the manifest.
type RuleError struct {
	Issues []RuleIssue
	text   string
}

func (e *RuleError) Error() string { return e.text }

var _ policy.Authorizer = (*Rule)(nil)

// NewRule compiles and type-checks expr once; it must be of type bool.
func NewRule(expr string) (*Rule, error) {
	ast, iss := ruleEnv.Compile(expr)
	if iss.Err() != nil {
		e := &RuleError{text: iss.Err().Error()}
		for _, ce := range iss.Errors() {
			e.Issues = append(e.Issues, RuleIssue{
				Line: ce.Location.Line(), Column: ce.Location.Column() + 1, Message: ce.Message,
			})
		}
		return nil, e
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, &RuleError{
			Issues: []RuleIssue{{Line: 1, Column: 1, Message: "the rule must be a bool expression"}},
			text:   fmt.Sprintf("the rule must be a bool expression, not %s", ast.OutputType()),
		}
	}
	prg, err := ruleEnv.Program(ast,
		cel.CostLimit(ruleCostLimit),
		cel.InterruptCheckFrequency(ruleInterruptEvery),
	)
	if err != nil {
		return nil, err
	}
	return &Rule{expr: expr, prg: prg}, nil
}

// Check evaluates the rule for a request. Anything but true — false, an
// evaluation error (a missing claim, say), the cost limit or the timeout —
// refuses the request (403); the cause is in the error, for the log.
func (z *Rule) Check(c *policy.Call) *httperr.Error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), ruleTimeout)
	defer cancel()
	out, _, err := z.prg.ContextEval(ctx, &ruleVars{call: c})
	if err != nil {
		return refuseRule(c, fmt.Errorf("rule %q failed: %w", z.expr, err))
	}
	if ok, isBool := out.Value().(bool); !isBool || !ok {
		return refuseRule(c, fmt.Errorf("rule %q is not true", z.expr))
	}
	return nil
}

func refuseRule(c *policy.Call, cause error) *httperr.Error {
	return httperr.New(http.StatusForbidden, httperr.DecisionForbidden, "not allowed",
		fmt.Errorf("consumer %q: %w", c.Identity.Consumer, cause))
}

// ruleVars resolves a rule's variables on demand, so that a rule that does
// not look at the request does not pay for building its map.
type ruleVars struct {
	call    *policy.Call
	request map[string]any
}

// ResolveName implements interpreter.Activation.
func (v *ruleVars) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		if v.request == nil {
			v.request = requestVar(v.call.Request, v.call.ClientIP)
		}
		return v.request, true
	case "consumer":
		return v.call.Identity.Consumer, true
	case "roles":
		return v.call.Identity.Roles, true
	case "scopes":
		return v.call.Identity.Scopes, true
	case "claims":
		if v.call.Identity.Claims == nil {
			return map[string]any{}, true
		}
		return v.call.Identity.Claims, true
	case "now":
		return v.call.Now, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *ruleVars) Parent() interpreter.Activation { return nil }

func requestVar(r *http.Request, clientIP string) map[string]any {
	headers := make(map[string]string, len(r.Header))
	for name, values := range r.Header {
		if len(values) > 0 {
			headers[strings.ToLower(name)] = values[0]
		}
	}
	q := r.URL.Query()
	query := make(map[string]string, len(q))
	for name, values := range q {
		if len(values) > 0 {
			query[name] = values[0]
		}
	}
	return map[string]any{
		"method":   r.Method,
		"path":     r.URL.Path,
		"host":     r.Host,
		"headers":  headers,
		"query":    query,
		"clientIP": clientIP,
	}
}
