package adminclient

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"time"
)

// Secret is a stored secret as the API lists it: never its value.
type Secret struct {
	Name      string    `json:"name"`
	KeyID     string    `json:"keyId"` // the master key that sealed it
	Author    string    `json:"author"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SetSecret stores value as the secret name, encrypted by the gateway with
// its master key, replacing any earlier value.
func (c *Client) SetSecret(ctx context.Context, name string, value []byte) error {
	return c.do(ctx, http.MethodPut, "/admin/v1/secrets/"+url.PathEscape(name),
		http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, bytes.NewReader(value), nil)
}

// Secrets lists the stored secrets, by name.
func (c *Client) Secrets(ctx context.Context) ([]Secret, error) {
	var out struct {
		Secrets []Secret `json:"secrets"`
	}
	err := c.do(ctx, http.MethodGet, "/admin/v1/secrets", nil, nil, &out)
	return out.Secrets, err
}

// DeleteSecret deletes a stored secret.
func (c *Client) DeleteSecret(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/admin/v1/secrets/"+url.PathEscape(name), nil, nil, nil)
}
