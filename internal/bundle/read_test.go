package bundle_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

const (
	someData   = `{"acme": {"limit": 3}}`
	someModule = "package verdict.rules.acme\n\nlimit := 3\n"
)

// TestParse reads hand-made archives: the names OPA's and tar's writers
// use are accepted, files OPA ignores are left out of FS, and anything
// that is not a clean bundle is refused with an error naming the entry.
func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []tarFile
		wantFS  []string // FS's files, sorted
		wantErr string   // a part of the error, "" for none
	}{
		{
			name:   "OPA's leading slash",
			files:  []tarFile{{name: "/data.json", data: someData}, {name: "/acme/acme.rego", data: someModule}},
			wantFS: []string{"acme/acme.rego", "data.json"},
		},
		{
			name: "tar -C dir .",
			files: []tarFile{
				{name: "./", kind: tar.TypeDir}, {name: "./acme/", kind: tar.TypeDir},
				{name: "./acme/acme.rego", data: someModule}, {name: "./acme/data.yaml", data: "limit: 3\n"},
			},
			wantFS: []string{"acme/acme.rego", "acme/data.yaml"},
		},
		{
			name: "files OPA ignores are not served",
			files: []tarFile{
				{name: "/README.md", data: "# hi"}, {name: "/acme/roles.json", data: `{"x": 1}`},
				{name: "/acme/extra.yaml", data: "x: 1"}, {name: "/acme/data.yml", data: "y: 2"},
				{name: "/.manifest", data: `{"revision": "r1"}`},
			},
			wantFS: []string{"acme/data.yml"},
		},
		{
			name: "the copy of the built-in library is dropped",
			files: []tarFile{
				{name: "/.verdict-builtin/clerk.rego", data: "package verdict.clerk\n"},
				{name: "/policies/.verdict-builtin/authz.rego", data: "package verdict.authz\n"},
				{name: "/verdict-builtin/team.rego", data: "package verdict.team\n"}, // opa build -b .
				{name: "/data.json", data: someData},
			},
			wantFS: []string{"data.json"},
		},
		{name: "parent directory", files: []tarFile{{name: "../evil.rego", data: someModule}}, wantErr: `"../evil.rego"`},
		{name: "parent directory inside", files: []tarFile{{name: "/acme/../../evil.rego", data: someModule}}, wantErr: `"/acme/../../evil.rego"`},
		{name: "absolute after the root slash", files: []tarFile{{name: "//etc/evil.rego", data: someModule}}, wantErr: `"//etc/evil.rego"`},
		{name: "empty element", files: []tarFile{{name: "acme//evil.rego", data: someModule}}, wantErr: `"acme//evil.rego"`},
		{name: "long path", files: []tarFile{{name: strings.Repeat("a/", 600) + "x.rego", data: someModule}}, wantErr: "longer than"},
		{name: "backslash", files: []tarFile{{name: `acme\..\evil.rego`, data: someModule}}, wantErr: "backslash"},
		{
			name:    "duplicate",
			files:   []tarFile{{name: "/acme/acme.rego", data: someModule}, {name: "acme/acme.rego", data: someModule}},
			wantErr: "acme/acme.rego appears twice",
		},
		{
			name:    "a file that is also a directory",
			files:   []tarFile{{name: "/acme", data: "x"}, {name: "/acme/acme.rego", data: someModule}},
			wantErr: "acme is both a file and a directory",
		},
		{name: "symbolic link", files: []tarFile{{name: "/acme.rego", data: "/etc/passwd", kind: tar.TypeSymlink}}, wantErr: `"/acme.rego" is not a regular file`},
		{name: "hidden module", files: []tarFile{{name: "/acme/.acme.rego", data: someModule}}, wantErr: "acme/.acme.rego is hidden"},
		{name: "data in a hidden directory", files: []tarFile{{name: "/.acme/data.json", data: someData}}, wantErr: ".acme/data.json is hidden"},
		{name: "wasm", files: []tarFile{{name: "/policy.wasm", data: "\x00asm"}}, wantErr: "Wasm"},
		{name: "plan", files: []tarFile{{name: "/plan.json", data: "{}"}}, wantErr: "plan"},
		{
			name:    "delta bundle",
			files:   []tarFile{{name: "/patch.json", data: `{"data": [{"op": "upsert", "path": "/a", "value": 1}]}`}, {name: "/.manifest", data: `{"roots": ["a"]}`}},
			wantErr: "delta bundle",
		},
		{
			name:    "Rego v0 by the manifest",
			files:   []tarFile{{name: "/.manifest", data: `{"rego_version": 0}`}, {name: "/acme/acme.rego", data: "package verdict.rules.acme\n\nlimit = 3\n"}},
			wantErr: "acme/acme.rego is Rego v0",
		},
		{name: "module that does not parse", files: []tarFile{{name: "/acme/acme.rego", data: "package verdict.rules.acme\n\nlimit :=\n"}}, wantErr: "acme/acme.rego"},
		{name: "data that does not parse", files: []tarFile{{name: "/data.json", data: "{"}}, wantErr: "data.json"},
		{
			name:    "a package outside the manifest's roots",
			files:   []tarFile{{name: "/.manifest", data: `{"roots": ["acme"]}`}, {name: "/x.rego", data: "package verdict.rules.x\n"}},
			wantErr: "roots",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := bundle.Parse(makeTar(t, tt.files), bundle.ReadOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, want an error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.wantFS, fsFiles(t, b.FS())); diff != "" {
				t.Errorf("FS files (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseArchive refuses what is not a whole gzip'd tar.
func TestParseArchive(t *testing.T) {
	t.Parallel()
	good := makeTar(t, []tarFile{{name: "/data.json", data: someData}})
	var plainTar bytes.Buffer
	tw := tar.NewWriter(&plainTar)
	_ = tw.Close()
	tests := map[string][]byte{
		"empty":             nil,
		"not gzip":          []byte("PK\x03\x04 a zip file"),
		"gzip of not a tar": gzipOf(t, []byte(strings.Repeat("x", 1000))),
		"truncated":         good[:len(good)-6],
		"trailing garbage":  append(slices.Clone(good), "garbage"...),
		"a tar, not gzip'd": plainTar.Bytes(),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := bundle.Parse(raw, bundle.ReadOptions{}); err == nil {
				t.Error("Parse succeeded, want an error")
			}
		})
	}
	if _, err := bundle.Parse(good, bundle.ReadOptions{}); err != nil {
		t.Errorf("Parse(good) = %v", err)
	}
}

// TestLimits: each limit refuses with ErrLimit, however the archive is
// built to dodge it; the defaults refuse a gzip bomb.
func TestLimits(t *testing.T) {
	t.Parallel()
	many := make([]tarFile, 11)
	for i := range many {
		many[i] = tarFile{name: "/acme/" + strings.Repeat("a", i+1) + ".txt", data: "x"}
	}
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name   string
		raw    []byte
		limits bundle.Limits
	}{
		{"compressed size", makeTar(t, []tarFile{{name: "/a.txt", data: randomText(4000)}}), bundle.Limits{MaxBundleBytes: 1000}},
		{"one file", makeTar(t, []tarFile{{name: "/a.txt", data: big}}), bundle.Limits{MaxFileBytes: 1999}},
		{"all files", makeTar(t, []tarFile{{name: "/a.txt", data: big}, {name: "/b.txt", data: big}}), bundle.Limits{MaxTotalBytes: 5000}},
		{"uncompressed archive", makeTar(t, []tarFile{{name: "/a.txt", data: big}}), bundle.Limits{MaxTotalBytes: 2100}},
		{"entries", makeTar(t, many), bundle.Limits{MaxFiles: 10}},
		{"directories count as entries", makeTar(t, []tarFile{{name: "a/", kind: tar.TypeDir}, {name: "b/", kind: tar.TypeDir}}), bundle.Limits{MaxFiles: 1}},
		// 9 MiB of zeros in about 9 KiB: refused by its header, unread.
		{"gzip bomb", makeTar(t, []tarFile{{name: "/a.txt", data: strings.Repeat("\x00", 9<<20)}}), bundle.Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bundle.Parse(tt.raw, bundle.ReadOptions{Limits: tt.limits})
			if !errors.Is(err, bundle.ErrLimit) {
				t.Errorf("Parse = %v, want ErrLimit", err)
			}
		})
	}
	t.Run("Read stops at the compressed limit", func(t *testing.T) {
		t.Parallel()
		raw := makeTar(t, []tarFile{{name: "/a.txt", data: randomText(4000)}})
		r := &countingReader{r: bytes.NewReader(raw)}
		if _, err := bundle.Read(r, bundle.ReadOptions{Limits: bundle.Limits{MaxBundleBytes: 1000}}); !errors.Is(err, bundle.ErrLimit) {
			t.Errorf("Read = %v, want ErrLimit", err)
		}
		if r.n > 1001 {
			t.Errorf("Read read %d bytes, want at most the limit and one", r.n)
		}
	})
}

