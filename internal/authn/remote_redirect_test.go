package authn_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authn"
)

// redirectWorld is a set of real HTTP and HTTPS servers behind made-up
// host names: its client dials every name to the local server for the
// port's scheme, and the test certificate covers *.example.com. Every
// request is recorded as scheme://host/path; a path in redirects answers
// 302 to its location, any other serves the JWKS.
type redirectWorld struct {
	plain, tls *httptest.Server
	redirects  map[string]string

	mu   sync.Mutex
	hits []string
}

func newRedirectWorld(t *testing.T, jwks []byte, redirects map[string]string) *redirectWorld {
	t.Helper()
	w := &redirectWorld{redirects: redirects}
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		at := scheme + "://" + r.Host + r.URL.Path
		w.mu.Lock()
		w.hits = append(w.hits, at)
		w.mu.Unlock()
		if to, ok := w.redirects[at]; ok {
			http.Redirect(rw, r, to, http.StatusFound)
			return
		}
		_, _ = rw.Write(jwks)
	})
	w.plain = httptest.NewServer(handler)
	w.tls = httptest.NewTLSServer(handler)
	t.Cleanup(w.plain.Close)
	t.Cleanup(w.tls.Close)
	return w
}

// client dials port 443 and 8443 to the HTTPS server, anything else to
// the HTTP one, whatever the host name.
func (w *redirectWorld) client() *http.Client {
	transport := w.tls.Client().Transport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := w.plain.Listener.Addr().String()
		if strings.HasSuffix(addr, ":443") || strings.HasSuffix(addr, ":8443") {
			target = w.tls.Listener.Addr().String()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
	return &http.Client{Transport: transport}
}

func (w *redirectWorld) requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.hits...)
}

// TestRemoteJWKSRedirects: a JWKS or Backend API fetch follows a redirect
// only within the same host and scheme, or from http to https on the same
// host, and at most three times. A refused redirect is never requested, so
// the Backend API secret never reaches another host or travels in clear.
func TestRemoteJWKSRedirects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const (
		plain  = "http://jwks.example.com"
		secure = "https://jwks.example.com"
	)
	tests := []struct {
		name      string
		start     string
		redirects map[string]string
		want      []string // requests made, in order
		wantErr   bool
	}{
		{
			name:      "same host and scheme",
			start:     secure + "/v1/jwks",
			redirects: map[string]string{secure + "/v1/jwks": "/v1/jwks/"},
			want:      []string{secure + "/v1/jwks", secure + "/v1/jwks/"},
		},
		{
			name:      "same host over http",
			start:     plain + "/jwks",
			redirects: map[string]string{plain + "/jwks": plain + "/keys"},
			want:      []string{plain + "/jwks", plain + "/keys"},
		},
		{
			name:      "http to https on the same host",
			start:     plain + "/jwks",
			redirects: map[string]string{plain + "/jwks": secure + "/jwks"},
			want:      []string{plain + "/jwks", secure + "/jwks"},
		},
		{
			name:      "explicit default port",
			start:     secure + "/jwks",
			redirects: map[string]string{secure + "/jwks": secure + ":443/keys"},
			want:      []string{secure + "/jwks", secure + ":443/keys"},
		},
		{
			name:  "three hops",
			start: secure + "/1",
			redirects: map[string]string{
				secure + "/1": "/2", secure + "/2": "/3", secure + "/3": "/jwks",
			},
			want: []string{secure + "/1", secure + "/2", secure + "/3", secure + "/jwks"},
		},
		{
			name:      "https to http on the same host",
			start:     secure + "/v1/jwks",
			redirects: map[string]string{secure + "/v1/jwks": plain + "/v1/jwks"},
			want:      []string{secure + "/v1/jwks"},
			wantErr:   true,
		},
		{
			name:      "another host over https",
			start:     secure + "/v1/jwks",
			redirects: map[string]string{secure + "/v1/jwks": "https://evil.example.com/v1/jwks"},
			want:      []string{secure + "/v1/jwks"},
			wantErr:   true,
		},
		{
			name:      "a subdomain, which Go would send the secret to",
			start:     "https://example.com/v1/jwks",
			redirects: map[string]string{"https://example.com/v1/jwks": "https://evil.example.com/v1/jwks"},
			want:      []string{"https://example.com/v1/jwks"},
			wantErr:   true,
		},
		{
			name:      "another host over http",
			start:     plain + "/jwks",
			redirects: map[string]string{plain + "/jwks": "http://evil.example.com/jwks"},
			want:      []string{plain + "/jwks"},
			wantErr:   true,
		},
		{
			name:      "another port",
			start:     secure + "/jwks",
			redirects: map[string]string{secure + "/jwks": secure + ":8443/jwks"},
			want:      []string{secure + "/jwks"},
			wantErr:   true,
		},
		{
			name:  "back to the same host after another",
			start: plain + "/jwks",
			redirects: map[string]string{
				plain + "/jwks": "https://evil.example.com/bounce", "https://evil.example.com/bounce": secure + "/jwks",
			},
			want:    []string{plain + "/jwks"},
			wantErr: true,
		},
		{
			name:  "four hops",
			start: secure + "/1",
			redirects: map[string]string{
				secure + "/1": "/2", secure + "/2": "/3", secure + "/3": "/4", secure + "/4": "/jwks",
			},
			want:    []string{secure + "/1", secure + "/2", secure + "/3", secure + "/4"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newRedirectWorld(t, f.iss.JWKS(), tt.redirects)
			r := authn.NewRemoteJWKS(authn.RemoteOptions{
				URL:    tt.start,
				Header: http.Header{"Authorization": {"Bearer " + testSecret}},
				Client: w.client(),
			})
			err := r.Refresh(context.Background())
			if (err != nil) != tt.wantErr {
				t.Errorf("Refresh() error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("Refresh() error %q holds the secret", err)
			}
			if got := w.requests(); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("requests = %v, want %v", got, tt.want)
			}
			if r.Ready() == tt.wantErr {
				t.Errorf("Ready() = %v, want %v", r.Ready(), !tt.wantErr)
			}
		})
	}
}

