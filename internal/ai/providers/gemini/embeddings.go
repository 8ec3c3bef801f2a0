package gemini

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// Embeddings sends a batchEmbedContents request, one embed request per
// input. Gemini reports no usage for embeddings: Usage is nil and the
// gateway estimates it.
func (p *Provider) Embeddings(ctx context.Context, req *llm.EmbeddingsRequest) (*llm.EmbeddingsResponse, error) {
	inputs, err := embeddingInputs(req.Input)
	if err != nil {
		return nil, err
	}
	body := batchEmbedRequest{Requests: make([]embedRequest, len(inputs))}
	for i, in := range inputs {
		body.Requests[i] = embedRequest{
			Model:                "models/" + modelName(req.Model),
			Content:              content{Parts: []part{textPart(in)}},
			OutputDimensionality: req.Dimensions,
		}
	}
	resp, err := p.post(ctx, req.Model, "batchEmbedContents", nil, body)
	if err != nil {
		return nil, err
	}
	var g batchEmbedResponse
	if err := llm.DecodeJSON(resp, &g); err != nil {
		return nil, err
	}
	if len(g.Embeddings) != len(inputs) {
		return nil, llm.ProtocolError(errors.New("the answer's embeddings do not match the inputs"))
	}
	out := &llm.EmbeddingsResponse{Object: "list", Model: req.Model, Data: make([]llm.Embedding, len(inputs))}
	for i, e := range g.Embeddings {
		v := bytes.TrimSpace(e.Values)
		if len(v) == 0 || v[0] != '[' {
			return nil, llm.ProtocolError(errors.New("an embedding has no values"))
		}
		if req.EncodingFormat == "base64" {
			if v, err = base64Floats(v); err != nil {
				return nil, err
			}
		}
		out.Data[i] = llm.Embedding{Object: "embedding", Index: i, Embedding: json.RawMessage(v)}
	}
	return out, nil
}

// embeddingInputs reads input: a string or a list of strings. Token arrays
// have no meaning to Gemini's own tokenizer.
func embeddingInputs(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badRequest("embedding input is missing")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil, badRequest("embedding input must be a string or a list of strings (token arrays are not supported by Gemini)")
	}
	if len(list) == 0 {
		return nil, badRequest("embedding input is empty")
	}
	return list, nil
}

// base64Floats encodes a JSON list of numbers as OpenAI's base64 format:
// little-endian float32s, base64 as a JSON string.
func base64Floats(values []byte) ([]byte, error) {
	var fs []float64
	if err := json.Unmarshal(values, &fs); err != nil {
		return nil, llm.ProtocolError(err)
	}
	buf := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(f)))
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(buf))
}
