package bundle_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"testing"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

// TestVerify signs a policy directory as `opa build --signing-key` does,
// with RS256 and ES256, and checks that with a key configured only the
// untouched bundle signed with that key is accepted, each refusal saying
// which check failed and for which file.
func TestVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			dir := policyDir(t)
			key, other := newSigner(t, alg), newSigner(t, alg)
			signed := build(t, dir, &key, "r1")
			replace := func(name, data string) func([]tarFile) []tarFile {
				return func(files []tarFile) []tarFile {
					for i := range files {
						if files[i].name == name {
							files[i].data = data
						}
					}
					return files
				}
			}
			tests := []struct {
				name     string
				raw      []byte
				key      *bundle.VerificationKey
				want     bundle.SignatureProblem // "" for accepted
				wantFile string
			}{
				{name: "signed", raw: signed, key: key.key},
				{name: "no key configured", raw: signed},
				{name: "unsigned", raw: build(t, dir, nil, "r1"), key: key.key, want: bundle.Unsigned},
				{name: "signed with another key", raw: build(t, dir, &other, "r1"), key: key.key, want: bundle.BadSignature},
				{
					name: "a rule changed after signing",
					raw:  rewrite(t, signed, replace("/acme/tasks.rego", "package verdict.rules.tasks\n\nactions := {}\n")),
					key:  key.key, want: bundle.Tampered, wantFile: "acme/tasks.rego",
				},
				{
					name: "data changed after signing",
					raw:  rewrite(t, signed, replace("/data.json", `{"verdict": {}}`)),
					key:  key.key, want: bundle.Tampered, wantFile: "data.json",
				},
				{
					name: "the library copy changed after signing",
					raw:  rewrite(t, signed, replace("/.verdict-builtin/clerk.rego", "package verdict.clerk\n")),
					key:  key.key, want: bundle.Tampered, wantFile: ".verdict-builtin/clerk.rego",
				},
				{
					name: "a file added after signing",
					raw: rewrite(t, signed, func(files []tarFile) []tarFile {
						return append(files, tarFile{name: "/acme/extra.rego", data: "package verdict.rules.extra\n"})
					}),
					key: key.key, want: bundle.Uncovered, wantFile: "acme/extra.rego",
				},
				{
					name: "a file OPA ignores added after signing",
					raw: rewrite(t, signed, func(files []tarFile) []tarFile {
						return append(files, tarFile{name: "/README.md", data: "anything"})
					}),
					key: key.key, want: bundle.Uncovered, wantFile: "README.md",
				},
				{
					name: "a file removed after signing",
					raw: rewrite(t, signed, func(files []tarFile) []tarFile {
						return slices.DeleteFunc(files, func(f tarFile) bool { return f.name == "/acme/tasks.rego" })
					}),
					key: key.key, want: bundle.Missing, wantFile: "acme/tasks.rego",
				},
				{
					name: "the signatures removed",
					raw: rewrite(t, signed, func(files []tarFile) []tarFile {
						return slices.DeleteFunc(files, func(f tarFile) bool { return f.name == "/.signatures.json" })
					}),
					key: key.key, want: bundle.Unsigned,
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					b, err := bundle.Parse(tt.raw, bundle.ReadOptions{Key: tt.key})
					if tt.want == "" {
						if err != nil {
							t.Fatalf("Parse: %v", err)
						}
						if b.Revision() != "r1" {
							t.Errorf("Revision = %q, want r1", b.Revision())
						}
						return
					}
					var ve *bundle.VerificationError
					if !errors.As(err, &ve) {
						t.Fatalf("Parse = %v, want a *VerificationError", err)
					}
					if ve.Problem != tt.want || ve.File != tt.wantFile {
						t.Errorf("Parse = %v (%s, %q), want %s for %q", err, ve.Problem, ve.File, tt.want, tt.wantFile)
					}
				})
			}
		})
	}
}

// TestParseVerificationKey: a PEM public key gives its algorithm; keys
// that cannot verify RS256 or ES256, or are not public keys, are refused.
func TestParseVerificationKey(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	shortRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pem     []byte
		wantAlg string // "" for refused
	}{
		{"RSA", publicPEM(t, &rsaKey.PublicKey), "RS256"},
		{"RSA, PKCS #1", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}), "RS256"},
		{"ECDSA P-256", publicPEM(t, &p256.PublicKey), "ES256"},
		{"ECDSA P-384", publicPEM(t, &p384.PublicKey), ""},
		{"RSA of 1024 bits", publicPEM(t, &shortRSA.PublicKey), ""},
		{"a private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), ""},
		{"not PEM", []byte("ssh-rsa AAAA"), ""},
		{"a bad public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := bundle.ParseVerificationKey(tt.pem)
			switch {
			case tt.wantAlg == "" && err == nil:
				t.Errorf("ParseVerificationKey = %s key, want an error", k.Algorithm())
			case tt.wantAlg != "" && err != nil:
				t.Errorf("ParseVerificationKey: %v", err)
			case tt.wantAlg != "" && k.Algorithm() != tt.wantAlg:
				t.Errorf("Algorithm = %s, want %s", k.Algorithm(), tt.wantAlg)
			}
		})
	}
}
