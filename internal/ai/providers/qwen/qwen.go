// Package qwen is the provider for Alibaba Cloud's Qwen models through
// DashScope's OpenAI-compatible mode, which follows OpenAI's API (usage on
// streams with stream_options.include_usage).
package qwen

import (
	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/providers/openai"
)

// DefaultBaseURL is DashScope's international compatible-mode endpoint.
const DefaultBaseURL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"

// Dialect is DashScope's compatible mode.
var Dialect = openai.Dialect{DefaultBaseURL: DefaultBaseURL}

// New returns the provider of cfg.
func New(cfg llm.ProviderConfig) (*openai.Provider, error) { return openai.New(cfg, Dialect) }
