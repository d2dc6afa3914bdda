package bundle_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

// TestCache stores and loads a bundle with its ETag. The ETag counts only
// for the bundle it came with; a damaged bundle is refused, an empty
// cache is fs.ErrNotExist.
func TestCache(t *testing.T) {
	t.Parallel()
	one := makeTar(t, []tarFile{{name: "/data.json", data: `{"n": 1}`}, {name: "/.manifest", data: `{"revision": "one"}`}})
	two := makeTar(t, []tarFile{{name: "/data.json", data: `{"n": 2}`}, {name: "/.manifest", data: `{"revision": "two"}`}})
	parse := func(raw []byte) *bundle.Bundle {
		b, err := bundle.Parse(raw, bundle.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name         string
		setup        func(t *testing.T, dir string)
		wantRevision string // "" for an error
		wantETag     string
		wantNotExist bool
	}{
		{name: "empty", setup: func(*testing.T, string) {}, wantNotExist: true},
		{
			name:         "stored",
			setup:        func(t *testing.T, dir string) { store(t, dir, parse(one), `"e1"`) },
			wantRevision: "one", wantETag: `"e1"`,
		},
		{
			name: "replaced",
			setup: func(t *testing.T, dir string) {
				store(t, dir, parse(one), `"e1"`)
				store(t, dir, parse(two), `W/"e2"`)
			},
			wantRevision: "two", wantETag: `W/"e2"`,
		},
		{
			name: "a crash between the two files",
			setup: func(t *testing.T, dir string) {
				store(t, dir, parse(one), `"e1"`)
				meta, err := os.ReadFile(filepath.Join(dir, "bundle.json"))
				if err != nil {
					t.Fatal(err)
				}
				store(t, dir, parse(two), `"e2"`)
				writeFile(t, filepath.Join(dir, "bundle.json"), string(meta))
			},
			wantRevision: "two", wantETag: "",
		},
		{
			name: "damaged",
			setup: func(t *testing.T, dir string) {
				store(t, dir, parse(one), `"e1"`)
				writeFile(t, filepath.Join(dir, "bundle.tar.gz"), string(one[:len(one)/2]))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "cache")
			tt.setup(t, dir)
			b, etag, err := bundle.NewCache(dir, "").Load(bundle.ReadOptions{})
			switch {
			case tt.wantNotExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Load = %v, want fs.ErrNotExist", err)
				}
			case tt.wantRevision == "":
				if err == nil {
					t.Errorf("Load = %s, want an error", b.Revision())
				}
			case err != nil:
				t.Errorf("Load: %v", err)
			case b.Revision() != tt.wantRevision || etag != tt.wantETag:
				t.Errorf("Load = %s, %q; want %s, %q", b.Revision(), etag, tt.wantRevision, tt.wantETag)
			}
		})
	}
}

func store(t *testing.T, dir string, b *bundle.Bundle, etag string) {
	t.Helper()
	if err := bundle.NewCache(dir, "").Store(b, etag); err != nil {
		t.Fatalf("Store: %v", err)
	}
}
