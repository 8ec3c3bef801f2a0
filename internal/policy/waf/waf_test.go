package waf

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

// wafs caches compiled rule sets across tests: each New costs hundreds of
// milliseconds (seconds under the race detector).
var wafs sync.Map // Config.Key → *WAF

func compiled(t testing.TB, cfg Config) *WAF {
	t.Helper()
	key := cfg.Key()
	if w, ok := wafs.Load(key); ok {
		return w.(*WAF)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	wafs.Store(key, w)
	return w
}

var (
	blockPL1  = Config{Mode: ModeBlock}
	detectPL1 = Config{Mode: ModeDetect}
)

// request builds a request as net/http's server hands it over: the
// Content-Length header kept, a browser-like or API-client set of headers.
func request(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Body = failingBody{} // Check must use the body it is given
	r.Host = "api.example.com"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	if body != "" || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		r.ContentLength = int64(len(body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// failingBody fails any read: the WAF must not read r.Body.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { panic("waf: Check read r.Body") }
func (failingBody) Close() error             { return nil }

var _ io.ReadCloser = failingBody{}

func check(t testing.TB, w *WAF, r *http.Request, body string) Verdict {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return w.Check(r, "203.0.113.7", b)
}

func ruleIDs(v Verdict) []int {
	var ids []int
	for _, d := range v.Detections {
		ids = append(ids, d.RuleID)
	}
	return ids
}

func find(v Verdict, id int) (Detection, bool) {
	for _, d := range v.Detections {
		if d.RuleID == id {
			return d, true
		}
	}
	return Detection{}, false
}

const sqli = "/api/v1/items?id=1%27%20or%201%3D1--"

func TestSQLInjectionBlocked(t *testing.T) {
	v := check(t, compiled(t, blockPL1), request("GET", sqli, "", ""), "")
	if !v.Block || v.Status != http.StatusForbidden {
		t.Fatalf("block mode: Block %v Status %d, want true 403 (detections %v)", v.Block, v.Status, ruleIDs(v))
	}
	d, ok := find(v, 942100)
	if !ok {
		t.Fatalf("detections %v, want 942100 (libinjection SQLi)", ruleIDs(v))
	}
	if d.Severity != "critical" || d.Phase != 2 || !strings.HasPrefix(d.Data, "ARGS:id: 1' or 1=1") || d.Message == "" {
		t.Errorf("942100 detection %+v", d)
	}
	if _, ok := find(v, 949110); !ok {
		t.Errorf("detections %v, want the anomaly evaluation 949110", ruleIDs(v))
	}
}

func TestSQLInjectionDetectOnly(t *testing.T) {
	v := check(t, compiled(t, detectPL1), request("GET", sqli, "", ""), "")
	if v.Block {
		t.Fatal("detect mode blocked")
	}
	// Status says what block mode would have done (a would-be block).
	if v.Status != http.StatusForbidden {
		t.Errorf("Status %d, want the would-be 403", v.Status)
	}
	if _, ok := find(v, 942100); !ok {
		t.Errorf("detections %v, want 942100", ruleIDs(v))
	}
}

func TestExclusionLetsItThrough(t *testing.T) {
	v := check(t, compiled(t, Config{Mode: ModeBlock, Exclusions: []int{942100}}), request("GET", sqli, "", ""), "")
	if v.Block || v.Status != 0 {
		t.Fatalf("with 942100 excluded: Block %v Status %d (detections %v), want through", v.Block, v.Status, ruleIDs(v))
	}
	if _, ok := find(v, 942100); ok {
		t.Error("an excluded rule still reports")
	}
}

func TestAnomalyThreshold(t *testing.T) {
	// 942100 scores 5 (critical): a threshold above it lets the request through.
	v := check(t, compiled(t, Config{Mode: ModeBlock, AnomalyThreshold: 10}), request("GET", sqli, "", ""), "")
	if v.Block {
		t.Fatalf("threshold 10 blocked a score-5 request (detections %v)", ruleIDs(v))
	}
	if _, ok := find(v, 942100); !ok {
		t.Errorf("detections %v, want 942100 still reported", ruleIDs(v))
	}
}

func TestParanoiaLevel(t *testing.T) {
	// 920320 (request missing a User-Agent header) is a paranoia level 2 rule.
	r := func() *http.Request {
		r := request("GET", "/api/v1/items/42", "", "")
		r.Header.Del("User-Agent")
		return r
	}
	if v := check(t, compiled(t, detectPL1), r(), ""); slices.Contains(ruleIDs(v), 920320) {
		t.Errorf("paranoia level 1 reports 920320: %v", ruleIDs(v))
	}
	if v := check(t, compiled(t, Config{Mode: ModeDetect, ParanoiaLevel: 2}), r(), ""); !slices.Contains(ruleIDs(v), 920320) {
		t.Errorf("paranoia level 2: detections %v, want 920320", ruleIDs(v))
	}
}

func TestMethodsAreTheRoutesBusiness(t *testing.T) {
	w := compiled(t, blockPL1)
	for _, c := range []struct{ method, body string }{
		{"PUT", `{"name":"Ada"}`}, {"PATCH", `{"name":"Ada"}`}, {"DELETE", ""}, {"OPTIONS", ""}, {"HEAD", ""},
	} {
		ct := ""
		if c.body != "" {
			ct = "application/json"
		}
		v := check(t, w, request(c.method, "/api/v1/users/42", ct, c.body), c.body)
		if v.Block || len(v.Detections) > 0 {
			t.Errorf("%s: Block %v, detections %v; the WAF adds no method list", c.method, v.Block, ruleIDs(v))
		}
	}
}

func jsonValues(n int) string {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d", i)
	}
	b.WriteString("]}")
	return b.String()
}

func TestTooManyArgumentsRefused(t *testing.T) {
	body := jsonValues(2000)
	v := check(t, compiled(t, blockPL1), request("POST", "/api/v1/batch", "application/json", body), body)
	if !v.Block || v.Status != http.StatusBadRequest {
		t.Fatalf("2,000 JSON values: Block %v Status %d (detections %v), want refused 400", v.Block, v.Status, ruleIDs(v))
	}
	if _, ok := find(v, 200005); !ok {
		t.Errorf("detections %v, want 200005", ruleIDs(v))
	}
	// Detect mode reports it and never blocks.
	v = check(t, compiled(t, detectPL1), request("POST", "/api/v1/batch", "application/json", body), body)
	if _, ok := find(v, 200005); v.Block || !ok || v.Status != http.StatusBadRequest {
		t.Errorf("detect mode: Block %v Status %d detections %v, want 200005 reported, would-be 400", v.Block, v.Status, ruleIDs(v))
	}
	// Up to the limit, the body is inspected whole.
	body = jsonValues(argumentLimit)
	if v := check(t, compiled(t, blockPL1), request("POST", "/api/v1/batch", "application/json", body), body); v.Block {
		t.Errorf("%d values refused: %v", argumentLimit, ruleIDs(v))
	}
}

func TestTooManyQueryArgumentsRefused(t *testing.T) {
	var q strings.Builder
	for i := range argumentLimit + 1 {
		fmt.Fprintf(&q, "a%d=%d&", i, i)
	}
	v := check(t, compiled(t, blockPL1), request("GET", "/api/v1/items?"+q.String(), "", ""), "")
	if _, ok := find(v, 200004); !v.Block || v.Status != http.StatusBadRequest || !ok {
		t.Errorf("%d query arguments: Block %v Status %d detections %v, want 200004, 400", argumentLimit+1, v.Block, v.Status, ruleIDs(v))
	}
}

func TestUnparsableBodyRefused(t *testing.T) {
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"name": "Ada", "tags": [`},
		{"application/json", `{"name": "Ada"} trailing`},
		{"application/vnd.api+json", `{"data": }`},
	} {
		v := check(t, compiled(t, blockPL1), request("POST", "/api/v1/orders", c.ct, c.body), c.body)
		if _, ok := find(v, 200002); !v.Block || v.Status != http.StatusBadRequest || !ok {
			t.Errorf("%s %q: Block %v Status %d detections %v, want 200002, 400", c.ct, c.body, v.Block, v.Status, ruleIDs(v))
		}
	}
}

func TestBodyLimit(t *testing.T) {
	w := compiled(t, Config{Mode: ModeBlock, MaxBodyBytes: 64})
	body := `{"note":"` + strings.Repeat("a", 64-11) + `"}`
	if v := check(t, w, request("POST", "/api/v1/notes", "application/json", body), body); v.Block || len(body) != 64 {
		t.Errorf("a body of exactly the limit (%d bytes): Block %v Status %d %v", len(body), v.Block, v.Status, ruleIDs(v))
	}
	// The chain refuses larger bodies first; one that gets here anyway is
	// not passed on.
	body = `{"note":"` + strings.Repeat("a", 64) + `"}`
	if v := check(t, w, request("POST", "/api/v1/notes", "application/json", body), body); !v.Block || v.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the limit: Block %v Status %d %v", v.Block, v.Status, ruleIDs(v))
	}
}

func TestUnparsableURIRefused(t *testing.T) {
	r := request("GET", "/api/v1/items", "", "")
	r.RequestURI = "/api/v1/%zz" // what a client sent, past a lenient front
	v := check(t, compiled(t, blockPL1), r, "")
	if _, ok := find(v, 200009); !v.Block || v.Status != http.StatusBadRequest || !ok {
		t.Errorf("Block %v Status %d detections %v, want 200009, 400", v.Block, v.Status, ruleIDs(v))
	}
}

func TestCredentialsRedacted(t *testing.T) {
	r := request("GET", "/api/v1/items", "", "")
	r.Header.Set("Cookie", "session=1' or 1=1-- ")
	v := check(t, compiled(t, detectPL1), r, "")
	if len(v.Detections) == 0 {
		t.Fatal("no detection on a SQL injection in a cookie")
	}
	for _, d := range v.Detections {
		if strings.Contains(d.Data, "1=1") {
			t.Errorf("%d: cookie value in Data %q", d.RuleID, d.Data)
		}
	}
}

func TestMatchedData(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, c := range []struct{ variable, key, value, want string }{
		{"ARGS", "id", "1' or 1=1--", "ARGS:id: 1' or 1=1--"},
		{"ARGS", "q", long, "ARGS:q: " + long[:maxDataValue] + "…"},
		{"ARGS", "q", strings.Repeat("é", 20), "ARGS:q: " + strings.Repeat("é", 16) + "…"},
		{"REQUEST_HEADERS", "authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.x.y", "REQUEST_HEADERS:authorization: [redacted]"},
		{"REQUEST_HEADERS", "X-API-Key", "pk_live_123", "REQUEST_HEADERS:X-API-Key: [redacted]"},
		{"REQUEST_COOKIES", "sid", "abc", "REQUEST_COOKIES:sid: [redacted]"},
		{"ARGS_POST", "json.user.password", "hunter2' --", "ARGS_POST:json.user.password: [redacted]"},
		{"ARGS", "access_token", "abc", "ARGS:access_token: [redacted]"},
		{"REQUEST_URI", "", "/x?api_key=sk_9&q=1' or", "REQUEST_URI: /x?api_key=[redacted]&q=1' or"},
		{"REQUEST_LINE", "", "GET /x?token=abc HTTP/1.1", "REQUEST_LINE: GET /x?token=[redacted] HTTP/1.1"},
		{"ARGS", strings.Repeat("k", 100), "v", "ARGS:" + strings.Repeat("k", maxDataKey) + "…: v"},
	} {
		if got := matchedData(c.variable, c.key, c.value); got != c.want {
			t.Errorf("matchedData(%q, %q, %q) = %q, want %q", c.variable, c.key, c.value, got, c.want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Mode: "off"},
		{Mode: ""},
		{Mode: ModeBlock, ParanoiaLevel: 5},
		{Mode: ModeBlock, ParanoiaLevel: -1},
		{Mode: ModeBlock, AnomalyThreshold: -3},
		{Mode: ModeBlock, MaxBodyBytes: -1},
		{Mode: ModeBlock, MaxBodyBytes: 1 << 30},
		{Mode: ModeBlock, Exclusions: []int{0}},
		{Mode: ModeBlock, Exclusions: []int{200002}}, // the body-integrity rules stay
		{Mode: ModeBlock, Exclusions: []int{200005}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

func TestKey(t *testing.T) {
	same := []Config{
		{Mode: ModeBlock, Exclusions: []int{942100, 920350}},
		{Mode: ModeBlock, ParanoiaLevel: 1, AnomalyThreshold: 5, MaxBodyBytes: DefaultMaxBodyBytes, Exclusions: []int{920350, 942100, 920350}},
	}
	if a, b := same[0].Key(), same[1].Key(); a != b {
		t.Errorf("equivalent configs: keys %q and %q", a, b)
	}
	for _, other := range []Config{
		{Mode: ModeDetect, Exclusions: []int{942100, 920350}},
		{Mode: ModeBlock, ParanoiaLevel: 2, Exclusions: []int{942100, 920350}},
		{Mode: ModeBlock, AnomalyThreshold: 7, Exclusions: []int{942100, 920350}},
		{Mode: ModeBlock, MaxBodyBytes: 4096, Exclusions: []int{942100, 920350}},
		{Mode: ModeBlock, Exclusions: []int{942100}},
		{Mode: ModeBlock, Exclusions: []int{942100, 920350}, crsTest: true},
	} {
		if other.Key() == same[0].Key() {
			t.Errorf("%+v shares the key of %+v", other, same[0])
		}
	}
}

func TestNewRefusesUnknownExclusion(t *testing.T) {
	_, err := New(Config{Mode: ModeBlock, Exclusions: []int{942100, 9421000}})
	if err == nil || !strings.Contains(err.Error(), "9421000") || strings.Contains(err.Error(), "942100,") {
		t.Errorf("err = %v, want one naming 9421000 only", err)
	}
}

// benign is ordinary JSON API traffic: none of it may trip paranoia level 1
// (CONTRACT: no false positive on ordinary JSON APIs).
var benign = []struct {
	method, target, contentType, body string
}{
	{"GET", "/api/v1/users/42", "", ""},
	{"GET", "/api/v1/users/8f14e45f-ceea-467f-a0e6-7d1c2a5b9c3e", "", ""},
	{"GET", "/api/v1/orders?status=shipped&page=2&limit=50&sort=-created_at", "", ""},
	{"GET", "/api/v1/search?q=O%27Brien&type=customer", "", ""},
	{"GET", "/api/v1/search?q=caf%C3%A9+au+lait&lang=fr", "", ""},
	{"GET", "/api/v1/events?from=2024-03-01T00:00:00Z&to=2024-03-31T23:59:59Z", "", ""},
	{"GET", "/api/v1/products?ids=12,15,19&fields=name,price,stock", "", ""},
	{"GET", "/api/v1/products/sku-AB-1234/reviews?rating=5", "", ""},
	{"GET", "/api/v2/accounts/me", "", ""},
	{"GET", "/api/v1/reports/2024/q1.json", "", ""},
	{"GET", "/api/v1/users?email=ada.lovelace%40example.com", "", ""},
	{"GET", "/api/v1/geo?lat=51.5074&lon=-0.1278&radius=2.5km", "", ""},
	{"GET", "/api/v1/files?path=invoices%2F2024%2Finvoice-0042.pdf", "", ""},
	{"GET", "/healthz", "", ""},
	{"HEAD", "/api/v1/users/42", "", ""},
	{"DELETE", "/api/v1/sessions/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "", ""},
	{"POST", "/api/v1/users", "application/json",
		`{"name":"Patrick O'Brien","email":"patrick.obrien@example.com","role":"editor","active":true}`},
	{"POST", "/api/v1/users", "application/json; charset=utf-8",
		`{"firstName":"Zoë","lastName":"D'Angelo","birthDate":"1987-06-15","phone":"+44 20 7946 0958"}`},
	{"POST", "/api/v1/orders", "application/json",
		`{"customerId":"8f14e45f-ceea-467f-a0e6-7d1c2a5b9c3e","items":[{"sku":"AB-1234","qty":2,"price":19.99},{"sku":"CD-5678","qty":1,"price":5.5}],"currency":"EUR","shipping":{"street":"12 Baker Street","city":"London","postcode":"NW1 6XE","country":"GB"}}`},
	{"POST", "/api/v1/comments", "application/json",
		`{"postId":981,"text":"I don't think that's right - it's the customer's call, isn't it? Let's discuss on Monday.","mentions":["@sam","@li"]}`},
	{"POST", "/api/v1/tickets", "application/json",
		`{"subject":"Can't log in","body":"Hi team,\nsince yesterday I can't log in from my phone. I've tried resetting my password twice.\nThanks, Mary-Jane","priority":"high","tags":["login","mobile"]}`},
	{"POST", "/api/v1/events", "application/json",
		`{"type":"page_view","timestamp":"2024-03-14T15:09:26.535Z","sessionId":"c9bf9e57-1685-4c89-bafb-ff5af830be8a","props":{"path":"/pricing","referrer":"https://www.google.com/","utm_source":"newsletter"}}`},
	{"POST", "/api/v1/auth/token", "application/json",
		`{"grant_type":"client_credentials","client_id":"svc-reporting","scope":"reports:read reports:write"}`},
	{"POST", "/api/v1/search", "application/json",
		`{"query":"running shoes size 10","filters":{"brand":["Nike","Asics"],"price":{"min":50,"max":150},"inStock":true},"page":1,"pageSize":24}`},
	{"POST", "/api/v1/messages", "application/json",
		`{"to":"+15551234567","text":"Your order #10472 has shipped and will arrive on Thursday. Track it at https://track.example.com/10472"}`},
	{"POST", "/api/v1/notes", "application/json",
		`{"title":"Meeting notes 2024-03-14","content":"Agenda: budget (approx. 20% up), hiring & onboarding; next steps: send Q2 plan by Friday.","pinned":false}`},
	{"POST", "/api/v1/webhooks", "application/json",
		`{"url":"https://hooks.example.com/orders","events":["order.created","order.paid"],"secret":"whsec_5f2b1c9d8e7a"}`},
	{"POST", "/api/v1/batch", "application/json",
		`{"operations":[{"op":"add","path":"/tags/0","value":"vip"},{"op":"replace","path":"/status","value":"active"}]}`},
	{"PUT", "/api/v1/users/42", "application/json",
		`{"name":"Ada Lovelace","email":"ada@example.com","address":{"line1":"1 St James's Square","city":"London"},"preferences":{"newsletter":false,"theme":"dark"}}`},
	{"PUT", "/api/v1/products/sku-AB-1234", "application/json",
		`{"name":"Trail Runner 2","description":"Lightweight shoe for men's and women's trail running; 8mm drop.","price":129.0,"stock":37,"updatedAt":"2024-03-14T10:00:00+01:00"}`},
	{"PATCH", "/api/v1/orders/10472", "application/json",
		`{"status":"cancelled","reason":"Customer changed their mind","refund":{"amount":45.48,"currency":"EUR"}}`},
	{"PATCH", "/api/v1/users/42/settings", "application/merge-patch+json",
		`{"timezone":"Europe/London","locale":"en-GB","notifications":{"email":true,"sms":null}}`},
	{"POST", "/api/v1/login", "application/x-www-form-urlencoded",
		"username=ada%40example.com&password=correct-horse-battery-staple&remember=true"},
	{"POST", "/api/v1/feedback", "application/json",
		`{"rating":4,"comment":"Great service – though the app's search could be faster. 4/5 would recommend!","contactOk":true}`},
	{"GET", "/api/v1/invoices?customer=O%27Neil%20%26%20Sons&year=2023", "", ""},
}

func TestBenignTraffic(t *testing.T) {
	w := compiled(t, blockPL1)
	if len(benign) < 30 {
		t.Fatalf("only %d benign requests", len(benign))
	}
	for _, c := range benign {
		r := request(c.method, c.target, c.contentType, c.body)
		r.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZGEiLCJzY29wZSI6InJlYWQifQ.c2lnbmF0dXJl")
		r.Header.Set("X-Request-Id", "01HS6Z3K8Q9V4T2M7N5P0R1W3X")
		v := check(t, w, r, c.body)
		if v.Block || v.Status != 0 || len(v.Detections) > 0 {
			t.Errorf("%s %s %s: Block %v Status %d, detections %+v", c.method, c.target, c.body, v.Block, v.Status, v.Detections)
		}
	}
}

func BenchmarkCheckGET(b *testing.B) {
	w := compiled(b, blockPL1)
	r := request("GET", "/api/v1/orders?status=shipped&page=2&limit=50", "", "")
	b.ReportAllocs()
	for b.Loop() {
		if v := w.Check(r, "203.0.113.7", nil); v.Block {
			b.Fatal("blocked")
		}
	}
}

func BenchmarkCheckJSONPost(b *testing.B) {
	w := compiled(b, blockPL1)
	body := benign[18].body // an order: nested objects, an array
	r := request("POST", "/api/v1/orders", "application/json", body)
	b.ReportAllocs()
	for b.Loop() {
		if v := w.Check(r, "203.0.113.7", []byte(body)); v.Block {
			b.Fatal("blocked")
		}
	}
}

func TestCRSContentTypesCopy(t *testing.T) {
	b, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/REQUEST-901-INITIALIZATION.conf")
	if err != nil {
		t.Fatal(err)
	}
	if want := "setvar:'tx.allowed_request_content_type=" + crsContentTypes + "'"; !strings.Contains(string(b), want) {
		t.Errorf("the CRS default of tx.allowed_request_content_type is no longer %s: update crsContentTypes", crsContentTypes)
	}
}

func TestJSONContentTypes(t *testing.T) {
	w := compiled(t, blockPL1)
	body := `{"status":"active"}`
	for _, ct := range []string{"application/merge-patch+json", "application/vnd.api+json; charset=utf-8", "application/json-patch+json", "Application/Problem+JSON"} {
		if v := check(t, w, request("PATCH", "/api/v1/users/42", ct, body), body); len(v.Detections) > 0 {
			t.Errorf("%s: detections %v", ct, ruleIDs(v))
		}
	}
	// Types the WAF cannot parse stay refused (920420).
	for _, ct := range []string{"application/x-evil", "application/evil+jsonx", "text/json+xml"} {
		if v := check(t, w, request("PATCH", "/api/v1/users/42", ct, body), body); !slices.Contains(ruleIDs(v), 920420) {
			t.Errorf("%s: detections %v, want 920420", ct, ruleIDs(v))
		}
	}
	// A JSON type's body is parsed: an attack in it is found.
	attack := `{"name":"x' or 1=1--"}`
	if v := check(t, w, request("PATCH", "/api/v1/users/42", "application/merge-patch+json", attack), attack); !v.Block {
		t.Errorf("SQL injection in a merge-patch body: detections %v", ruleIDs(v))
	}
}
