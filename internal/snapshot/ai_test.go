package snapshot

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/portcullis/portcullis/internal/proxy"
)

// TestAIClient: a provider is called through the gateway's own transport,
// or through net/http's when the environment's proxy applies to it; neither
// follows a redirect (the provider's key is never sent where it points).
func TestAIClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	defer func(f func(*http.Request) (*url.URL, error)) { aiProxy = f }(aiProxy)
	aiProxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	client, closeIdle, err := aiClient(srv.URL+"/v1", "p")
	if err != nil {
		t.Fatal(err)
	}
	defer closeIdle()
	if _, ok := client.Transport.(*proxy.Upstream); !ok {
		t.Fatalf("transport %T, want the gateway's own", client.Transport)
	}
	resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("the redirect was followed: %d", resp.StatusCode)
	}
	aiProxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:3128") }
	client, closeIdle, err = aiClient("https://api.example.com/v1", "p")
	if err != nil {
		t.Fatal(err)
	}
	defer closeIdle()
	if _, ok := client.Transport.(*http.Transport); !ok {
		t.Fatalf("transport %T, want net/http's through the proxy", client.Transport)
	}
	if _, _, err := aiClient("ftp://x", "p"); err == nil {
		t.Fatal("an ftp base URL was accepted")
	}
}