// TestRemoteJWKSDefaultClientRefusesRedirects checks the policy on the
// client NewRemoteJWKS builds itself: two local servers on different ports
// are different origins.
func TestRemoteJWKSDefaultClientRefusesRedirects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := newJWKSServer(t, f.iss.JWKS())
	start := httptest.NewServer(http.RedirectHandler(other.URL+"/jwks", http.StatusFound))
	t.Cleanup(start.Close)
	r := authn.NewRemoteJWKS(authn.RemoteOptions{URL: start.URL, Header: http.Header{"Authorization": {"Bearer " + testSecret}}})
	if err := r.Refresh(context.Background()); err == nil {
		t.Error("Refresh() error = nil, want the redirect to another port refused")
	}
	if got := other.hits.Load(); got != 0 {
		t.Errorf("redirect target got %d requests, want 0", got)
	}
}

// TestRemoteJWKSKeepsTheCallersRedirectPolicy: a client's own CheckRedirect
// still runs after Verdict's, and the caller's client is not changed.
func TestRemoteJWKSKeepsTheCallersRedirectPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const start = "https://jwks.example.com/jwks"
	w := newRedirectWorld(t, f.iss.JWKS(), map[string]string{start: "/keys"})
	client := w.client()
	var asked int
	client.CheckRedirect = func(*http.Request, []*http.Request) error {
		asked++
		return http.ErrUseLastResponse
	}
	r := authn.NewRemoteJWKS(authn.RemoteOptions{URL: start, Client: client})
	if err := r.Refresh(context.Background()); err == nil {
		t.Error("Refresh() error = nil, want the 302 the caller's policy stopped at")
	}
	if asked != 1 {
		t.Errorf("caller's CheckRedirect ran %d times, want 1", asked)
	}
	if got := w.requests(); len(got) != 1 {
		t.Errorf("requests = %v, want only the first", got)
	}
}
