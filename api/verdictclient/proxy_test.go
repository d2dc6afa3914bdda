package verdictclient_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// script decides what a proxy does with attempt n (1 for the first
// request): answer it itself (and return true), or let it through to
// Verdict (false).
type script func(n int, w http.ResponseWriter, r *http.Request) bool

// proxy is a real HTTP server in front of a real Verdict, where a test
// counts the attempts, sees what reached Verdict, and makes some attempts
// fail.
type proxy struct {
	url string

	mu       sync.Mutex
	attempts int
	headers  []http.Header // of each request, as received
	echoed   []string      // Verdict's X-Request-Id on each answer it gave
}

func newProxy(t *testing.T, target string, s script) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		ModifyResponse: func(resp *http.Response) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.echoed = append(p.echoed, resp.Header.Get("X-Request-Id"))
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.attempts++
		n := p.attempts
		p.headers = append(p.headers, r.Header.Clone())
		p.mu.Unlock()
		if s == nil || !s(n, w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// seen returns the number of attempts, the headers of the last one and
// the request ids Verdict echoed.
func (p *proxy) seen() (attempts int, last http.Header, echoed []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.headers) > 0 {
		last = p.headers[len(p.headers)-1]
	}
	return p.attempts, last, append([]string(nil), p.echoed...)
}

// failFirst answers the first n attempts with status (and Retry-After when
// not empty), and lets the later ones through.
func failFirst(n, status int, retryAfter string) script {
	return func(i int, w http.ResponseWriter, _ *http.Request) bool {
		if i > n {
			return false
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		return true
	}
}

// statuses answers attempt i with codes[i-1] while there is one.
func statuses(codes ...int) script {
	return func(i int, w http.ResponseWriter, _ *http.Request) bool {
		if i > len(codes) {
			return false
		}
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(codes[i-1])
		return true
	}
}

// answer answers every attempt with status and a JSON body.
func answer(status int, body string) script {
	return func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// answerAs is answer with another Content-Type.
func answerAs(contentType string, status int, body string) script {
	return func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// redirectTo answers every attempt with a 307 to target, which a client
// that follows it would send the check to, token and API key included.
func redirectTo(target string) script {
	return func(_ int, w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
		return true
	}
}

// slowFirst holds each of the first n attempts for d (or until the caller
// gives up) before letting it through.
func slowFirst(n int, d time.Duration) script {
	return func(i int, _ http.ResponseWriter, r *http.Request) bool {
		if i > n {
			return false
		}
		// Read the body first: only then does the server watch the
		// connection, and end r's context when the caller hangs up.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return true
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(d):
			return false
		case <-r.Context().Done():
			return true
		}
	}
}

// hangUpFirst closes the connection of the first attempt without an
// answer (a connection error), and lets the later ones through.
func hangUpFirst(i int, w http.ResponseWriter, _ *http.Request) bool {
	if i > 1 {
		return false
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
	return true
}

// closedURL is the URL of a port on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
