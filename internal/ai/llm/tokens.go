package llm

import "unicode/utf8"

// EstimateTokens is the gateway's own count of the tokens in s, used where
// the provider's count is not known yet (a token limit's reservation) or
// never arrives (a client that hung up mid-stream): about four bytes a
// token for Latin text, one a character beyond it, at least one for any
// non-empty text. It is an estimate, marked so wherever it is recorded.
func EstimateTokens(s string) int {
	if s == "" {
		return 0
	}
	ascii, other := 0, 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			ascii++
		} else {
			other++
		}
	}
	return max(1, (ascii+3)/4+other)
}

// perMessageTokens is what the chat format adds to each message (role and
// separators), as OpenAI documents it for its models.
const perMessageTokens = 4

// EstimatePrompt estimates the tokens of a request's prompt: its messages'
// text, tool calls and tool declarations. Images count as a flat 1,000
// tokens each, a safe ceiling for a reservation.
func EstimatePrompt(r *ChatRequest) int {
	n := 3
	for _, m := range r.Messages {
		n += perMessageTokens + EstimateTokens(m.Name)
		if m.Content.IsParts {
			for _, p := range m.Content.Parts {
				if p.Type == "text" {
					n += EstimateTokens(p.Text)
				} else {
					n += 1000
				}
			}
		} else {
			n += EstimateTokens(m.Content.Text)
		}
		for _, tc := range m.ToolCalls {
			n += EstimateTokens(tc.Function.Name) + EstimateTokens(tc.Function.Arguments)
		}
	}
	for _, t := range r.Tools {
		n += EstimateTokens(t.Function.Name) + EstimateTokens(t.Function.Description) + EstimateTokens(string(t.Function.Parameters))
	}
	return n
}
