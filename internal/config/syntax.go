package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// nameRule says what isName accepts, for messages.
const nameRule = `use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters`

var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// isName reports whether s is a DNS-subdomain-like name: the names of documents,
// listeners and routes.
func isName(s string) bool { return len(s) <= 253 && namePattern.MatchString(s) }

var hostLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// isHostPattern reports whether s is a lowercase hostname, optionally with a
// leading "*." wildcard label.
func isHostPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the syntax of
// methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// urlProblem says what is wrong with raw as an absolute http or https URL with a
// host and no credentials, nor fragment, nor (unless allowQuery) query; it is ""
// when nothing is. field names the URL in the message.
func urlProblem(field, raw string, allowQuery bool) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%s %q is not a URL", field, raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%s %q must be an absolute http or https URL", field, raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%s %q has no host", field, raw)
	case u.User != nil:
		return fmt.Sprintf("%s %q must not carry credentials (user:password@)", field, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%s %q must not have a fragment (#…)", field, raw)
	case !allowQuery && (u.RawQuery != "" || u.ForceQuery):
		return fmt.Sprintf("%s %q must not have a query (?…)", field, raw)
	}
	return ""
}
