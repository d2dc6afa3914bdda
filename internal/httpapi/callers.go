package httpapi

import (
	"net/http"
	"strings"
)

// Callers identifies the service calling, by its API key.
type Callers interface {
	// Identify returns the name of the caller whose key this is.
	Identify(key string) (name string, ok bool)
}

// codeUnauthorized is the envelope's code for a request without the API
// key of a listed caller.
const codeUnauthorized = "unauthorized"

// requireCaller refuses a request that does not carry the API key of a
// listed caller (401, nothing decided, the body not even read) and names
// the caller in the request's state for the metrics and the log.
func requireCaller(s *server, callers Callers) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, given := bearerToken(r.Header.Get("Authorization"))
			name, known := callers.Identify(key)
			if !known {
				w.Header().Set("WWW-Authenticate", `Bearer realm="verdict"`)
				writeError(w, r, s.logger, unauthorized(given))
				return
			}
			if st := stateOf(r.Context()); st != nil {
				st.caller = name
			}
			next.ServeHTTP(w, r)
		})
	}
}

// requireClientCert refuses a request whose connection did not present a
// client certificate that verified against the client CAs (mutual TLS);
// the handshake already refused one that does not verify.
func requireClientCert(s *server) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
				writeError(w, r, s.logger, &Error{
					Status: http.StatusUnauthorized, Code: codeUnauthorized,
					Message: "this route needs a client certificate from a trusted CA",
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func unauthorized(keyGiven bool) *Error {
	message := "this route needs a caller's API key: Authorization: Bearer <key>"
	if keyGiven {
		message = "the API key is not one of a listed caller"
	}
	return &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: message}
}

// bearerToken returns the credentials of an "Authorization: Bearer ..."
// header (the scheme is case-insensitive, as RFC 9110 has it).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
