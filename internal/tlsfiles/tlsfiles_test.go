package tlsfiles_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/testcerts"
	"github.com/verdict-pdp/verdict/internal/tlsfiles"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serve serves 200s over TLS with cfg on loopback and returns its URL.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Verified-Chains", strconv.Itoa(len(r.TLS.VerifiedChains)))
	}), TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// client trusts ca and presents cert (when given); it opens a connection
// per request, so each sees the certificate in force.
func client(ca *testcerts.Authority, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

func servedSerial(t *testing.T, c *http.Client, url string) (int64, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
}

// TestCertificateRenewedOnDisk: a certificate replaced on disk is served
// to the next connection; a broken replacement is refused and the one in
// force keeps serving.
func TestCertificateRenewedOnDisk(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewAuthority(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c, k := ca.Server(t, 100)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)

	var mu sync.Mutex
	var reloads []error
	files, err := tlsfiles.Load(tlsfiles.Options{CertFile: certFile, KeyFile: keyFile, OnReload: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reloads = append(reloads, err)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); files.Watch(ctx, 5*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	url, cl := serve(t, files.Config()), client(ca, nil)

	if serial, err := servedSerial(t, cl, url); err != nil || serial != 100 {
		t.Fatalf("served serial %d, %v; want 100", serial, err)
	}
	c, k = ca.Server(t, 101)
	writeFile(t, keyFile, k)
	writeFile(t, certFile, c)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if serial, err := servedSerial(t, cl, url); err == nil && serial == 101 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was never served: serial %d, %v", serial, err)
		}
	}

	writeFile(t, certFile, []byte("not a certificate"))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		refused := len(reloads) > 0 && reloads[len(reloads)-1] != nil
		mu.Unlock()
		if refused {
			break
		} else if time.Now().After(deadline) {
			t.Fatal("a broken certificate file was never reported")
		}
	}
	if serial, err := servedSerial(t, cl, url); err != nil || serial != 101 {
		t.Errorf("after a broken renewal, served serial %d, %v; want 101 still", serial, err)
	}
}

// mutualTLS serves with a client CA file: it returns the URL, the CA of
// the server's certificate and the client CA.
func mutualTLS(t *testing.T) (url string, serverCA, clientCA *testcerts.Authority) {
	t.Helper()
	serverCA, clientCA = testcerts.NewAuthority(t, "server CA"), testcerts.NewAuthority(t, "client CA")
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	c, k := serverCA.Server(t, 1)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)
	writeFile(t, caFile, clientCA.PEM)
	files, err := tlsfiles.Load(tlsfiles.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, files.Config()), serverCA, clientCA
}

// TestClientCertificates: with a client CA file, a certificate from the
// client CA is verified, and a client without one (or with one from
// another CA) is served unverified: the HTTP layer decides which routes
// need one.
func TestClientCertificates(t *testing.T) {
	t.Parallel()
	url, serverCA, clientCA := mutualTLS(t)
	otherCA := testcerts.NewAuthority(t, "other CA")
	keyPair := func(a *testcerts.Authority) *tls.Certificate {
		pair := a.Client(t, 7)
		return &pair
	}
	for _, tc := range []struct {
		name         string
		cert         *tls.Certificate
		ok, verified bool
	}{
		{"no client certificate", nil, true, false},
		// Go's client offers only a certificate the server's CAs issued.
		{"a certificate from another CA", keyPair(otherCA), true, false},
		{"a certificate from the client CA", keyPair(clientCA), true, true},
	} {
		resp, err := client(serverCA, tc.cert).Get(url)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if err == nil {
			resp.Body.Close()
			if got := resp.Header.Get("X-Verified-Chains") == "1"; got != tc.verified {
				t.Errorf("%s: verified %v, want %v", tc.name, got, tc.verified)
			}
		}
	}
}

// TestForeignClientCertificateRefused: a client that presents a
// certificate no client CA issued is refused at the handshake.
func TestForeignClientCertificateRefused(t *testing.T) {
	t.Parallel()
	url, serverCA, _ := mutualTLS(t)
	foreign := testcerts.NewAuthority(t, "other CA").Client(t, 9)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:              serverCA.Pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil },
	}}}
	if resp, err := c.Get(url); err == nil {
		resp.Body.Close()
		t.Error("a client certificate from another CA was accepted")
	}
}

func TestLoadRefusesWhatIsNotAPair(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewAuthority(t, "test CA")
	dir := t.TempDir()
	c, _ := ca.Server(t, 1)
	_, otherKey := ca.Server(t, 2)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, c)
	writeFile(t, keyFile, otherKey)
	if _, err := tlsfiles.Load(tlsfiles.Options{CertFile: certFile, KeyFile: keyFile}); err == nil {
		t.Error("a certificate with another certificate's key loaded")
	}
	c, k := ca.Server(t, 3)
	writeFile(t, certFile, c)
	writeFile(t, keyFile, k)
	writeFile(t, filepath.Join(dir, "ca.crt"), []byte("no PEM here"))
	if _, err := tlsfiles.Load(tlsfiles.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: filepath.Join(dir, "ca.crt")}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a client CA file without a certificate: %v", err)
	}
}