// TestFSPlacesDataAsOPA: Verdict loads FS with OPA's file loader, which
// reads any .json or .yaml and places a/b/x.json under data.a.b; OPA's
// bundle reader reads only data.json/data.yaml/data.yml. Through FS, the
// loader sees exactly the data OPA's bundle reader does.
func TestFSPlacesDataAsOPA(t *testing.T) {
	t.Parallel()
	raw := makeTar(t, []tarFile{
		{name: "/data.json", data: `{"verdict": {"roles": {}}, "top": 1}`},
		{name: "/acme/data.json", data: `{"limit": 3}`},
		{name: "/acme/billing/data.yaml", data: "plan: pro\n"},
		{name: "/globex/data.yml", data: "x: [1, 2]\n"},
		{name: "/acme/roles.json", data: `{"ignored": true}`},
		{name: "/acme/notes.yaml", data: "ignored: true\n"},
		{name: "/acme/acme.rego", data: someModule},
	})
	b, err := bundle.Parse(raw, bundle.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := loader.NewFileLoader().WithFS(b.FS()).All([]string{"."})
	if err != nil {
		t.Fatal(err)
	}
	opa, err := opabundle.NewCustomReader(opabundle.NewTarballLoaderWithBaseURL(bytes.NewReader(raw), "")).Read()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(opa.Data, loaded.Documents); diff != "" {
		t.Errorf("data through FS differs from OPA's bundle reader (-opa +fs):\n%s", diff)
	}
	if got, want := len(loaded.Modules), len(opa.Modules); got != want {
		t.Errorf("modules through FS: %d, OPA's reader: %d", got, want)
	}
}

// TestBundleIsImmutable: what a caller gets cannot change the bundle.
func TestBundleIsImmutable(t *testing.T) {
	t.Parallel()
	raw := makeTar(t, []tarFile{{name: "/data.json", data: someData}, {name: "/.manifest", data: `{"revision": "r7"}`}})
	b, err := bundle.Parse(raw, bundle.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	digest := b.Digest()
	raw[len(raw)-1] ^= 0xff // the caller's slice
	got := b.Bytes()
	got[0] ^= 0xff // a copy
	if b.Digest() != digest || bytes.Equal(b.Bytes(), got) {
		t.Error("the bundle changed with the bytes it was given or returned")
	}
	data, err := fs.ReadFile(b.FS(), "data.json")
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 'X'
	if again, _ := fs.ReadFile(b.FS(), "data.json"); string(again) != someData {
		t.Errorf("data.json = %q after a caller changed its copy, want %q", again, someData)
	}
	if b.Revision() != "r7" {
		t.Errorf("Revision = %q, want r7", b.Revision())
	}
}

func fsFiles(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gzipOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// randomText does not compress much.
func randomText(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return string(b)
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
