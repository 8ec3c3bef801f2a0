package llm

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestExtraRoundTrip(t *testing.T) {
	in := `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}},{"type":"image_url","image_url":{"url":"https://x/y.png"}}],"x":1},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"42"}],"seed":3,"response_format":{"type":"json_object"}}`
	var r ChatRequest
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if string(r.Extra["seed"]) != "3" || r.Messages[0].Extra["x"] == nil || r.Messages[0].Content.Parts[0].Extra["cache_control"] == nil {
		t.Fatalf("extras lost: %+v", r)
	}
	if !r.Messages[1].Content.Null || r.Messages[2].ToolCallID != "call_1" {
		t.Fatalf("named members wrong: %+v", r.Messages)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal(out, &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("round trip changed the request:\n in %s\nout %s", ja, jb)
	}
}

func TestContentForms(t *testing.T) {
	for in, want := range map[string]string{`"hi"`: "hi", `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`: "a\nb", `null`: ""} {
		var c Content
		if err := json.Unmarshal([]byte(in), &c); err != nil {
			t.Fatal(err)
		}
		if c.PlainText() != want {
			t.Errorf("%s: %q", in, c.PlainText())
		}
		out, _ := json.Marshal(c)
		if string(out) != strings.ReplaceAll(in, " ", "") {
			t.Errorf("%s re-encoded as %s", in, out)
		}
	}
	var c Content
	if err := json.Unmarshal([]byte(`42`), &c); err == nil {
		t.Error("a number was accepted as content")
	}
}

func TestEventReader(t *testing.T) {
	in := ": keep-alive\n\nevent: message_start\ndata: {\"a\":1}\n\ndata: line1\r\ndata: line2\r\n\r\nevent: ping\n\ndata: last"
	r := NewEventReader(strings.NewReader(in))
	var got []Event
	for {
		ev, err := r.Next()
		if err != nil {
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("err %v", err)
			}
			break
		}
		got = append(got, ev)
	}
	if len(got) != 2 || got[0].Type != "message_start" || string(got[0].Data) != `{"a":1}` || string(got[1].Data) != "line1\nline2" || got[1].Type != "" {
		t.Fatalf("events %+v", got)
	}
}

func TestEstimate(t *testing.T) {
	if EstimateTokens("") != 0 || EstimateTokens("a") != 1 || EstimateTokens("abcdefgh") != 2 || EstimateTokens("日本語") != 3 {
		t.Fatal("estimates changed")
	}
	r := &ChatRequest{Messages: []Message{{Role: "user", Content: TextContent("abcdefgh")}}}
	if n := EstimatePrompt(r); n != 3+4+2 {
		t.Fatalf("prompt estimate %d", n)
	}
}

func TestErrorSummary(t *testing.T) {
	for in, want := range map[string]string{
		`{"error":{"message":"bad key"}}`:                              "bad key",
		`{"type":"error","error":{"type":"x","message":"overloaded"}}`: "overloaded",
		`{"message":"m"}`:   "m",
		`{"error":"plain"}`: "plain",
		`<html>`:            "an error body of 6 bytes",
	} {
		if got := ErrorSummary([]byte(in)); got != want {
			t.Errorf("%s: %q", in, got)
		}
	}
}

func FuzzEventReader(f *testing.F) {
	f.Add([]byte("event: a\ndata: b\n\n"))
	f.Add([]byte("data: [DONE]\n\n"))
	f.Add([]byte(": x\r\ndata:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewEventReader(bytes.NewReader(b))
		for i := 0; i < len(b)+1; i++ {
			if _, err := r.Next(); err != nil {
				return
			}
		}
		t.Fatal("more events than bytes")
	})
}

func FuzzChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":1}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ChatRequest
		if json.Unmarshal(b, &r) != nil {
			return
		}
		// The fast check for unknown members agrees with a full pass.
		var all map[string]json.RawMessage
		if json.Unmarshal(b, &all) == nil {
			known := namesOf(reflect.TypeOf(ChatRequest{}))
			want := 0
			for k := range all {
				if !known[strings.ToLower(k)] {
					want++
				}
			}
			if len(r.Extra) != want {
				t.Fatalf("%d extra members, want %d: %s", len(r.Extra), want, b)
			}
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a decoded request does not encode: %v", err)
		}
		var again ChatRequest
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v\n%s", err, out)
		}
	})
}
