package audit

import "testing"

func TestRedactPath(t *testing.T) {
	for _, tc := range []struct{ path, query, want string }{
		{"/v1/items", "", "/v1/items"},
		{"/v1/items", "page=2&sort=asc", "/v1/items?page=2&sort=asc"},
		// Emails, in the path and in the query, its @ percent-encoded or not.
		{"/users/alice.smith+tag@example.co.uk/orders", "", "/users/[redacted]/orders"},
		{"/search", "q=bob%40example.com&page=1", "/search?q=[redacted]&page=1"},
		{"/search", "q=bob@example.com", "/search?q=[redacted]"},
		{"/search", "to=a%2Bb%40mail.example.org", "/search?to=[redacted]"},
		{"/x", "a@b", "/x?a@b"}, // no domain: not an address
		// Card numbers: plain, spaced, dashed, encoded; in a path segment;
		// Luhn-invalid and over-long digit runs are not cards.
		{"/cards/4111111111111111/charge", "", "/cards/[redacted]/charge"},
		{"/pay", "card=4111+1111+1111+1111", "/pay?card=[redacted]"},
		{"/pay", "card=4111%201111%201111%201111&x=1", "/pay?card=[redacted]&x=1"},
		{"/pay/5500-0000-0000-0004", "", "/pay/[redacted]"},
		{"/pay/5500 0000 0000 0004", "", "/pay/[redacted]"},
		{"/pay", "n=378282246310005", "/pay?n=[redacted]"},                   // 15 digits (Amex)
		{"/orders/4111111111111112", "", "/orders/4111111111111112"},         // Luhn-invalid
		{"/orders/41111111111111110000", "", "/orders/41111111111111110000"}, // 20 digits
		{"/orders/123456789012", "", "/orders/123456789012"},                 // 12 digits
		{"/a/4111111111111111-", "", "/a/[redacted]-"},                       // trailing separator stays
		{"/a/x4111111111111111y", "", "/a/x[redacted]y"},                     // inside a segment
		{"/a/4111--4111111111111111", "", "/a/4111--[redacted]"},             // a double separator parts runs
		// Sensitive parameters, any case, encoded names, empty values.
		{"/x", "token=abc&page=2", "/x?token=[redacted]&page=2"},
		{"/x", "Access_Token=abc", "/x?Access_Token=[redacted]"},
		{"/x", "API_KEY=k&Key=v&PassWord=p&SECRET=s", "/x?API_KEY=[redacted]&Key=[redacted]&PassWord=[redacted]&SECRET=[redacted]"},
		{"/x", "api%5Fkey=k", "/x?api%5Fkey=[redacted]"},
		{"/x", "token=", "/x?token=[redacted]"},
		{"/x", "token", "/x?token"},
		{"/x", "keys=1&monkey=2&tokens=3", "/x?keys=1&monkey=2&tokens=3"},
		{"/x", "a=1&&b=2", "/x?a=1&&b=2"},
	} {
		if got := RedactPath(tc.path, tc.query); got != tc.want {
			t.Errorf("RedactPath(%q, %q) = %q, want %q", tc.path, tc.query, got, tc.want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{"4111111111111111": true, "4111111111111112": false, "79927398713": true, "0": true} {
		if got := luhn([]byte(s)); got != want {
			t.Errorf("luhn(%s) = %v", s, got)
		}
	}
}
