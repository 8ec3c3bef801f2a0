package ftw

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// methodsWithBody are the methods go-ftw gives a Content-Length even without
// data. The expression is go-ftw's, unanchored alternatives included
// (^POST|PUT|PATCH|DELETE$), so that the bytes sent are the same.
var methodsWithBody = regexp.MustCompile(`^POST|PUT|PATCH|DELETE$`)

// Request returns the raw bytes go-ftw would send for this input, with extra
// cookies (from an earlier stage's save_cookie) added as a Cookie header.
func (in *Input) Request(cookies []string) ([]byte, error) {
	if in.EncodedRequest != "" {
		return base64.StdEncoding.DecodeString(in.EncodedRequest)
	}
	if in.RawRequest != "" {
		return []byte(in.RawRequest), nil
	}
	data, err := in.body()
	if err != nil {
		return nil, err
	}
	headers := append(append(Headers{}, in.Headers...), in.OrderedHeaders...)
	if len(cookies) > 0 {
		headers = append(headers, Header{Name: "Cookie", Value: strings.Join(cookies, "; ")})
	}
	method := value(in.Method, "GET")
	auto := in.autocomplete()
	if len(data) > 0 && auto {
		if !headers.has("Content-Type") {
			headers = append(headers, Header{Name: "Content-Type", Value: "application/x-www-form-urlencoded"})
		}
		data = encodeForm(headers, data)
	}
	// Multipart bodies must use CRLF; go-ftw turns every LF into CRLF (an
	// existing CRLF becomes CRCRLF, as there).
	if headers.valueContains("Content-Type", "multipart/form-data;") {
		data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	}
	if auto {
		if !headers.has("Connection") {
			headers = append(headers, Header{Name: "Connection", Value: "close"})
		}
		if !headers.has("Content-Length") && (len(data) > 0 || methodsWithBody.MatchString(method)) {
			headers = append(headers, Header{Name: "Content-Length", Value: strconv.Itoa(len(data))})
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, value(in.URI, "/"), value(in.Version, "HTTP/1.1"))
	for _, h := range headers {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(data)
	return b.Bytes(), nil
}

func value(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func (in *Input) autocomplete() bool {
	switch {
	case in.AutocompleteHeaders != nil:
		return *in.AutocompleteHeaders
	case in.StopMagic != nil:
		return !*in.StopMagic
	}
	return true
}

// body is data (evaluated as a template) or encoded_data.
func (in *Input) body() ([]byte, error) {
	if in.EncodedData != "" {
		return base64.StdEncoding.DecodeString(in.EncodedData)
	}
	if in.Data == nil {
		return nil, nil
	}
	t, err := template.New("data").Funcs(templateFuncs).Parse(*in.Data)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, nil); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return b.Bytes(), nil
}

// maxRepeat bounds what `repeat` may build (the CRS uses 64,200 bytes).
const maxRepeat = 16 << 20

// templateFuncs are the sprig functions CRS test data uses.
var templateFuncs = template.FuncMap{
	"repeat": func(n int, s string) (string, error) {
		if n < 0 || len(s) > 0 && n > maxRepeat/len(s) {
			return "", fmt.Errorf("repeat %d times %d bytes: out of range", n, len(s))
		}
		return strings.Repeat(s, n), nil
	},
}

// encodeForm URL-encodes the keys and values of an unencoded form body, as
// go-ftw does: only for Content-Type application/x-www-form-urlencoded, and
// only when decoding would not change the data (it is not encoded yet).
func encodeForm(h Headers, data []byte) []byte {
	if !h.valueIs("Content-Type", "application/x-www-form-urlencoded") {
		return data
	}
	if dec, err := url.QueryUnescape(string(data)); err != nil || dec != string(data) {
		return data
	}
	// go-ftw's loop: a trailing "&" ends the data rather than adding an
	// empty parameter.
	var out []string
	for rest := string(data); rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if k, v, ok := strings.Cut(pair, "="); ok {
			out = append(out, url.QueryEscape(k)+"="+url.QueryEscape(v))
		} else {
			out = append(out, url.QueryEscape(pair))
		}
	}
	return []byte(strings.Join(out, "&"))
}

func (h Headers) has(name string) bool {
	for _, x := range h {
		if textproto.CanonicalMIMEHeaderKey(x.Name) == name {
			return true
		}
	}
	return false
}

func (h Headers) valueIs(name, v string) bool {
	for _, x := range h {
		if textproto.CanonicalMIMEHeaderKey(x.Name) == name && strings.EqualFold(x.Value, v) {
			return true
		}
	}
	return false
}

func (h Headers) valueContains(name, sub string) bool {
	for _, x := range h {
		if textproto.CanonicalMIMEHeaderKey(x.Name) == name && strings.Contains(strings.ToLower(x.Value), sub) {
			return true
		}
	}
	return false
}
