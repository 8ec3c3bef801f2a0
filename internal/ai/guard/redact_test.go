package guard

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// Fake credentials are assembled from parts, so that secret scanners
// reading this repository do not take them for real ones.
var (
	fakeOpenAI    = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_Q7-"
	fakeOpenAIOld = "sk-" + "T3BlbkFJ0123456789abcdefghijKLMNOPQRSTUVWXYZab"
	fakeAnthropic = "sk-" + "ant-api03-" + "aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2yZ3-AbCdEfGhIj_kLmN0AA"
	fakeAWS       = "AKIA" + "IOSFODNN7EXAMPLE"
	fakeAWSTemp   = "ASIA" + "Y34FZKBOKMUTVV7A"
	fakeGitHub    = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
	fakeGitHubApp = "ghs_" + "16C7e42F292c6912E7710c838347Ae178B4a"
	fakeGitHubPAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV"
	fakeSlack     = "xoxb-" + "1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	fakeGoogle    = "AIza" + "SyA-1234567890abcdefghijklmnopqrstu"
	fakeStripe    = "sk_" + "live_" + "51H8abcDEF123ghiJKL456mno"
	fakeStripeRK  = "rk_" + "live_" + "51H8abcDEF123ghiJKL456mno"
	fakeGitLab    = "glpat-" + "xY9z_AbCdEfGhIj01234"
	fakeHF        = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
	fakeJWT       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ" + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	fakePEM       = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----"
)

// redactCase is a text and what Redact makes of it.
type redactCase struct{ in, want string }

