// Package mistral is the provider for Mistral's API, OpenAI-compatible with
// differences: every stream ends with its usage unasked, and members Mistral
// refuses (stream_options, user, ...) are not sent.
package mistral

import (
	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/providers/openai"
)

// DefaultBaseURL is Mistral's API, as its SDK takes it.
const DefaultBaseURL = "https://api.mistral.ai/v1"

// Dialect is how Mistral's API differs from OpenAI's.
var Dialect = openai.Dialect{
	DefaultBaseURL: DefaultBaseURL,
	UsageAlways:    true,
	Unsupported:    []string{"user", "logprobs", "top_logprobs", "logit_bias", "store", "metadata", "service_tier", "parallel_tool_calls_strict"},
}

// New returns the provider of cfg.
func New(cfg llm.ProviderConfig) (*openai.Provider, error) { return openai.New(cfg, Dialect) }
