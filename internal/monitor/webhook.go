package monitor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/monitor/detect"
)

// Webhook delivery: each new alert is POSTed as {"alert": {...}}, signed
// with X-Portcullis-Signature: sha256=HEX (HMAC-SHA256 of the exact body)
// when a secret is set, and retried with exponential backoff until a 2xx.
const (
	webhookAttempts   = 6
	webhookFirstRetry = time.Second
	webhookMaxRetry   = 30 * time.Second
	webhookTimeout    = 10 * time.Second
	webhookQueue      = 256 // alerts waiting for delivery; more are dropped and logged
)

// SignatureHeader carries a webhook body's HMAC-SHA256.
const SignatureHeader = "X-Portcullis-Signature"

// webhook posts alerts to one URL from one goroutine, in order.
type webhook struct {
	url, secret string
	log         *slog.Logger
	client      *http.Client
	queue       chan []byte
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}
}

func newWebhook(url, secret string, log *slog.Logger) *webhook {
	ctx, cancel := context.WithCancel(context.Background())
	h := &webhook{url: url, secret: secret, log: log, client: &http.Client{Timeout: webhookTimeout},
		queue: make(chan []byte, webhookQueue), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go h.run()
	return h
}

// alertBody is the webhook's JSON (CONTRACT §2).
type alertBody struct {
	Alert struct {
		ID       string    `json:"id"`
		Time     time.Time `json:"time"`
		Kind     string    `json:"kind"`
		Severity string    `json:"severity"`
		Subject  string    `json:"subject"`
		Detail   string    `json:"detail"`
	} `json:"alert"`
}

// send queues a for delivery; it never blocks.
func (h *webhook) send(a detect.Alert) {
	var b alertBody
	b.Alert.ID, b.Alert.Time, b.Alert.Kind, b.Alert.Severity, b.Alert.Subject, b.Alert.Detail = a.ID, a.Time.UTC(), a.Kind, a.Severity, a.Subject, a.Detail
	body, _ := json.Marshal(b)
	select {
	case h.queue <- body:
	default:
		h.log.Error("alert webhook queue full; alert not delivered", "id", a.ID, "kind", a.Kind)
	}
}

// close stops delivery; alerts still queued are not delivered.
func (h *webhook) close() {
	h.cancel()
	<-h.done
}

func (h *webhook) run() {
	defer close(h.done)
	for {
		select {
		case <-h.ctx.Done():
			return
		case body := <-h.queue:
			h.deliver(body)
		}
	}
}

// deliver posts body until it is accepted, the attempts run out or the
// webhook is closed.
func (h *webhook) deliver(body []byte) {
	wait := webhookFirstRetry
	for attempt := 1; ; attempt++ {
		status, err := h.post(body)
		if err == nil && status/100 == 2 {
			return
		}
		if attempt == webhookAttempts {
			h.log.Error("alert webhook failed; alert not delivered", "attempts", attempt, "status", status, "error", err)
			return
		}
		h.log.Warn("alert webhook failed; retrying", "attempt", attempt, "in", wait, "status", status, "error", err)
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, webhookMaxRetry)
	}
}

func (h *webhook) post(body []byte) (int, error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.secret != "" {
		req.Header.Set(SignatureHeader, Sign(h.secret, body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Sign returns the X-Portcullis-Signature value of body under secret:
// "sha256=" and 64 lower-case hex digits of its HMAC-SHA256.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
