package devtoken_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/devtoken"
)

func newIssuer(t *testing.T) *devtoken.Issuer {
	t.Helper()
	iss, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	return iss
}

// segment decodes part i of a compact token as a JSON object.
func segment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decode part %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("part %d is not a JSON object: %v", i, err)
	}
	return m
}

func TestIssuerPublishesItsKey(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	if !strings.HasPrefix(iss.KeyID(), "dev-") || len(iss.KeyID()) != len("dev-")+16 {
		t.Errorf("KeyID() = %q, want dev-<16 hex digits>", iss.KeyID())
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil {
		t.Fatalf("JWKS() is not JSON: %v", err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS() has %d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	want := map[string]string{"kty": "RSA", "kid": iss.KeyID(), "use": "sig", "alg": "RS256", "e": "AQAB", "n": k["n"]}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("JWKS() key mismatch (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(string(iss.PublicKeyPEM()), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("PublicKeyPEM() = %q, want a PUBLIC KEY block", iss.PublicKeyPEM())
	}
	if a, b := iss.JWKS(), iss.JWKS(); &a[0] == &b[0] {
		t.Error("JWKS() returns shared memory; want a copy")
	}
}

func TestSignVerifiesWithJWKSAndPEM(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	now := time.Unix(1_800_000_000, 0)
	token, err := iss.Mint(devtoken.TokenRequest{UserID: "user_1"}, now)
	if err != nil {
		t.Fatalf("Mint() error = %v", err)
	}
	if diff := cmp.Diff(map[string]any{"alg": "RS256", "kid": iss.KeyID(), "typ": "JWT"}, segment(t, token, 0)); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	jwks, err := authn.ParseJWKS(iss.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS(JWKS()) error = %v", err)
	}
	pem, err := authn.ParsePEM(iss.PublicKeyPEM())
	if err != nil {
		t.Fatalf("ParsePEM(PublicKeyPEM()) error = %v", err)
	}
	for name, keys := range map[string]authn.KeySet{"jwks": jwks, "pem": pem} {
		v := authn.NewVerifier(authn.Config{Keys: keys, Issuer: devtoken.IssuerURL, Now: func() time.Time { return now }})
		got, err := v.Authenticate(context.Background(), token)
		if err != nil || got.Principal.UserID != "user_1" {
			t.Errorf("%s: Authenticate() = %q, %v; want user_1, nil", name, got.Principal.UserID, err)
		}
	}
}

func TestSignWithHeaderUsesHeaderVerbatim(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	header := map[string]any{"alg": "HS256", "kid": "other", "cat": "cl_B7d4PD222AAA"}
	token, err := iss.SignWithHeader(header, map[string]any{"sub": "user_1"})
	if err != nil {
		t.Fatalf("SignWithHeader() error = %v", err)
	}
	if diff := cmp.Diff(header, segment(t, token, 0)); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"sub": "user_1"}, segment(t, token, 1)); diff != "" {
		t.Errorf("claims mismatch (-want +got):\n%s", diff)
	}
}

func TestSignRejectsUnencodableClaims(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	if _, err := iss.Sign(map[string]any{"bad": make(chan int)}); err == nil {
		t.Error("Sign(chan claim) error = nil, want an encoding error")
	}
}
