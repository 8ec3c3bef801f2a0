// Package demo is the built-in upstream of the quickstart: it echoes each
// request back as JSON (so the headers the gateway adds and removes can be
// seen) and streams server-sent events on paths ending in /stream.
package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// Handler returns the demo upstream's handler.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stream") {
			stream(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		headers := map[string]string{}
		for k, v := range r.Header {
			headers[k] = strings.Join(v, ", ")
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"service": "demo-upstream",
			"method":  r.Method,
			"path":    r.URL.Path,
			"query":   r.URL.RawQuery,
			"headers": headers,
			"body":    string(body),
		})
	})
}

// stream sends five events a fifth of a second apart.
func stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(w, "data: {\"event\": %d, \"time\": %q}\n\n", i, time.Now().UTC().Format(time.RFC3339Nano))
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// CurlLines suggests a command to try for each route of the policy, given the
// actual address of each listener by name.
func CurlLines(p *config.Policy, addrs map[string]string) []string {
	var lines []string
	for _, ln := range p.Gateway.Spec.Listeners {
		addr := addrs[ln.Name]
		if rest, ok := strings.CutPrefix(addr, "0.0.0.0:"); ok {
			addr = "127.0.0.1:" + rest
		} else if rest, ok := strings.CutPrefix(addr, "[::]:"); ok {
			addr = "127.0.0.1:" + rest
		}
		for _, r := range append(append([]config.Route(nil), ln.Routes...), p.Gateway.Spec.Routes...) {
			line := "curl -i"
			if len(r.Methods) > 0 && r.Methods[0] != http.MethodGet {
				line += " -X " + r.Methods[0]
			}
			path := "/"
			if m := r.Match; m != nil {
				if m.Host != "" && !strings.HasPrefix(m.Host, "*") {
					line += " -H 'Host: " + m.Host + "'"
				}
				switch {
				case m.Path != "":
					path = m.Path
				case m.PathPrefix != "":
					path = strings.TrimSuffix(m.PathPrefix, "/") + "/hello"
				}
			}
			lines = append(lines, line+" http://"+addr+path)
		}
	}
	sort.Strings(lines)
	return lines
}
