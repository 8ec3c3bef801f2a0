package ai

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/portcullis/portcullis/internal/ai/guard"
	"github.com/portcullis/portcullis/internal/ai/llm"
)

func (rt *Route) embeddings(w http.ResponseWriter, r *http.Request, call Call) Outcome {
	var req llm.EmbeddingsRequest
	if herr := readBody(r, &req); herr != nil {
		return Outcome{Err: herr}
	}
	switch {
	case req.Model == "":
		return invalid("model is required", nil)
	case len(req.Input) == 0 || string(req.Input) == "null":
		return invalid("input is required", nil)
	}
	targets, _, refused := rt.admit(call, req.Model, func(g *guard.Guard) guard.Verdict { return g.CheckEmbeddings(&req) })
	if refused != nil {
		return *refused
	}
	prompt := estimateInput(req.Input)
	usd, herr := rt.budgetEstimate(targets, prompt, 0)
	if herr != nil {
		return Outcome{Err: herr}
	}
	res, herr := rt.reserve(call, prompt, usd, w.Header())
	if herr != nil {
		return Outcome{Err: herr}
	}
	out := rt.embed(w, r, call, &req, targets, prompt)
	rt.account(call, &out, res)
	return out
}

// embed calls the candidates in order until one answers.
func (rt *Route) embed(w http.ResponseWriter, r *http.Request, call Call, req *llm.EmbeddingsRequest, targets []Target, estimate int64) Outcome {
	resp, t, err := firstAnswer(rt, r, call, targets, func(t Target) (*llm.EmbeddingsResponse, error) {
		out := *req
		out.Model = t.Model
		return withTimeout(rt, r, t, func(ctx context.Context) (*llm.EmbeddingsResponse, error) {
			return t.Provider.API.Embeddings(ctx, &out)
		})
	})
	if err != nil {
		return rt.noAnswer(r, t, err)
	}
	resp.Model = t.Name()
	if resp.Object == "" {
		resp.Object = "list"
	}
	facts := &Facts{Provider: t.Provider.Name, Model: t.Model, Ended: EndedComplete}
	if resp.Usage != nil {
		facts.PromptTokens = int64(resp.Usage.PromptTokens)
	} else {
		facts.PromptTokens, facts.Estimated = estimate, true
		resp.Usage = &llm.Usage{PromptTokens: int(estimate), TotalTokens: int(estimate)}
	}
	o := writeJSON(w, http.StatusOK, resp)
	o.AI = facts
	return o
}

// estimateInput estimates an embeddings input's tokens: a string, a list of
// strings, a token array (its length) or a list of them.
func estimateInput(raw json.RawMessage) int64 {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return int64(llm.EstimateTokens(one))
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		var n int64
		for _, s := range many {
			n += int64(llm.EstimateTokens(s))
		}
		return n
	}
	var tokens []int
	if json.Unmarshal(raw, &tokens) == nil {
		return int64(len(tokens))
	}
	var lists [][]int
	if json.Unmarshal(raw, &lists) == nil {
		var n int64
		for _, l := range lists {
			n += int64(len(l))
		}
		return n
	}
	return int64(llm.EstimateTokens(string(raw)))
}
