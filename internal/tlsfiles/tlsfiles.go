// Package tlsfiles serves TLS from PEM files that are re-read when they
// change, so that a certificate renewed on disk (cert-manager, a mounted
// Secret) is served without a restart, and can require client
// certificates signed by a CA file (mutual TLS).
package tlsfiles

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/verdict-pdp/verdict/internal/filewatch"
)

// Options name the files.
type Options struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, is a PEM bundle of the CAs whose client
	// certificates are accepted.
	ClientCAFile string
	Logger       *slog.Logger
	// OnReload, when set, is told whether each change to the files was
	// applied (nil) or refused (the files in force stay).
	OnReload func(error)
}

// Files is a certificate, its key and the client CAs in force.
type Files struct {
	opts      Options
	cert      atomic.Pointer[tls.Certificate]
	clientCAs atomic.Pointer[x509.CertPool]
	inForce   filewatch.Sum // the contents read at Load
}

// material is one reading of the files.
type material struct {
	cert      *tls.Certificate
	clientCAs *x509.CertPool
}

// Load reads the files; any that cannot be read or parsed is an error.
func Load(opts Options) (*Files, error) {
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("TLS needs both a certificate file and a key file")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Files{opts: opts}
	data, err := f.contents()
	if err != nil {
		return nil, err
	}
	m, err := f.read()
	if err != nil {
		return nil, err
	}
	f.apply(m)
	f.inForce = filewatch.SumOf(data)
	return f, nil
}

// Config is the server's TLS configuration: TLS 1.2 at least, HTTP/2 and
// HTTP/1.1, the certificate in force, and with a client CA file a client
// certificate verified against the CAs in force whenever one is given (a
// certificate that does not verify ends the handshake). Whether a route
// requires one is the HTTP layer's call: the kubelet's probes present
// none.
func (f *Files) Config() *tls.Config {
	base := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return f.cert.Load(), nil
		},
	}
	if f.opts.ClientCAFile == "" {
		return base
	}
	base.ClientAuth = tls.VerifyClientCertIfGiven
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs = f.clientCAs.Load()
		return c, nil
	}
	return base
}

// Watch follows the files until ctx ends (filewatch: a change applies
// once two polls in a row read it, so a certificate written before its key
// is not refused half-way).
func (f *Files) Watch(ctx context.Context, interval time.Duration) {
	filewatch.Watcher{Read: f.contents, Changed: f.reload, Failed: f.refuse}.Watch(ctx, interval, f.inForce)
}

// reload parses the files anew and puts them in force, or refuses them.
func (f *Files) reload([]byte) {
	m, err := f.read()
	if err != nil {
		f.refuse(err)
		return
	}
	f.apply(m)
	f.opts.Logger.Info("TLS files reloaded", "cert_file", f.opts.CertFile, "not_after", m.cert.Leaf.NotAfter)
	if f.opts.OnReload != nil {
		f.opts.OnReload(nil)
	}
}

func (f *Files) refuse(err error) {
	f.opts.Logger.Error("TLS files refused; the ones in force stay", "error", err)
	if f.opts.OnReload != nil {
		f.opts.OnReload(err)
	}
}

func (f *Files) apply(m material) {
	f.cert.Store(m.cert)
	if m.clientCAs != nil {
		f.clientCAs.Store(m.clientCAs)
	}
}

// paths are the files in the order they are hashed.
func (f *Files) paths() []string {
	p := []string{f.opts.CertFile, f.opts.KeyFile}
	if f.opts.ClientCAFile != "" {
		p = append(p, f.opts.ClientCAFile)
	}
	return p
}

// contents reads every file, each prefixed with its length, to see a
// change.
func (f *Files) contents() ([]byte, error) {
	var all []byte
	for _, p := range f.paths() {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		all = append(fmt.Appendf(all, "%d:", len(b)), b...)
	}
	return all, nil
}

// read parses the files.
func (f *Files) read() (material, error) {
	cert, err := tls.LoadX509KeyPair(f.opts.CertFile, f.opts.KeyFile)
	if err != nil {
		return material{}, fmt.Errorf("load the TLS certificate %s and key %s: %w", f.opts.CertFile, f.opts.KeyFile, err)
	}
	m := material{cert: &cert}
	if f.opts.ClientCAFile != "" {
		pem, err := os.ReadFile(f.opts.ClientCAFile)
		if err != nil {
			return material{}, fmt.Errorf("read the client CA file: %w", err)
		}
		m.clientCAs = x509.NewCertPool()
		if !m.clientCAs.AppendCertsFromPEM(pem) {
			return material{}, fmt.Errorf("the client CA file %s holds no PEM certificate", f.opts.ClientCAFile)
		}
	}
	return m, nil
}
