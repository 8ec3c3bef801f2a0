package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// chunked makes a request whose body has no declared length, as a chunked
// one arrives.
func chunked(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, io.MultiReader(strings.NewReader(body)))
	r.ContentLength = -1
	return r
}

func TestLimitBody(t *testing.T) {
	w := httptest.NewRecorder()
	if e := limitBody(w, httptest.NewRequest("POST", "/", strings.NewReader("0123456789")), 9, time.Second); e == nil ||
		e.Status != http.StatusRequestEntityTooLarge || e.Header.Get("Connection") != "close" {
		t.Fatalf("a declared length over the limit: %v", e)
	}
	get := httptest.NewRequest("GET", "/", nil)
	if e := limitBody(w, get, 0, time.Second); e != nil || get.Body != http.NoBody {
		t.Fatalf("a request without a body: %v, body %T", e, get.Body)
	}
	for _, c := range []struct {
		body  string
		limit int64
		err   bool
	}{
		{"", 0, false},
		{"0123456789", 10, false},
		{"0123456789", 9, true},
		{"0123456789", 0, true},
	} {
		r := chunked("POST", "/", c.body)
		if e := limitBody(w, r, c.limit, time.Second); e != nil {
			t.Fatal(e)
		}
		got, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if c.err != errors.As(err, &tooLarge) || c.err && int64(len(got)) != c.limit || !c.err && string(got) != c.body {
			t.Errorf("%q within %d: read %q, %v", c.body, c.limit, got, err)
		}
		if c.err {
			if n, err := r.Body.Read(make([]byte, 1)); n != 0 || !errors.As(err, &tooLarge) {
				t.Errorf("a read after the limit: %d, %v", n, err)
			}
		}
	}
	// Small reads find the limit as well.
	r := chunked("POST", "/", "0123456789")
	_ = limitBody(w, r, 5, time.Second)
	if got, err := io.ReadAll(iotest.OneByteReader(r.Body)); string(got) != "01234" || err == nil {
		t.Errorf("one byte at a time: %q, %v", got, err)
	}
}

// TestChecksAddNoAllocation: the strict HTTP checks and the body limit cost
// a request without a body nothing, and one with a body only the wrapper
// (with its ResponseController) that the body idle timeout needs anyway.
func TestChecksAddNoAllocation(t *testing.T) {
	w := httptest.NewRecorder()
	get := httptest.NewRequest("GET", "http://api.example.com:8080/api/orders?x=1", nil)
	if n := testing.AllocsPerRun(100, func() {
		if checkHTTP(get, 1<<10) != nil || limitBody(w, get, 1<<20, time.Second) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("a GET: %v allocations", n)
	}
	post := httptest.NewRequest("POST", "/api/orders", strings.NewReader("{}"))
	body := post.Body
	if n := testing.AllocsPerRun(100, func() {
		post.Body = body
		_ = limitBody(w, post, 1<<20, time.Second)
	}); n != 2 {
		t.Errorf("a POST: %v allocations, want 2", n)
	}
}

func TestReadLimited(t *testing.T) {
	for _, c := range []struct {
		name   string
		r      *http.Request
		limit  int64
		status int
		want   string
	}{
		{"declared length", httptest.NewRequest("POST", "/", strings.NewReader("0123456789")), 10, 0, "0123456789"},
		{"declared length over the limit", httptest.NewRequest("POST", "/", strings.NewReader("0123456789")), 9, 413, ""},
		{"chunked", chunked("POST", "/", "0123456789"), 10, 0, "0123456789"},
		{"chunked over the limit", chunked("POST", "/", "0123456789"), 9, 413, ""},
		{"empty chunked", chunked("POST", "/", ""), 10, 0, ""},
		{"no body", httptest.NewRequest("GET", "/", nil), 0, 0, ""},
	} {
		got, e := readLimited(c.r, c.limit)
		switch {
		case c.status != 0:
			if e == nil || e.Status != c.status || e.Header.Get("Connection") != "close" {
				t.Errorf("%s: %v, want %d", c.name, e, c.status)
			}
			continue
		case e != nil:
			t.Errorf("%s: %v", c.name, e)
			continue
		}
		if string(got) != c.want || c.r.ContentLength != int64(len(c.want)) {
			t.Errorf("%s: %q, Content-Length %d", c.name, got, c.r.ContentLength)
		}
		// The upstream transport reads the same bytes again.
		again, err := io.ReadAll(c.r.Body)
		if err != nil || string(again) != c.want || len(c.want) == 0 && c.r.Body != http.NoBody {
			t.Errorf("%s: body after buffering %q, %v (%T)", c.name, again, err, c.r.Body)
		}
	}

	// A body cut short is the client's fault (400), and so is one over the
	// limit that the body wrapper found first (413).
	short := httptest.NewRequest("POST", "/", strings.NewReader("01234"))
	short.ContentLength = 10
	if _, e := readLimited(short, 100); e == nil || e.Status != http.StatusBadRequest {
		t.Errorf("short body: %v", e)
	}
	wrapped := chunked("POST", "/", "0123456789")
	_ = limitBody(httptest.NewRecorder(), wrapped, 5, time.Second)
	if _, e := readLimited(wrapped, 100); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("over the wrapper's limit: %v", e)
	}
}

// TestEdgeBodyLimit: a body over its route's limit is answered 413, and the
// upstream never receives it, whether its length was declared or not.
func TestEdgeBodyLimit(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d", len(b))
	}))
	defer up.Close()
	e, _ := newTestServer(t, policy(t, up.URL,
		"    - {name: upload, match: {pathPrefix: /upload}, methods: [POST], to: backend, validation: {maxBodyBytes: 8}}"))

	for _, c := range []struct {
		name   string
		r      *http.Request
		status int
		hits   int64
	}{
		{"declared, within", httptest.NewRequest("POST", "/upload", strings.NewReader("12345678")), 200, 1},
		{"declared, over", httptest.NewRequest("POST", "/upload", strings.NewReader("123456789")), 413, 0},
		{"chunked, within", chunked("POST", "/upload", "12345678"), 200, 1},
		{"chunked, over", chunked("POST", "/upload", "123456789"), 413, 0},
	} {
		hits.Store(0)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, c.r)
		if rec.Code != c.status || hits.Load() != c.hits {
			t.Errorf("%s: %d (upstream called %d times): %s", c.name, rec.Code, hits.Load(), rec.Body)
		}
		if c.status == 413 && (rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("Connection") != "close") {
			t.Errorf("%s: headers %v", c.name, rec.Header())
		}
	}
}
