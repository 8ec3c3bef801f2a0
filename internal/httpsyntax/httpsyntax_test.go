package httpsyntax

import "testing"

// TestParseLength pins the Content-Length grammar: 1 to 18 decimal digits.
func TestParseLength(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		isOK bool
	}{
		{"0", 0, true},
		{"5", 5, true},
		{"0005", 5, true},
		{"123456789012345678", 123456789012345678, true},
		{"1234567890123456789", 0, false},
		{"", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1,1", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		n, ok := ParseLength(tt.in)
		if n != tt.n || ok != tt.isOK {
			t.Errorf("ParseLength(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.isOK)
		}
	}
}

// TestTokensAndValues pins the token and field-value grammar both ends of
// the gateway share.
func TestTokensAndValues(t *testing.T) {
	for s, want := range map[string]bool{"GET": true, "X-Forwarded-For": true, "a!#$%&'*+-.^_`|~9": true,
		"": false, "X A": false, "X:A": false, "X\x00": false, "é": false} {
		if ValidToken(s) != want {
			t.Errorf("ValidToken(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"": true, "a b\tc": true, "caf\xc3\xa9": true,
		"a\rb": false, "a\nb": false, "a\x00b": false, "a\x7fb": false, "a\x1bb": false} {
		if ValidFieldValue(s) != want || ValidFieldValue([]byte(s)) != want {
			t.Errorf("ValidFieldValue(%q) = %v", s, !want)
		}
	}
	if got := TrimOWS(" \t a b \t"); got != "a b" {
		t.Errorf("TrimOWS: %q", got)
	}
}

// TestHasToken pins how Connection-like lists are read: comma-separated,
// optional whitespace, case-insensitive, across repeated fields.
func TestHasToken(t *testing.T) {
	values := []string{"keep-alive", " Upgrade ,\tHTTP2-Settings"}
	for token, want := range map[string]bool{"upgrade": true, "http2-settings": true, "KEEP-ALIVE": true, "close": false, "": false} {
		if HasToken(values, token) != want {
			t.Errorf("HasToken(%q) = %v", token, !want)
		}
	}
}

// TestUnhex pins the hex digits of percent-encodings and chunk sizes.
func TestUnhex(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := -1
		switch {
		case '0' <= c && c <= '9':
			want = c - '0'
		case 'a' <= c && c <= 'f':
			want = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			want = c - 'A' + 10
		}
		if got := Unhex(byte(c)); got != want || IsHex(byte(c)) != (want >= 0) {
			t.Errorf("Unhex(%q) = %d, want %d", rune(c), got, want)
		}
	}
}
