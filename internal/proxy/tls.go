package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
)

// ClientTLS is a Service's tls block: what the gateway verifies an https
// upstream's certificate against, and the certificate it presents.
type ClientTLS struct {
	CAFile             string // verify against these CAs only; "" for the system roots
	CertFile, KeyFile  string // the gateway's client certificate, for mTLS; "" for none
	ServerName         string // sent as SNI and verified; "" for each target's host
	InsecureSkipVerify bool   // accept any certificate: encryption without authentication
}

// TLSFileError is a file of a ClientTLS that could not be loaded. Field is
// the setting that names it ("caFile", "certFile" or "keyFile"), so that a
// validator can point at it.
type TLSFileError struct {
	Field string
	Err   error
}

func (e *TLSFileError) Error() string { return "tls." + e.Field + ": " + e.Err.Error() }

func (e *TLSFileError) Unwrap() error { return e.Err }

// LoadTLS reads the files s names and returns the configuration for
// UpstreamConfig.TLS, with a digest of the settings and of the files'
// contents: connections made under one digest must not serve another (a
// reload that rotates a CA or a client certificate gets new connections).
// Its errors are *TLSFileError.
func LoadTLS(s ClientTLS) (cfg *tls.Config, digest string, err error) {
	h := sha256.New()
	add := func(tag byte, b []byte) {
		sum := sha256.Sum256(b)
		h.Write([]byte{tag})
		h.Write(sum[:])
	}
	add('n', []byte(s.ServerName))
	if s.InsecureSkipVerify {
		add('i', nil)
	}
	cfg = &tls.Config{ServerName: s.ServerName, InsecureSkipVerify: s.InsecureSkipVerify}
	if s.CAFile != "" {
		pem, err := readTLSFile("caFile", s.CAFile)
		if err != nil {
			return nil, "", err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", &TLSFileError{"caFile", errors.New(s.CAFile + " holds no PEM certificate")}
		}
		add('a', pem)
	}
	if s.CertFile != "" || s.KeyFile != "" {
		certPEM, err := readTLSFile("certFile", s.CertFile)
		if err != nil {
			return nil, "", err
		}
		keyPEM, err := readTLSFile("keyFile", s.KeyFile)
		if err != nil {
			return nil, "", err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, "", &TLSFileError{"certFile", errors.New(s.CertFile + " with key " + s.KeyFile + ": " + err.Error())}
		}
		cfg.Certificates = []tls.Certificate{pair}
		add('c', certPEM)
		add('k', keyPEM)
	}
	return cfg, hex.EncodeToString(h.Sum(nil)), nil
}

// readTLSFile reads the file of a ClientTLS field.
func readTLSFile(field, path string) ([]byte, error) {
	if path == "" {
		return nil, &TLSFileError{field, errors.New("not set")}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &TLSFileError{field, err}
	}
	return b, nil
}
