package bundle_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"

	"github.com/verdict-pdp/verdict/internal/bundle"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// Where the repository keeps what the tests build bundles from.
const (
	shippedPolicies = "../../policies"
	teamRules       = "../../testdata/team"
	builtinLibrary  = "../policy/builtin"
)

// reportsRule is a team rule that calls the built-in library, as the
// policies README shows: what `opa build` cannot compile without it.
const reportsRule = `package verdict.rules.reports

import data.verdict.clerk

actions["reports:archive"] := {
	"description": "Archive a report: admins only.",
	"requires": [{"any_of": [{"role": "org:admin"}], "deny": "missing_role"}],
}

deny contains {"reason": "reverification_required", "message": answer.message} if {
	input.action == "reports:archive"
	answer := clerk.answer(input.principal, {"reverification": "strict"})
	not answer.result
}
`

// policyDir builds a Verdict policy directory in a temporary directory:
// the shipped policies, the acme team's rules, the reports rule above,
// and the built-in library written by WriteLibrary. It returns the
// directory, named "policies".
func policyDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policies")
	copyDir(t, shippedPolicies, dir)
	copyDir(t, teamRules, dir)
	writeFile(t, filepath.Join(dir, "reports", "reports.rego"), reportsRule)
	if err := bundle.WriteLibrary(dir, os.DirFS(builtinLibrary)); err != nil {
		t.Fatalf("WriteLibrary: %v", err)
	}
	return dir
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := fs.WalkDir(os.DirFS(from), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(to, name), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// signer is a key pair of one algorithm: the private key signs bundles
// the way `opa build --signing-key` does, the public one verifies them.
type signer struct {
	alg        string
	privatePEM string
	key        *bundle.VerificationKey
}

func newSigner(t *testing.T, alg string) signer {
	t.Helper()
	var (
		priv any
		pub  any
	)
	switch alg {
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	default:
		t.Fatalf("no key for %s", alg)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	key, err := bundle.ParseVerificationKey(publicPEM(t, pub))
	if err != nil {
		t.Fatalf("ParseVerificationKey: %v", err)
	}
	return signer{
		alg:        alg,
		privatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
		key:        key,
	}
}

func publicPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// build runs what `opa build -b policies [--signing-key ...] --revision
// revision` runs, from the parent of dir, and returns the bundle.
func build(t *testing.T, dir string, sign *signer, revision string) []byte {
	t.Helper()
	var out bytes.Buffer
	c := compile.New().
		WithAsBundle(true).
		WithRegoVersion(ast.RegoV1).
		WithFS(os.DirFS(filepath.Dir(dir))).
		WithPaths(filepath.Base(dir)).
		WithRevision(revision).
		WithOutput(&out)
	if sign != nil {
		c = c.WithBundleSigningConfig(opabundle.NewSigningConfig(sign.privatePEM, sign.alg, ""))
	}
	if err := c.Build(context.Background()); err != nil {
		t.Fatalf("opa build: %v", err)
	}
	return out.Bytes()
}

// tarFile is one entry of a hand-made or rewritten bundle archive.
type tarFile struct {
	name string
	data string
	kind byte // tar.TypeReg when zero
}

// makeTar writes files as a gzip'd tar archive.
func makeTar(t testing.TB, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: f.kind, Size: int64(len(f.data))}
		switch f.kind {
		case 0:
			h.Typeflag = tar.TypeReg
		case tar.TypeSymlink:
			h.Linkname, h.Size = f.data, 0
		case tar.TypeDir:
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// untar reads a bundle's regular files, in order.
func untar(t *testing.T, raw []byte) []tarFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarFile
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarFile{name: h.Name, data: string(b), kind: h.Typeflag})
	}
}

// rewrite returns raw with its files passed through edit: what someone
// who changes a bundle after it was built would do.
func rewrite(t *testing.T, raw []byte, edit func([]tarFile) []tarFile) []byte {
	t.Helper()
	return makeTar(t, edit(untar(t, raw)))
}

// loadEngine is an activation that compiles a bundle the way the service
// will: policy.Load over its FS.
func loadEngine(ctx context.Context, b *bundle.Bundle) (*policy.Engine, error) {
	return policy.Load(ctx, b.FS(), policy.Options{Dir: "bundle"})
}
