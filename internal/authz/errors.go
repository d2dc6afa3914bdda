package authz

import (
	"errors"
	"fmt"
)

// TokenError is why a session token was not accepted. Reason is one of
// ReasonTokenExpired, ReasonTokenInvalid or ReasonSessionPending; Message
// says which rule failed, in words safe to show the caller (it never holds
// the token). Err, when set, is the underlying cause, for logs only.
type TokenError struct {
	Reason  Reason
	Message string
	Err     error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Reason, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

func (e *TokenError) Unwrap() error { return e.Err }

// InvalidToken returns a TokenError with ReasonTokenInvalid.
func InvalidToken(message string, cause error) *TokenError {
	return &TokenError{Reason: ReasonTokenInvalid, Message: message, Err: cause}
}

// TokenExpired returns the TokenError of a token past its exp (and the
// leeway for clocks).
func TokenExpired() *TokenError {
	return &TokenError{Reason: ReasonTokenExpired, Message: "token is expired"}
}

// AsTokenError reports whether err is, or wraps, a *TokenError.
func AsTokenError(err error) (*TokenError, bool) {
	var te *TokenError
	ok := errors.As(err, &te)
	return te, ok
}

// ErrNoKeys means no verification key is available yet (for example the JWKS
// endpoint has never answered). It is an internal failure, not a bad token.
var ErrNoKeys = errors.New("no verification keys loaded")
