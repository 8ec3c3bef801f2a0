package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody bounds what is read of a provider's error answer: it only
// feeds the log's summary.
const maxErrorBody = 4096

// MaxResponseBytes bounds a provider's non-streaming answer.
const MaxResponseBytes = 64 << 20

// Endpoint is a provider API's base URL, the client that reaches it, and the
// headers that carry its key. Keys travel only in headers (CONTRACT §2).
type Endpoint struct {
	BaseURL *url.URL
	Client  *http.Client
	// Header is set on every request: the key's header and any version
	// header the API requires.
	Header http.Header
}

// URL is the endpoint's base URL with path appended ("/chat/completions").
func (e *Endpoint) URL(path string) string {
	u := *e.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// PostJSON sends body as JSON to path and returns the answer when it is a
// 2xx; any other status is a StatusError (its body summarized for the log,
// never kept), no answer a TransportError. The caller closes the body.
func (e *Endpoint) PostJSON(ctx context.Context, path string, body any, header http.Header) (*http.Response, error) {
	b, err := Marshal(body)
	if err != nil {
		return nil, &Error{Msg: "the request could not be encoded", Err: err}
	}
	return e.Do(ctx, http.MethodPost, e.URL(path), b, header)
}

// Do sends one request to the provider; see PostJSON.
func (e *Endpoint) Do(ctx context.Context, method, url string, body []byte, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Msg: "the request could not be made", Err: err}
	}
	for k, v := range e.Header {
		req.Header[k] = v
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := e.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, &Error{Msg: "cancelled", Err: ctx.Err()}
		}
		return nil, TransportError(redactURLError(err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, StatusError(resp.StatusCode, ErrorSummary(msg))
	}
	return resp, nil
}

// DecodeJSON reads a 2xx answer's body (at most MaxResponseBytes) into v.
func DecodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return TransportError(err)
	}
	if len(b) > MaxResponseBytes {
		return ProtocolError(errors.New("answer too large"))
	}
	if err := Unmarshal(b, v); err != nil {
		return ProtocolError(err)
	}
	return nil
}

// ErrorSummary is what the log keeps of a provider's error body: the
// "message" (or "error.message") member when the body is JSON, cut to 200
// bytes, else its size. The body itself is never relayed to the client.
func ErrorSummary(body []byte) string {
	var v struct {
		Message string `json:"message"`
		Error   json.RawMessage
	}
	if json.Unmarshal(body, &v) == nil {
		msg := v.Message
		var inner struct {
			Message string `json:"message"`
		}
		if msg == "" && json.Unmarshal(v.Error, &inner) == nil {
			msg = inner.Message
		}
		if msg == "" && len(v.Error) > 0 && v.Error[0] == '"' {
			_ = json.Unmarshal(v.Error, &msg)
		}
		if msg != "" {
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
			return msg
		}
	}
	return "an error body of " + itoa(len(body)) + " bytes"
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// redactURLError drops the URL from a transport error: a base URL may carry
// credentials or a query the log must not keep.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
