// Package providers builds an AIProvider's llm.Provider from its type: the
// one table from CONTRACT §2's provider types to the packages that speak
// them.
package providers

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/providers/anthropic"
	"github.com/portcullis/portcullis/internal/ai/providers/gemini"
	"github.com/portcullis/portcullis/internal/ai/providers/mistral"
	"github.com/portcullis/portcullis/internal/ai/providers/ollama"
	"github.com/portcullis/portcullis/internal/ai/providers/openai"
	"github.com/portcullis/portcullis/internal/ai/providers/qwen"
)

// BaseURL is the base URL a provider of type typ calls: configured, or the
// vendor's public API ("" for openaiCompatible, which has none).
func BaseURL(typ, configured string) string {
	if configured != "" {
		return configured
	}
	return map[string]string{
		"openai": openai.DefaultBaseURL, "anthropic": anthropic.DefaultBaseURL, "gemini": gemini.DefaultBaseURL,
		"mistral": mistral.DefaultBaseURL, "qwen": qwen.DefaultBaseURL, "ollama": ollama.DefaultBaseURL,
	}[typ]
}

// New returns the provider of type typ (openai, anthropic, gemini, mistral,
// qwen, ollama, openaiCompatible).
func New(typ string, cfg llm.ProviderConfig) (llm.Provider, error) {
	switch typ {
	case "openai":
		return openai.New(cfg, openai.OpenAI)
	case "openaiCompatible":
		return openai.New(cfg, openai.Compatible)
	case "anthropic":
		return anthropic.New(cfg)
	case "gemini":
		return gemini.New(cfg)
	case "mistral":
		return mistral.New(cfg)
	case "qwen":
		return qwen.New(cfg)
	case "ollama":
		return ollama.New(cfg)
	default:
		return nil, fmt.Errorf("unknown AI provider type %q", typ)
	}
}
