package guard

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// comboFragments are pieces of values and of what surrounds them; random
// concatenations of them probe how detectors and replacements interact
// (values glued to each other, to escapes, to quotes), which byte-level
// fuzzing rarely builds.
var comboFragments = []string{
	"bob@example.com", "a.b+c@mail.example.co.uk", "@", ".", "-", " ", "  ", "\n", ",", ":", "=", "(", ")", "+", "'", "\"",
	`\n`, `\"`, `\\`, `\u00e9`, "é", "\u200b", "x", "AB", "DE", "ES", "X", "Z",
	"555-123-4567", "(555) 123-4567", "+44 20 7946 0958", "020 7946 0958", "+49 30 123456", "1-800-555-1234",
	"4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "3782 822463 10005",
	"DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "NO9386011117947",
	"123-45-6789", "AB123456C", "AB 12 34 56 C", "12345678Z", "X1234567L", "Z-1234567R",
	fakeOpenAI, fakeAWS, fakeGitHub, fakeSlack, fakeGoogle, fakeStripe, fakeJWT, "Bearer abcdef0123456789ABCDEF",
	"password=", "password: ", `"api_key": `, "token=", "secret:", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "MIIEvQIBADANBg",
	"-----BEGIN RSA PRIVATE KEY-----\n", "Proc-Type: 4,ENCRYPTED\n", `\nMIIE`, "\r\n", "x-api-key: ", `{\"password\":\"`, `\"`,
	"git@", "@2x.png", "0044", "(0)", "(", "ext", "#", "$", "%", "/", "&", "_", "*", "`", "<", "\u0041", `\u`, `\ud83d`,
	"[REDACTED_EMAIL]", "[REDACTED_CARD]", "[REDACTED_", "]", "[", "0", "1", "12", "2024-01-15", "v1.2.3", "192.168.1.1",
}

func TestRedactCombinations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sc := getScanner()
	defer putScanner(sc)
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for range n {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(comboFragments[rng.IntN(len(comboFragments))])
		}
		s := b.String()
		out, _ := Redact(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Redact(%q) = %q, not UTF-8", s, out)
		}
		if left := sc.find(out); len(left) > 0 {
			t.Fatalf("Redact(%q) = %q leaves %s", s, out, out[left[0].start:left[0].end])
		}
		if again, _ := Redact(out); again != out {
			t.Fatalf("Redact not idempotent on %q: %q then %q", s, out, again)
		}
		// The same text as a JSON string and as a JSON number's neighbour.
		for _, doc := range []string{mustJSON(s), `{"v":` + mustJSON(s) + `,"n":4111111111111111}`, `[` + mustJSON(s) + `, -4111111111111111e0]`} {
			var c counts
			args := sc.redactArguments(doc, &c)
			if !json.Valid([]byte(args)) {
				t.Fatalf("redactArguments(%s) = %s, not JSON", doc, args)
			}
			if again := sc.redactArguments(args, &c); again != args {
				t.Fatalf("redactArguments not idempotent on %s: %s then %s", doc, args, again)
			}
		}
	}
}

func mustJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
