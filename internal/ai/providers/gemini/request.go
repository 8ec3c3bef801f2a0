package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// toGemini translates a canonical chat request into a GenerateContentRequest.
// Canonical fields Gemini has no counterpart for are dropped.
func toGemini(r *llm.ChatRequest) (*genRequest, error) {
	g := &genRequest{Contents: []content{}}
	// toolNames maps the assistant's tool call IDs to their functions: a
	// functionResponse must name its function, a tool message only its ID.
	toolNames := map[string]string{}
	signed := needsSignature(r.Model)
	for i := range r.Messages {
		m := &r.Messages[i]
		switch m.Role {
		case "system", "developer":
			if g.SystemInstruction == nil {
				g.SystemInstruction = &content{}
			}
			g.SystemInstruction.Parts = append(g.SystemInstruction.Parts, textParts(m.Content)...)
		case "user":
			parts, err := userParts(m.Content)
			if err != nil {
				return nil, err
			}
			g.addContent("user", parts)
		case "assistant":
			parts := textParts(m.Content)
			for j, tc := range m.ToolCalls {
				args, err := argsObject(tc.Function.Arguments)
				if err != nil {
					return nil, err
				}
				p := part{FunctionCall: &functionCall{ID: tc.ID, Name: tc.Function.Name, Args: args}}
				if signed && j == 0 {
					// Gemini 3 rejects a replayed function call without the
					// thought signature it came with, which the canonical form
					// cannot carry; Google documents this value for calls made
					// elsewhere.
					p.ThoughtSignature = skipSignature
				}
				parts = append(parts, p)
				if tc.ID != "" {
					toolNames[tc.ID] = tc.Function.Name
				}
			}
			g.addContent("model", parts)
		case "tool":
			name, ok := toolNames[m.ToolCallID]
			if !ok {
				return nil, badRequest("a tool message's tool_call_id matches no earlier assistant tool call")
			}
			g.addContent("user", []part{{FunctionResponse: &functionResponse{
				ID: m.ToolCallID, Name: name, Response: responseObject(m.Content.PlainText()),
			}}})
		default:
			return nil, badRequest("unsupported message role " + strconv.Quote(m.Role))
		}
	}
	if g.SystemInstruction != nil && len(g.SystemInstruction.Parts) == 0 {
		g.SystemInstruction = nil
	}

	gc, err := genConfig(r)
	if err != nil {
		return nil, err
	}
	g.GenerationConfig = gc

	var decls []functionDeclaration
	for _, t := range r.Tools {
		if t.Type != "function" && t.Type != "" {
			continue
		}
		d := functionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
		if p := bytes.TrimSpace(t.Function.Parameters); len(p) > 0 && string(p) != "null" {
			d.ParametersJSONSchema = t.Function.Parameters
		}
		decls = append(decls, d)
	}
	if len(decls) > 0 {
		g.Tools = []tool{{FunctionDeclarations: decls}}
		tc, err := toolChoice(r.ToolChoice)
		if err != nil {
			return nil, err
		}
		g.ToolConfig = tc
	}
	return g, nil
}

// skipSignature is the thought signature Google documents for function
// calls whose real signature is not known.
const skipSignature = "skip_thought_signature_validator"

// needsSignature says the model validates thought signatures on replayed
// function calls: Gemini 3 and later, and the "-latest" style aliases that
// name no version (they point at current models).
func needsSignature(model string) bool {
	rest, ok := strings.CutPrefix(modelName(model), "gemini-")
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return true
	}
	major, err := strconv.Atoi(rest[:n])
	return err == nil && major >= 3
}

// addContent appends a turn, merged into the last one when it has the same
// role: consecutive tool results become one user turn, as Gemini expects.
func (g *genRequest) addContent(role string, parts []part) {
	if len(parts) == 0 {
		return
	}
	if n := len(g.Contents); n > 0 && g.Contents[n-1].Role == role {
		g.Contents[n-1].Parts = append(g.Contents[n-1].Parts, parts...)
		return
	}
	g.Contents = append(g.Contents, content{Role: role, Parts: parts})
}

// textParts are a content's text parts; an empty string adds none.
func textParts(c llm.Content) []part {
	if !c.IsParts {
		if c.Text == "" {
			return nil
		}
		return []part{textPart(c.Text)}
	}
	var parts []part
	for _, p := range c.Parts {
		if p.Type == "text" && p.Text != "" {
			parts = append(parts, textPart(p.Text))
		}
	}
	return parts
}

func textPart(s string) part { return part{Text: &s} }

