package guard

import (
	"strings"
	"testing"
)

// cleanPrompt is a 2 KB prompt with no personal data but the numbers and
// words that look like it: versions, dates, prices, ids, "instructions".
func cleanPrompt() string {
	p := `I'm migrating our billing service from Go 1.21 to 1.22.4 and the nightly job that ran fine on 2024-03-02 now fails.
The job reads orders (ids like ORD-2024-001234 and 550e8400-e29b-41d4-a716-446655440000), sums the line items and writes
a report. Totals are in cents, e.g. 123456 means $1,234.56. I followed the previous instructions in the migration guide,
but the report for March shows 0.00 for every region. Here is the relevant code:

func total(items []Item) (cents int64) {
	for _, it := range items {
		cents += int64(it.Qty) * it.PriceCents
	}
	return cents
}

The query is SELECT id, qty, price_cents FROM items WHERE order_id = $1 AND created_at >= '2024-03-01T00:00:00Z';
and it returns 42 rows in 12 ms according to pg_stat_statements (calls: 1700, mean 3.14 ms, p99 27 ms).
Our dashboards show the service at 10.0.3.17:8080 restarting at 02:15 each night with exit code 137,
which I think is the OOM killer: the container limit is 512 MiB and the heap grows to about 480 MiB before it dies.
Commit 3f2a9c1 (full hash a3f5c9e2b7d1408f6e2c3b4a5d6e7f8091a2b3c4) changed the batch size from 500 to 5000.
Could the larger batch explain it? What is the best way to stream the rows instead of loading them all, and how should
I test it? Please also explain how context cancellation interacts with rows.Next() and whether I need rows.Close()
in a defer when I return early. Finally, the linter complains: "S1008: should use 'return x > 0' instead of 'if x > 0
{ return true }; return false'". Is that safe to change in generated code, or will go generate overwrite it?`
	return (p + "\n" + p)[:2048]
}

// piiPrompt is a 2 KB prompt with some personal data and a secret.
func piiPrompt() string {
	p := `Hi, this is Maria Gonzalez (maria.gonzalez@example.com, +44 20 7946 0958). My order ORD-2024-001234 from
2024-03-02 was charged twice to my card 4111 1111 1111 1111; please refund one charge to my IBAN
DE89 3704 0044 0532 0130 00 instead. You can also reach my husband at (555) 123-4567 or j.gonzalez@example.org.
Our developer pasted this config into the ticket by mistake: api_key=9f8e7d6c5b4a3f2e1d0c and
OPENAI_API_KEY=` + fakeOpenAI + ` so please make sure it is removed from your records.
The invoice total was $1,234.56 and the second charge appeared on 2024-03-04 at 10:30.
`
	var b strings.Builder
	b.WriteString(p)
	c := cleanPrompt()
	b.WriteString(c[:2048-len(p)])
	return b.String()
}

func benchCheck(b *testing.B, cfg Config, prompt string) {
	g, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	req := chat(text("system", "You are a helpful support assistant for Example Ltd."), text("user", prompt))
	b.SetBytes(int64(len(prompt)))
	b.ReportAllocs()
	for b.Loop() {
		req.Messages[1].Content.Text = prompt
		g.CheckChat(req)
	}
}

// BenchmarkCheckChat is the cost every AI call pays for a 2 KB prompt
// (after a short system prompt): redaction and the injection heuristics,
// then with three deny patterns, then each part alone.
func BenchmarkCheckChat(b *testing.B) {
	full := Config{RedactPII: true, PromptInjection: ModeBlock}
	deny := full
	deny.Deny = []string{`(?i)project\s+(zeus|nightingale)`, `\binternal-only\b`, `(?i)confidential`}
	for _, p := range []struct {
		name   string
		prompt string
	}{{"clean", cleanPrompt()}, {"pii", piiPrompt()}} {
		b.Run(p.name, func(b *testing.B) { benchCheck(b, full, p.prompt) })
		b.Run(p.name+"/deny", func(b *testing.B) { benchCheck(b, deny, p.prompt) })
		b.Run(p.name+"/redact", func(b *testing.B) { benchCheck(b, Config{RedactPII: true}, p.prompt) })
		b.Run(p.name+"/injection", func(b *testing.B) { benchCheck(b, Config{PromptInjection: ModeBlock}, p.prompt) })
	}
}

func TestBenchPrompts(t *testing.T) {
	c, p := cleanPrompt(), piiPrompt()
	if len(c) != 2048 || len(p) != 2048 {
		t.Fatalf("prompt sizes %d, %d", len(c), len(p))
	}
	if out, n := Redact(c); out != c {
		t.Errorf("clean prompt redacted: %v", n)
	}
	if _, n := Redact(p); n[KindEmail] != 2 || n[KindPhone] != 2 || n[KindCard] != 1 || n[KindIBAN] != 1 || n[KindSecret] != 2 {
		t.Errorf("pii prompt: %v", n)
	}
}

var sinkN int

// BenchmarkByteLoop is a reference for the machine: one pass over the same
// 2 KB comparing each byte, the least any scan of the prompt costs.
func BenchmarkByteLoop(b *testing.B) {
	s := cleanPrompt()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] == '@' {
				n++
			}
		}
		sinkN = n
	}
}
