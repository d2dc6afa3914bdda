package authn_test

import (
	"context"
	"strings"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestAuthenticateRejectsCriticalHeaders: RFC 7515 §4.1.11 makes a token
// invalid when its crit header lists an extension the recipient does not
// understand, and Verdict understands none. A crit that is not a non-empty
// array of extension names is malformed. Every token here carries a good
// signature by the key set's own key.
func TestAuthenticateRejectsCriticalHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		header map[string]any // added to a valid header
		want   string         // in the message; empty: accepted
	}{
		{name: "no crit", header: map[string]any{"zzz": 1}},
		{name: "unknown extension", header: map[string]any{"zzz": 1, "crit": []string{"zzz"}}, want: "does not support"},
		{name: "unencoded payload (RFC 7797)", header: map[string]any{"b64": false, "crit": []string{"b64"}}, want: "does not support"},
		{name: "extension not present", header: map[string]any{"crit": []string{"exp"}}, want: "does not support"},
		{name: "empty list", header: map[string]any{"crit": []string{}}, want: "non-empty array"},
		{name: "null", header: map[string]any{"crit": nil}, want: "non-empty array"},
		{name: "a string", header: map[string]any{"b64": false, "crit": "b64"}, want: "non-empty array"},
		{name: "an object", header: map[string]any{"crit": map[string]any{"b64": true}}, want: "non-empty array"},
		{name: "a number in the list", header: map[string]any{"zzz": 1, "crit": []any{"zzz", 1}}, want: "non-empty array"},
		{name: "registered alg", header: map[string]any{"crit": []string{"alg"}}, want: "RFC 7515 defines"},
		{name: "registered kid after an extension", header: map[string]any{"zzz": 1, "crit": []string{"zzz", "kid"}}, want: "RFC 7515 defines"},
	}
	v := verifier(f.jwks, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := f.sign(t, func(h map[string]any) {
				for k, val := range tt.header {
					h[k] = val
				}
			}, nil)
			p, err := principalOf(v.Authenticate(context.Background(), token))
			if tt.want == "" {
				if err != nil || !p.Authenticated {
					t.Fatalf("Authenticate() = %+v, %v; want accepted", p, err)
				}
				return
			}
			checkRejection(t, err, authz.ReasonTokenInvalid, token)
			if te, _ := authz.AsTokenError(err); te != nil && (!strings.Contains(te.Message, "crit") || !strings.Contains(te.Message, tt.want)) {
				t.Errorf("Message = %q, want it to name crit and say %q", te.Message, tt.want)
			}
		})
	}
}

// TestAuthenticateRejectsNonCanonicalBase64: each segment has one spelling.
// Padding, and set bits in the unused tail of the last character, give
// other token strings for the same bytes; every such token, though signed
// by the key set's own key over exactly what it holds, is token_invalid.
func TestAuthenticateRejectsNonCanonicalBase64(t *testing.T) {
	t.Parallel()
	key, keys := newRSAKey(t)
	canonical, variants := respelledTokens(t, key)
	v := verifier(keys, nil)
	if _, err := v.Authenticate(context.Background(), canonical); err != nil {
		t.Fatalf("Authenticate(canonical token) error = %v", err)
	}
	if n := len(variants); n != 4+3*15 {
		t.Fatalf("built %d variants, want 4 padded and 15 respelled tails per segment", n)
	}
	for name, token := range variants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if token == canonical {
				t.Fatal("variant is the canonical token")
			}
			_, err := v.Authenticate(context.Background(), token)
			checkRejection(t, err, authz.ReasonTokenInvalid, token)
			if te, _ := authz.AsTokenError(err); te != nil && !strings.Contains(te.Message, "canonical unpadded base64url") {
				t.Errorf("Message = %q, want it to say which segment is not canonical base64url", te.Message)
			}
		})
	}
}