// userParts are a user message's text and image parts. A string content is
// sent even when empty, for the API to judge; other part types are dropped.
func userParts(c llm.Content) ([]part, error) {
	if !c.IsParts {
		return []part{textPart(c.Text)}, nil
	}
	var parts []part
	for _, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text != "" {
				parts = append(parts, textPart(p.Text))
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, badRequest("an image_url part has no image_url")
			}
			ip, err := imagePart(p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			parts = append(parts, ip)
		}
	}
	return parts, nil
}

// imagePart is an image given by URL: inline data for a data: URL, else a
// file reference with its type guessed from the extension.
func imagePart(u string) (part, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		if !ok {
			return part{}, badRequest("an image data: URL has no data")
		}
		mimeType, isBase64 := strings.CutSuffix(meta, ";base64")
		if i := strings.IndexByte(mimeType, ';'); i >= 0 {
			mimeType = mimeType[:i]
		}
		if mimeType == "" {
			mimeType = "image/jpeg"
		}
		if !isBase64 {
			raw, err := url.PathUnescape(data)
			if err != nil {
				return part{}, badRequest("an image data: URL does not decode")
			}
			data = base64.StdEncoding.EncodeToString([]byte(raw))
		}
		return part{InlineData: &blob{MimeType: mimeType, Data: data}}, nil
	}
	return part{FileData: &fileData{FileURI: u, MimeType: guessMime(u)}}, nil
}

// imageTypes are the image types Gemini takes, by file extension.
var imageTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
	".heic": "image/heic",
	".heif": "image/heif",
}

func guessMime(u string) string {
	p := u
	if pu, err := url.Parse(u); err == nil {
		p = pu.Path
	}
	if t, ok := imageTypes[strings.ToLower(path.Ext(p))]; ok {
		return t
	}
	return "image/jpeg"
}

// argsObject is a tool call's arguments as the JSON object Gemini takes.
func argsObject(s string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &obj) != nil || obj == nil {
		return nil, badRequest("a tool call's arguments are not a JSON object")
	}
	return json.RawMessage(s), nil
}

// responseObject is a tool result as the JSON object Gemini takes: the
// result itself when it is an object, else {"result": the text}.
func responseObject(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	var obj map[string]json.RawMessage
	if strings.HasPrefix(t, "{") && json.Unmarshal([]byte(t), &obj) == nil {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(map[string]string{"result": s})
	return b
}

// genConfig is the request's generationConfig, nil when it sets nothing.
func genConfig(r *llm.ChatRequest) (*generationConfig, error) {
	gc := &generationConfig{Temperature: r.Temperature, TopP: r.TopP}
	if n := r.MaxOutputTokens(); n > 0 {
		gc.MaxOutputTokens = &n
	}
	stop, ok := r.StopSequences()
	if !ok {
		return nil, badRequest("stop is neither a string nor a list of strings")
	}
	gc.StopSequences = stop
	if raw, ok := r.Extra["n"]; ok && string(raw) != "null" {
		var n int
		if json.Unmarshal(raw, &n) != nil {
			return nil, badRequest("n is not an integer")
		}
		gc.CandidateCount = &n
	}
	if raw, ok := r.Extra["response_format"]; ok && string(raw) != "null" {
		var rf struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		}
		if json.Unmarshal(raw, &rf) != nil {
			return nil, badRequest("response_format is not an object")
		}
		switch rf.Type {
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			gc.ResponseMimeType = "application/json"
			if len(rf.JSONSchema.Schema) > 0 && string(rf.JSONSchema.Schema) != "null" {
				gc.ResponseJSONSchema = rf.JSONSchema.Schema
			}
		}
	}
	if gc.Temperature == nil && gc.TopP == nil && gc.MaxOutputTokens == nil && gc.StopSequences == nil &&
		gc.CandidateCount == nil && gc.ResponseMimeType == "" {
		return nil, nil
	}
	return gc, nil
}

// toolChoice translates tool_choice into Gemini's function calling mode;
// nil when the request leaves it to the default (AUTO).
func toolChoice(raw json.RawMessage) (*toolConfig, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		mode := map[string]string{"auto": "AUTO", "none": "NONE", "required": "ANY"}[s]
		if mode == "" {
			return nil, badRequest("tool_choice " + strconv.Quote(s) + " is not auto, none or required")
		}
		return &toolConfig{FunctionCallingConfig: functionCallingConfig{Mode: mode}}, nil
	}
	var named struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &named) != nil || named.Function.Name == "" {
		return nil, badRequest("tool_choice names no function")
	}
	return &toolConfig{FunctionCallingConfig: functionCallingConfig{
		Mode: "ANY", AllowedFunctionNames: []string{named.Function.Name},
	}}, nil
}
