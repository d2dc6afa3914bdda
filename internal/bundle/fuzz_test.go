package bundle_test

import (
	"archive/tar"
	"errors"
	"io/fs"
	"testing"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

// FuzzParse: whatever the bytes, Parse does not panic, and what it
// accepts stays within its limits.
func FuzzParse(f *testing.F) {
	limits := bundle.Limits{MaxBundleBytes: 64 << 10, MaxTotalBytes: 32 << 10, MaxFileBytes: 8 << 10, MaxFiles: 16}
	for _, files := range [][]tarFile{
		{{name: "/data.json", data: someData}, {name: "/acme/acme.rego", data: someModule}},
		{{name: "./", kind: tar.TypeDir}, {name: "./acme/data.yaml", data: "a: 1\n"}, {name: "./.manifest", data: `{"revision": "r", "roots": ["acme"]}`}},
		{{name: "/.signatures.json", data: `{"signatures": ["a.b.c"]}`}, {name: "/x/y/z/data.json", data: "[1, 2]"}},
		{{name: "/a.rego", data: someModule}, {name: "a.rego", data: someModule}},
		{{name: "../x.rego", data: someModule}},
		{{name: "/.verdict-builtin/clerk.rego", data: "package verdict.clerk\n"}},
	} {
		f.Add(makeTar(f, files))
	}
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := bundle.Parse(raw, bundle.ReadOptions{Limits: limits})
		if err != nil {
			return
		}
		count, total := 0, 0
		err = fs.WalkDir(b.FS(), ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(b.FS(), name)
			if err != nil {
				return err
			}
			if int64(len(data)) > limits.MaxFileBytes {
				return errors.New(name + " is larger than MaxFileBytes")
			}
			count++
			total += len(data)
			return nil
		})
		if err != nil {
			t.Fatalf("FS: %v", err)
		}
		if count > limits.MaxFiles || int64(total) > limits.MaxTotalBytes {
			t.Fatalf("Parse accepted %d files of %d bytes, beyond %+v", count, total, limits)
		}
		if int64(len(b.Bytes())) > limits.MaxBundleBytes {
			t.Fatalf("Parse accepted a bundle of %d bytes, beyond %d", len(b.Bytes()), limits.MaxBundleBytes)
		}
	})
}
