package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
)

// jwkJSON returns the JWK of raw with the given fields set.
func jwkJSON(t *testing.T, raw any, fields map[string]any) json.RawMessage {
	t.Helper()
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatalf("jwk.FromRaw() error = %v", err)
	}
	for name, v := range fields {
		if err := k.Set(name, v); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatalf("json.Marshal(jwk) error = %v", err)
	}
	return b
}

func jwksOf(t *testing.T, keys ...json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatalf("json.Marshal(jwks) error = %v", err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	smallKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := jwkJSON(t, &rsaKey.PublicKey, map[string]any{"kid": "good", "use": "sig", "alg": "RS256"})
	tests := []struct {
		name     string
		jwks     []byte
		wantKIDs []string // kids that must resolve; nil with wantErr
		wantErr  bool
	}{
		{name: "one RSA key", jwks: jwksOf(t, good), wantKIDs: []string{"good"}},
		{name: "single JWK without set", jwks: good, wantKIDs: []string{"good"}},
		{name: "private JWK yields its public half", jwks: jwksOf(t, jwkJSON(t, rsaKey, map[string]any{"kid": "priv"})), wantKIDs: []string{"priv"}},
		{name: "no use and no alg", jwks: jwksOf(t, jwkJSON(t, &rsaKey.PublicKey, map[string]any{"kid": "bare"})), wantKIDs: []string{"bare"}},
		{name: "non-RSA and non-sig keys skipped", jwks: jwksOf(t,
			jwkJSON(t, &ecKey.PublicKey, map[string]any{"kid": "ec"}),
			jwkJSON(t, &rsaKey.PublicKey, map[string]any{"kid": "enc", "use": "enc"}),
			jwkJSON(t, &rsaKey.PublicKey, map[string]any{"kid": "ps", "alg": "PS256"}),
			jwkJSON(t, &smallKey.PublicKey, map[string]any{"kid": "small"}),
			good,
		), wantKIDs: []string{"good"}},
		{name: "unparsable key beside a good one", jwks: jwksOf(t, json.RawMessage(`{"kty":"EC","crv":"P-999","kid":"odd"}`), good), wantKIDs: []string{"good"}},
		{name: "only unusable keys", jwks: jwksOf(t, jwkJSON(t, &ecKey.PublicKey, map[string]any{"kid": "ec"})), wantErr: true},
		{name: "key without kid", jwks: jwksOf(t, jwkJSON(t, &rsaKey.PublicKey, nil)), wantErr: true},
		{name: "empty set", jwks: []byte(`{"keys":[]}`), wantErr: true},
		{name: "not JSON", jwks: []byte(`<html>`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := authn.ParseJWKS(tt.jwks)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseJWKS() error = nil, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseJWKS() error = %v", err)
			}
			for _, kid := range tt.wantKIDs {
				if k, err := keys.Key(context.Background(), kid); err != nil || k.N.Cmp(rsaKey.N) != 0 {
					t.Errorf("Key(%q) = %v, %v; want the RSA key", kid, k, err)
				}
			}
			for _, kid := range []string{"ec", "enc", "ps", "small", "missing", ""} {
				if _, err := keys.Key(context.Background(), kid); !errors.Is(err, authn.ErrUnknownKey) {
					t.Errorf("Key(%q) error = %v, want ErrUnknownKey", kid, err)
				}
			}
			if !keys.Ready() {
				t.Error("Ready() = false, want true")
			}
		})
	}
}

func TestLoadJWKSFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, f.iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := authn.LoadJWKSFile(path)
	if err != nil {
		t.Fatalf("LoadJWKSFile() error = %v", err)
	}
	if _, err := keys.Key(context.Background(), f.iss.KeyID()); err != nil {
		t.Errorf("Key(%q) error = %v", f.iss.KeyID(), err)
	}
	if _, err := authn.LoadJWKSFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadJWKSFile(missing) error = nil, want an error")
	}
}

func TestParsePEM(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkix := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	clerkPEM := pkix(&key.PublicKey)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)}))
	private := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	tests := []struct {
		name    string
		pem     string
		wantErr bool
	}{
		{name: "PKIX", pem: clerkPEM},
		{name: "PKCS1", pem: pkcs1},
		{name: "escaped newlines", pem: strings.ReplaceAll(strings.TrimSpace(clerkPEM), "\n", `\n`)},
		{name: "escaped CRLF", pem: strings.ReplaceAll(clerkPEM, "\n", `\r\n`)},
		{name: "one line", pem: strings.ReplaceAll(clerkPEM, "\n", " ")},
		{name: "surrounding whitespace", pem: "\n  " + clerkPEM + "\n\n"},
		{name: "private key", pem: private, wantErr: true},
		{name: "EC key", pem: pkix(&ecKey.PublicKey), wantErr: true},
		{name: "1024-bit key", pem: pkix(&small.PublicKey), wantErr: true},
		{name: "garbage", pem: "not a key", wantErr: true},
		{name: "corrupt body", pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := authn.ParsePEM([]byte(tt.pem))
			if tt.wantErr {
				if err == nil {
					t.Fatal("ParsePEM() error = nil, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePEM() error = %v", err)
			}
			for _, kid := range []string{"", "ins_any", "dev-1"} {
				if k, err := keys.Key(context.Background(), kid); err != nil || k.N.Cmp(key.N) != 0 {
					t.Errorf("Key(%q) = %v, %v; want the PEM key whatever the kid", kid, k, err)
				}
			}
		})
	}
}

func TestEmptyStaticKeys(t *testing.T) {
	t.Parallel()
	var keys authn.StaticKeys
	if _, err := keys.Key(context.Background(), "kid"); !errors.Is(err, authz.ErrNoKeys) {
		t.Errorf("Key() error = %v, want ErrNoKeys", err)
	}
	if keys.Ready() {
		t.Error("Ready() = true, want false")
	}
}
