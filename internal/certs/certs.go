// Package certs makes the TLS configuration of an HTTPS listener from its
// files — certificates chosen by SNI, the client CA, the minimum version —
// and tells when those files changed, so that the server can reload them
// without dropping a connection (CONTRACT §2: within 2 s of a change, in
// place, by rename or by symlink swap).
package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Pair is one certificate chain and its private key, as PEM files.
type Pair struct{ CertFile, KeyFile string }

// Source is what a listener's TLS is made of.
type Source struct {
	// Pairs are the certificates: the one whose names match the client's
	// SNI is served, the first when none matches or none was sent.
	Pairs []Pair
	// ClientCAFile, when set, makes a client certificate signed by one of
	// its CAs required.
	ClientCAFile string
	MinVersion   uint16 // tls.VersionTLS12 or tls.VersionTLS13
}

// Fingerprint identifies the contents of a Source's files: it changes when
// any of them does, however it was replaced.
type Fingerprint [sha256.Size]byte

// Loaded is a Source with its files read.
type Loaded struct {
	Source      Source
	Fingerprint Fingerprint
	Config      *tls.Config
}

// cipherSuites are the TLS 1.2 suites offered: ECDHE key exchange with an
// AEAD only (no CBC, no RSA key exchange). TLS 1.3's are not configurable
// and all qualify.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Load reads src's files and returns the listener's TLS configuration:
// ALPN h2 and http/1.1, the minimum version (TLS 1.2 when unset), the
// suites above, and client certificates required when src has a client CA.
func Load(src Source) (*Loaded, error) {
	contents, fp, err := read(src)
	if err != nil {
		return nil, err
	}
	if len(src.Pairs) == 0 {
		return nil, errors.New("no certificate")
	}
	certs := make([]tls.Certificate, len(src.Pairs))
	for i, p := range src.Pairs {
		c, err := tls.X509KeyPair(contents[p.CertFile], contents[p.KeyFile])
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", p.CertFile, p.KeyFile, err)
		}
		certs[i] = c
	}
	cfg := &tls.Config{
		MinVersion:   max(src.MinVersion, tls.VersionTLS12),
		CipherSuites: cipherSuites,
		NextProtos:   []string{"h2", "http/1.1"},
		Certificates: certs, // crypto/tls picks by SNI among them, the first by default
	}
	if src.ClientCAFile != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(contents[src.ClientCAFile]) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate in it", src.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return &Loaded{Source: src, Fingerprint: fp, Config: cfg}, nil
}

// Current returns the fingerprint of src's files as they are now.
func Current(src Source) (Fingerprint, error) {
	_, fp, err := read(src)
	return fp, err
}

// read reads every file of src once, following symlinks, and hashes them
// in order.
func read(src Source) (map[string][]byte, Fingerprint, error) {
	files := make([]string, 0, 2*len(src.Pairs)+1)
	for _, p := range src.Pairs {
		files = append(files, p.CertFile, p.KeyFile)
	}
	if src.ClientCAFile != "" {
		files = append(files, src.ClientCAFile)
	}
	contents := make(map[string][]byte, len(files))
	h := sha256.New()
	for _, f := range files {
		b, ok := contents[f]
		if !ok {
			var err error
			if b, err = os.ReadFile(f); err != nil {
				return nil, Fingerprint{}, err
			}
			contents[f] = b
		}
		sum := sha256.Sum256(b)
		h.Write(sum[:])
	}
	var fp Fingerprint
	h.Sum(fp[:0])
	return contents, fp, nil
}

// Reload re-reads cur's files: it returns the configuration to serve from
// now on, nil when the files did not change, or an error when they changed
// and do not load (cur keeps serving).
func Reload(cur *Loaded) (*Loaded, error) {
	fp, err := Current(cur.Source)
	if err != nil {
		return nil, err
	}
	if fp == cur.Fingerprint {
		return nil, nil
	}
	return Load(cur.Source)
}

// Serving is a configuration that reloads: Config hands each new
// connection the latest one loaded (see Watch).
type Serving struct{ current atomic.Pointer[Loaded] }

// NewServing serves l.
func NewServing(l *Loaded) *Serving {
	s := &Serving{}
	s.current.Store(l)
	return s
}

// Config is a tls.Config whose connections get the latest configuration.
func (s *Serving) Config() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.current.Load().Config, nil
	}}
}

// Check reloads the files if they changed; see Reload.
func (s *Serving) Check() (reloaded bool, err error) {
	cur := s.current.Load()
	next, err := Reload(cur)
	if err != nil || next == nil {
		return false, err
	}
	return s.current.CompareAndSwap(cur, next), nil
}
