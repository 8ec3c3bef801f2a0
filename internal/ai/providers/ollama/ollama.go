// Package ollama is the provider for a local Ollama server through its
// OpenAI-compatible API (…/v1), which needs no key.
package ollama

import (
	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/providers/openai"
)

// DefaultBaseURL is Ollama's default address.
const DefaultBaseURL = "http://localhost:11434/v1"

// Dialect is Ollama's OpenAI-compatible API.
var Dialect = openai.Dialect{DefaultBaseURL: DefaultBaseURL}

// New returns the provider of cfg.
func New(cfg llm.ProviderConfig) (*openai.Provider, error) { return openai.New(cfg, Dialect) }
