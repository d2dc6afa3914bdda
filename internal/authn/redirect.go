package authn

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects bounds the redirects one fetch follows. Clerk answers
// without any; a few hops leave room for a proxy that adds a slash.
const maxRedirects = 3

// withRedirectPolicy returns a copy of c that follows a redirect only when
// checkRedirect allows it, and then asks c's own policy, if any.
func withRedirectPolicy(c *http.Client) *http.Client {
	copied := *c
	own := c.CheckRedirect
	copied.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRedirect(req, via); err != nil {
			return err
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	return &copied
}

// checkRedirect refuses redirects that would send a fetch (and with it the
// Backend API's secret key) to another host, or over plain http once it
// went over https. Go's client would drop the Authorization header for
// another domain, but not for a downgrade, and not for a subdomain; and
// keys from another host must not be trusted in any case. Every hop is
// compared with the one before, so a chain cannot wander off step by step.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if !sameHostRedirect(via[len(via)-1].URL, req.URL) {
		// The client's error names the refused location.
		return errors.New("refused a redirect to another host or port, or from https to http")
	}
	return nil
}

// sameHostRedirect allows the same scheme, host and port, or an upgrade
// from http to https on the same host name (whose port then changes).
func sameHostRedirect(from, to *url.URL) bool {
	if !strings.EqualFold(from.Hostname(), to.Hostname()) {
		return false
	}
	switch {
	case from.Scheme == to.Scheme:
		return port(from) == port(to)
	case from.Scheme == "http" && to.Scheme == "https":
		return true
	}
	return false
}

// port is u's port, or its scheme's default, so that host and host:443
// compare equal.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