func checkRedact(t *testing.T, cases []redactCase) {
	t.Helper()
	for _, tc := range cases {
		got, _ := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// unchanged lists texts Redact must leave as they are.
func unchanged(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if got, n := Redact(s); got != s {
			t.Errorf("Redact(%q) = %q %v, want it unchanged", s, got, n)
		}
	}
}

const (
	email = "[REDACTED_EMAIL]"
	phone = "[REDACTED_PHONE]"
	card  = "[REDACTED_CARD]"
	iban_ = "[REDACTED_IBAN]"
	natID = "[REDACTED_NATIONAL_ID]"
	sec   = "[REDACTED_SECRET]"
)

func TestRedactEmail(t *testing.T) {
	checkRedact(t, []redactCase{
		{"write to bob@example.com today", "write to " + email + " today"},
		{"alice.smith+tag@mail.example.co.uk.", email + "."},
		{"<first_last-1@sub.domain.io>", "<" + email + ">"},
		{"mailto:ops@example.org?subject=hi", "mailto:" + email + "?subject=hi"},
		{"José.Müller@beispiel.de", email},
		{"bob@example.com-related", email + "-related"},
		{`{"to":"carol@example.net"}`, `{"to":"` + email + `"}`},
		{`line one\ndave@example.com`, `line one\n` + email}, // JSON escape stays
		{"https://user:pw@host.example.com/x", "https://user:" + email + "/x"},
	})
	unchanged(t,
		"@angular/core and @types/node",
		"ping user@localhost",
		"git clone git@github.com:org/repo.git",
		"icon@2x.png and logo@3x.webp",
		"npm i lodash@4.17.21 react@latest",
		"a@b and x@y.z",
		"@app.route('/')",
		"foo@bar.123",
	)
}

func TestRedactPhone(t *testing.T) {
	checkRedact(t, []redactCase{
		{"call (555) 123-4567 now", "call " + phone + " now"},
		{"555-123-4567", phone},
		{"555.123.4567", phone},
		{"1-800-555-1234", phone},
		{"+1 (555) 123-4567", phone},
		{"020 7946 0958", phone},
		{"+44 20 7946 0958", phone},
		{"+44 (0)20 7946 0958", phone},
		{"+49 30 123456", phone},
		{"+33 1 23 45 67 89", phone},
		{"01 23 45 67 89", phone},
		{"07700 900123", phone},
		{"tel:+14155552671", "tel:" + phone},
		{"phone=555-123-4567&x=1", "phone=" + phone + "&x=1"},
		{"555-123-4567 555-987-6543", phone + " " + phone}, // a list of two
		{"Tel: 030 1234 5678.", "Tel: " + phone + "."},
	})
	unchanged(t,
		"5551234567",             // a bare run of digits
		"15551234567 1234567890", // more bare runs
		"555-1234",               // local number, no area code
		"123-456-7890",           // not a North American area code
		"2024-01-15", "15.01.2024", "01/15/2024", "2024-01-15 10:30:00", "2024-01-15T10:30:00Z",
		"192.168.1.100", "10.0.19045.2965", "1.22.4",
		"1,234,567", "1 234 567", "$1 234 567", "12 345 678",
		"order 123-456-789", "ORD-555-123-4567", "#555-123-4567",
		"ISBN 978-3-16-148410-0",
		"10 20 30 40 50",
		"Boston, MA 02134-5678",
		"550e8400-e29b-41d4-a716-446655440000",
		"12345678-1234-1234-1234-123456789012",
		"0.5 0.75 1.25 2.5",
		"+1234567", // too short for E.164
		"a+12345678901",
		"version 3.12.1 build 20240115 1030",
	)
}

func TestRedactCard(t *testing.T) {
	checkRedact(t, []redactCase{
		{"card 4111111111111111 exp 12/27", "card " + card + " exp 12/27"},
		{"4111 1111 1111 1111", card},
		{"4111-1111-1111-1111", card},
		{"5555555555554444", card},
		{"2221000000000009", card},
		{"3782 822463 10005", card},   // Amex 4-6-5
		{"378282246310005", card},     // Amex whole
		{"3056 930902 5904", card},    // Diners 4-6-4
		{"6011 0009 9013 9424", card}, // Discover
		{"4222222222222", card},       // 13 digits
		{"6759649826438453565", card}, // 19 digits
		{"(4012888888881881)", "(" + card + ")"},
		{"4111111111111111 5555555555554444", card + " " + card},
		{"4111 1111 1111 1111 5555 5555 5555 4444", card + " " + card},
		{`{"pan":"4111111111111111"}`, `{"pan":"` + card + `"}`},
	})
	unchanged(t,
		"4111111111111112",          // Luhn-invalid
		"4111 1111 1111 1112",       // Luhn-invalid
		"1700000000000",             // a timestamp in milliseconds
		"1700000000123456789",       // in nanoseconds
		"41111111111111110000",      // 20 digits
		"0.4111111111111111",        // a decimal
		"x4111111111111111",         // glued to a word
		"4111 11111 1111 1111",      // not a card's grouping
		"4111-1111 1111-1111",       // mixed separators
		"4 1 1 1 1 1 1 1 1 1 1 1 1", // single digits
		"1234567890123456",
	)
}

func TestRedactIBAN(t *testing.T) {
	checkRedact(t, []redactCase{
		{"IBAN: DE89 3704 0044 0532 0130 00, thanks", "IBAN: " + iban_ + ", thanks"},
		{"DE89370400440532013000", iban_},
		{"GB82 WEST 1234 5698 7654 32", iban_},
		{"gb82west12345698765432", iban_},
		{"FR1420041010050500013M02606", iban_},
		{"NL91ABNA0417164300", iban_},
		{"ES91 2100 0418 4502 0005 1332", iban_},
		{"IT60X0542811101000000123456", iban_},
		{"BE68539007547034", iban_},
		{"CH9300762011623852957", iban_},
		{"NO9386011117947", iban_},
		{"to PL61109010140000071219812874.", "to " + iban_ + "."},
	})
	unchanged(t,
		"DE89 3704 0044 0532 0130 01", // bad check digits
		"DE8937040044053201300",       // too short for DE
		"DE89370400440532013000X",     // glued to more
		"XX89370400440532013000",      // no such country
		"AB12CDEF3456GHIJ78",
		"SHA256 and MD5 hashes",
	)
}

func TestRedactNationalID(t *testing.T) {
	checkRedact(t, []redactCase{
		{"SSN 123-45-6789.", "SSN " + natID + "."},
		{"078-05-1120", natID},
		{"NI number AB123456C", "NI number " + natID},
		{"JG 10 37 59 A", natID},
		{"CE 123456 D", natID},
		{"DNI 12345678Z", "DNI " + natID},
		{"12345678-Z", natID},
		{"NIE X1234567L", "NIE " + natID},
		{"Y1234567X", natID},
		{"Z-1234567R", natID},
	})
	unchanged(t,
		"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", // never issued
		"123 45 6789",          // SSNs need dashes
		"2023-12-2024",         // a date-ish triple
		"QQ123456C",            // Q is not an allocated first letter
		"BG123456A",            // nor BG a prefix
		"AO123456A",            // nor O a second letter
		"AB123456E",            // suffixes are A-D
		"ab123456c",            // capitals only
		"12345678A",            // wrong DNI letter
		"X1234567A",            // wrong NIE letter
		"112345678Z",           // nine digits
		"ref 20240115T103000Z", // a timestamp
	)
}

func TestRedactSecrets(t *testing.T) {
	checkRedact(t, []redactCase{
		{"key " + fakeOpenAI + " ok", "key " + sec + " ok"},
		{fakeOpenAIOld, sec},
		{"ANTHROPIC_API_KEY=" + fakeAnthropic, "ANTHROPIC_API_KEY=" + sec},
		{"aws " + fakeAWS + ",", "aws " + sec + ","},
		{fakeAWSTemp, sec},
		{fakeGitHub, sec},
		{fakeGitHubApp, sec},
		{fakeGitHubPAT, sec},
		{fakeSlack, sec},
		{fakeGoogle, sec},
		{fakeStripe, sec},
		{fakeStripeRK, sec},
		{fakeGitLab, sec},
		{fakeHF, sec},
		{"token " + fakeJWT + ".", "token " + sec + "."},
		{"Authorization: Bearer abcdef0123456789ABCDEF", "Authorization: Bearer " + sec},
		{"key:\n" + fakePEM + "\nwhy does it fail?", "key:\n" + sec + "\nwhy does it fail?"},
		{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u\nZQAAAAAAAAABAAABlwAAAAdzc2gtcn\n\nWhy?", sec + "\n\nWhy?"}, // truncated
		{`{"key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7"}`, `{"key":"` + sec + `"}`},
		// Assignments: the value only.
		{"password=hunter2", "password=" + sec},
		{"DB_PASSWORD=s3cr3t&x=1", "DB_PASSWORD=" + sec + "&x=1"},
		{`"api_key": "abc123"`, `"api_key": "` + sec + `"`},
		{`{"client_secret":"x y z"}`, `{"client_secret":"` + sec + `"}`},
		{`{\"password\":\"p4ss\"}`, `{\"password\":\"` + sec + `\"}`},
		{"secret: Tr0ub4dor&3", "secret: " + sec},
		{"GITHUB_TOKEN: ghp-like-token-99", "GITHUB_TOKEN: " + sec},
		{"x-api-key: 9f8e7d6c5b4a", "x-api-key: " + sec},
		{`password := "letmein"`, `password := "` + sec + `"`},
		{"api_key = 'abc'", "api_key = '" + sec + "'"},
		{"?access_token=abc123.def&page=2", "?access_token=" + sec + "&page=2"},
		{"password=letmein", "password=" + sec},
		{"password=password123", "password=" + sec},
	})
	unchanged(t,
		"sk-learn is a library; task-management-system-for-teams",
		"sk-this-is-not-a-key-at-all-just-words",
		"max_tokens=100 and tokens: 5",
		"Token: the smallest unit of text",
		"password: required",
		"password=${DB_PASSWORD}",
		"password=os.environ['DB_PASSWORD']",
		"api_key=getenv('API_KEY')",
		"password=None",
		"password=<your-password>",
		"if password == other { }",
		"if token != nil {",
		"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
		"AKIA is the prefix of AWS keys",
		"eyJ is how base64 JSON starts",
		"Bearer tokens are sent in a header",
		"password=********",
		"login(username=username, password=password, token=access_token)",
		"password = user.password; api_key: cfg.api_key",
		"fn login(password: &str, token: u32, secret: *const u8) -> Result<Token, Error>",
		"interface User { password: string; apiKey: String; token?: string }",
		"token_count: 5, tokenizer: bpe, password_hint: none",
	)
}

// TestRedactOrdinaryText is text with numbers of every ordinary kind that
// must come through untouched.
func TestRedactOrdinaryText(t *testing.T) {
	unchanged(t,
		"Order #123456789 shipped on 2024-03-02 for $1,234.56 (tracking 1Z999AA10123456784).",
		"Upgrade from v1.2.3 to 2.0.0-rc.1; see commit a3f5c9e2b7d1408f6e2c3b4a5d6e7f8091a2b3c4 (short 3f2a9c1).",
		"Request 550e8400-e29b-41d4-a716-446655440000 at 1700000000 took 123 ms, p99 4567 ms.",
		"The answer is 42, the year is 2024, pi is 3.14159265358979323846.",
		"Listen on 0.0.0.0:8080, then curl http://127.0.0.1:8080/v1/items?page=2&sort=asc",
		"Meeting on 12/03/2024 at 10:30, room 4.21, dial-in code 123 456 789.",
		"Matrix: [[1, 2, 3], [4, 5, 6]], shape (2, 3), dtype int64.",
		"Python 3.12.1 (main, Dec  8 2023, 12:00:00) [GCC 11.4.0] on linux",
		"Prices: 9.99, 19.99, 1 999 €, 1.234.567,89 €.",
		"Coordinates 51.5074, -0.1278 and 40.7128, -74.0060.",
	)
}

func TestRedactIdempotent(t *testing.T) {
	for _, s := range []string{
		"bob@example.com 555-123-4567 4111111111111111 DE89370400440532013000 123-45-6789 " + fakeOpenAI,
		"password=[REDACTED_SECRET] and [REDACTED_EMAIL] at [REDACTED_PHONE]",
		"DE89 3704 0044 0532 0130 00 555-123-4567", // a phone glued to an IBAN
	} {
		once, _ := Redact(s)
		twice, n := Redact(once)
		if twice != once || n != nil {
			t.Errorf("Redact(Redact(%q)) = %q %v, want %q", s, twice, n, once)
		}
	}
}

func TestRedactCounts(t *testing.T) {
	_, got := Redact("a@example.com b@example.com 555-123-4567 password=x1y2z3 " + fakeAWS)
	want := map[string]int{KindEmail: 2, KindPhone: 1, KindSecret: 2}
	if !maps.Equal(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
	if _, got := Redact("nothing here"); got != nil {
		t.Errorf("counts = %v, want nil", got)
	}
}

func TestRedactArgumentsStayJSON(t *testing.T) {
	for _, tc := range []redactCase{
		{`{"card": 4111111111111111, "n": 1}`, `{"card": "` + card + `", "n": 1}`},
		{`{"card":-4111111111111111}`, `{"card":"` + card + `"}`},
		{`{"password": 12345678}`, `{"password": "` + sec + `"}`},
		{`{"to": "bob@example.com", "body": "call 555-123-4567\nthanks"}`, `{"to": "` + email + `", "body": "call ` + phone + `\nthanks"}`},
		{`{"text": "\u00e9 bob@example.com\u0021"}`, `{"text": "\u00e9 ` + email + `\u0021"}`},
		{`["a\\", "4111111111111111"]`, `["a\\", "` + card + `"]`},
		{`{"k":"` + fakePEM[:40] + `\nAAAA"}`, `{"k":"` + sec + `"}`},
		// The quote after token= closes the string: no value follows.
		{`{"v":"token=","n":4111111111111111}`, `{"v":"token=","n":"` + card + `"}`},
		{`{"v":"password: ","n":"x"}`, `{"v":"password: ","n":"x"}`},
	} {
		sc := getScanner()
		var c counts
		got := sc.redactArguments(tc.in, &c)
		putScanner(sc)
		if got != tc.want {
			t.Errorf("redactArguments(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("redactArguments(%s) = %s, not JSON", tc.in, got)
		}
	}
	// Arguments that are not JSON are redacted as text.
	sc := getScanner()
	defer putScanner(sc)
	var c counts
	if got := sc.redactArguments(`{"card": 4111111111111111`, &c); got != `{"card": `+card {
		t.Errorf("partial JSON: %s", got)
	}
}

func TestEscapeAt(t *testing.T) {
	s := `a\nb\\c\u00e9d`
	for i, want := range []int{-1, -1, 1, -1, -1, 4, -1, -1, 7, 7, 7, 7, 7, -1} {
		if got := escapeAt(s, i); got != want {
			t.Errorf("escapeAt(%q, %d) = %d, want %d", s, i, got, want)
		}
	}
	if !strings.Contains(s, `\u00e9`) {
		t.Fatal("test text changed")
	}
}
