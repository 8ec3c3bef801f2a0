package guard

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// The prompt-injection modes of Config.PromptInjection.
const (
	ModeBlock  = "block"  // refuse a call whose prompt matches a heuristic
	ModeDetect = "detect" // report the heuristics, let the call through
	ModeOff    = "off"    // do not look ("" means the same)
)

// Config is what a route asks of its guard.
type Config struct {
	// RedactPII replaces personal data and secrets in prompts before they
	// leave the gateway.
	RedactPII bool
	// PromptInjection is block, detect or off ("" is off).
	PromptInjection string
	// Deny are Go regular expressions (RE2); a prompt with a text that
	// matches any is refused.
	Deny []string
}

// Guard inspects the requests of one route. It is safe for concurrent use.
// A nil *Guard inspects nothing, so that a route without a guard needs no
// special case.
type Guard struct {
	redact    bool
	injection bool
	block     bool
	deny      []denyPattern
}

// New returns the guard cfg describes. A deny pattern that does not
// compile, or that matches every text, is an error naming it.
func New(cfg Config) (*Guard, error) {
	g := &Guard{redact: cfg.RedactPII}
	switch cfg.PromptInjection {
	case "", ModeOff:
	case ModeDetect:
		g.injection = true
	case ModeBlock:
		g.injection, g.block = true, true
	default:
		return nil, fmt.Errorf("guard: promptInjection %q: want block, detect or off", cfg.PromptInjection)
	}
	for i, p := range cfg.Deny {
		d, err := compileDeny(p)
		if err != nil {
			return nil, fmt.Errorf("guard: deny pattern %d %q: %w", i, p, err)
		}
		if d.re.MatchString("") {
			return nil, fmt.Errorf("guard: deny pattern %d %q matches the empty text, so every prompt", i, p)
		}
		g.deny = append(g.deny, d)
	}
	return g, nil
}

// Verdict is what a guard found in a request.
type Verdict struct {
	// Redacted counts the values replaced, by kind (KindEmail, ...); nil
	// when none was.
	Redacted map[string]int
	// Injection names the prompt-injection heuristics that matched
	// (IgnorePrevious, ...), nil for none; always nil when the mode is off.
	Injection []string
	// Denied is the index in Config.Deny of the first pattern that
	// matched, -1 for none.
	Denied int
	// Block says to refuse the call: a deny pattern matched, or a
	// heuristic matched in block mode.
	Block bool
}

// CheckChat redacts req in place (when the guard redacts) and judges it.
// Every message's text and text parts and every tool call's arguments are
// redacted and matched against the deny patterns, after redaction; the
// injection heuristics read the messages the app does not write itself:
// all but system, developer and assistant ones (user and tool results).
// Images and other non-text parts are not inspected.
func (g *Guard) CheckChat(req *llm.ChatRequest) Verdict {
	v := Verdict{Denied: -1}
	if g == nil || req == nil {
		return v
	}
	sc := getScanner()
	defer putScanner(sc)
	var c counts
	var found heuristics
	for i := range req.Messages {
		m := &req.Messages[i]
		if g.redact {
			sc.redactMessage(m, &c)
		}
		if !g.injection && len(g.deny) == 0 {
			continue
		}
		text := m.Content.PlainText()
		if g.injection && untrusted(m.Role) {
			found |= sc.injection(text)
		}
		g.denied(&v, text)
		for _, tc := range m.ToolCalls {
			g.denied(&v, tc.Function.Arguments)
		}
	}
	g.finish(&v, &c, found)
	return v
}

// CheckEmbeddings is CheckChat for an embeddings request: a string input or
// a list of strings is redacted and checked against the deny patterns;
// token arrays are left alone. The injection heuristics do not run: an
// embedding model follows no instructions, and documents being indexed may
// quote attacks without being one (the chat call that later reads them is
// judged then).
func (g *Guard) CheckEmbeddings(req *llm.EmbeddingsRequest) Verdict {
	v := Verdict{Denied: -1}
	if g == nil || req == nil {
		return v
	}
	var texts []string
	isList := false
	switch in := bytes.TrimSpace(req.Input); {
	case len(in) > 0 && in[0] == '"':
		var one string
		if json.Unmarshal(in, &one) != nil {
			return v
		}
		texts = []string{one}
	case len(in) > 0 && in[0] == '[' && json.Unmarshal(in, &texts) == nil:
		isList = true
	default:
		return v // token arrays, or not an input at all
	}
	sc := getScanner()
	defer putScanner(sc)
	var c counts
	if g.redact {
		changed := false
		for i, t := range texts {
			if r := sc.redact(t, false, &c); r != t {
				texts[i], changed = r, true
			}
		}
		if changed {
			var input any = texts[0]
			if isList {
				input = texts
			}
			req.Input = marshal(input)
		}
	}
	for _, t := range texts {
		g.denied(&v, t)
	}
	g.finish(&v, &c, 0)
	return v
}

// redactMessage redacts m's text, text parts and tool-call arguments. The
// parts and tool calls are copied before they change, so that a request
// sharing them (a clone) is not changed behind its back.
func (sc *scanner) redactMessage(m *llm.Message, c *counts) {
	switch {
	case m.Content.IsParts:
		copied := false
		for j := range m.Content.Parts {
			p := &m.Content.Parts[j]
			if p.Type != "text" {
				continue
			}
			r := sc.redact(p.Text, false, c)
			if r == p.Text {
				continue
			}
			if !copied {
				m.Content.Parts = append([]llm.Part(nil), m.Content.Parts...)
				p, copied = &m.Content.Parts[j], true
			}
			p.Text = r
		}
	case !m.Content.Null:
		m.Content.Text = sc.redact(m.Content.Text, false, c)
	}
	copied := false
	for j := range m.ToolCalls {
		args := m.ToolCalls[j].Function.Arguments
		r := sc.redactArguments(args, c)
		if r == args {
			continue
		}
		if !copied {
			m.ToolCalls = append([]llm.ToolCall(nil), m.ToolCalls...)
			copied = true
		}
		m.ToolCalls[j].Function.Arguments = r
	}
}

// untrusted reports whether a message of role is text the app does not
// write itself, which the injection heuristics read. An unknown role counts
// as untrusted.
func untrusted(role string) bool {
	switch role {
	case "system", "developer", "assistant":
		return false
	}
	return true
}

// denied records in v the first deny pattern that matches text, keeping an
// earlier pattern found in an earlier text.
func (g *Guard) denied(v *Verdict, text string) {
	limit := len(g.deny)
	if v.Denied >= 0 {
		limit = v.Denied
	}
	for i := range g.deny[:limit] {
		if g.deny[i].match(text) {
			v.Denied = i
			return
		}
	}
}

func (g *Guard) finish(v *Verdict, c *counts, found heuristics) {
	v.Redacted = c.toMap()
	v.Injection = found.names()
	v.Block = v.Denied >= 0 || g.block && found != 0
}

// marshal encodes v as JSON without escaping <, > and &, which an
// embeddings input keeps as the client wrote them.
func marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings always encode
	return bytes.TrimRight(b.Bytes(), "\n")
}
