package main

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Rego sources for the fmt tests; fmtMessy formats to fmtClean.
const (
	fmtClean  = "package demo\n\nallow if input.user == \"alice\"\n"
	fmtMessy  = "package demo\nallow   if {   input.user == \"alice\" }\n"
	fmtBroken = "package demo\n\nallow if {\n\tinput.user ==\n}\n" // parse error on line 5
)

// fmtFileMode differs from both os.CreateTemp's 0600 and the usual 0644, so
// a rewrite that lost the mode shows.
const fmtFileMode fs.FileMode = 0o640

// fmtOldTime is every fixture's modification time; a file that still has it
// was not rewritten.
var fmtOldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// fmtTree is the usual fixture: a formatted and an unformatted file, one
// more below, one under a dot-directory (skipped) and a non-Rego file.
func fmtTree() map[string]string {
	return map[string]string{
		"clean.rego":       fmtClean,
		"messy.rego":       fmtMessy,
		"sub/deep.rego":    fmtMessy,
		".git/hidden.rego": fmtMessy,
		"notes.txt":        fmtMessy,
	}
}

// TestFmtFiles runs `verdict fmt` over real files and checks the output,
// the exit status and every file afterwards.
func TestFmtFiles(t *testing.T) {
	t.Parallel()
	withBroken := map[string]string{"broken.rego": fmtBroken, "messy.rego": fmtMessy}
	for _, tt := range []struct {
		name      string
		tree      map[string]string // nil means fmtTree()
		args      []string          // paths relative to the tree
		wantOut   string            // paths relative to the tree
		wantCode  int
		wantErr   string   // in the error, when not empty
		rewritten []string // files -w must have formatted; the others stay untouched
	}{
		{name: "print file", args: []string{"messy.rego"}, wantOut: fmtClean},
		{name: "print tree", args: []string{"."}, wantOut: fmtClean + fmtClean + fmtClean},
		{name: "list tree", args: []string{"-l", "."}, wantOut: "messy.rego\nsub/deep.rego\n"},
		{name: "list formatted file", args: []string{"-l", "clean.rego"}},
		{name: "list two paths", args: []string{"-l", "clean.rego", "sub"}, wantOut: "sub/deep.rego\n"},
		{name: "named file whatever its extension", args: []string{"-l", "notes.txt"}, wantOut: "notes.txt\n"},
		{name: "named dot-directory", args: []string{"-l", ".git"}, wantOut: ".git/hidden.rego\n"},
		{name: "fail when listed files differ", args: []string{"-l", "--fail", "."}, wantOut: "messy.rego\nsub/deep.rego\n", wantCode: 1, wantErr: "2 of 3 Rego sources: formatting differs"},
		{name: "fail after printing", args: []string{"--fail", "messy.rego"}, wantOut: fmtClean, wantCode: 1},
		{name: "fail on formatted file", args: []string{"--fail", "clean.rego"}, wantOut: fmtClean},
		{name: "write tree", args: []string{"-w", "."}, rewritten: []string{"messy.rego", "sub/deep.rego"}},
		{name: "write and list", args: []string{"-w", "-l", "."}, wantOut: "messy.rego\nsub/deep.rego\n", rewritten: []string{"messy.rego", "sub/deep.rego"}},
		{name: "write, list and fail", args: []string{"-w", "-l", "--fail", "."}, wantOut: "messy.rego\nsub/deep.rego\n", wantCode: 1, rewritten: []string{"messy.rego", "sub/deep.rego"}},
		{name: "missing path, others still written", args: []string{"-w", "missing.rego", "messy.rego"}, wantCode: 2, wantErr: "missing.rego", rewritten: []string{"messy.rego"}},
		{name: "parse error, others still listed", tree: withBroken, args: []string{"-l", "--fail", "."}, wantOut: "messy.rego\n", wantCode: 2, wantErr: "broken.rego:5: rego_parse_error"},
		{name: "parse error, others still written", tree: withBroken, args: []string{"-w", "."}, wantCode: 2, wantErr: "broken.rego:5: rego_parse_error", rewritten: []string{"messy.rego"}},
		{name: "parse error, others still printed", tree: withBroken, args: []string{"."}, wantOut: fmtClean, wantCode: 2, wantErr: "broken.rego:5: rego_parse_error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tree := tt.tree
			if tree == nil {
				tree = fmtTree()
			}
			dir := writeFmtTree(t, tree)
			var out bytes.Buffer
			err := runFmt(context.Background(), fmtArgs(dir, tt.args), strings.NewReader(""), &out)
			gotOut := strings.ReplaceAll(out.String(), dir+string(filepath.Separator), "")
			if code := exitCode(err); code != tt.wantCode || gotOut != tt.wantOut {
				t.Errorf("verdict fmt %v = exit %d (%v), output %q; want exit %d, output %q", tt.args, code, err, gotOut, tt.wantCode, tt.wantOut)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("verdict fmt %v error = %v, want it to contain %q", tt.args, err, tt.wantErr)
			}
			want := maps.Clone(tree)
			for _, name := range tt.rewritten {
				want[name] = fmtClean
			}
			checkFmtTree(t, dir, tree, want)
		})
	}
}

// TestFmtStdin covers `verdict fmt` without a PATH: stdin to stdout, as gofmt.
func TestFmtStdin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		args     []string
		in       string
		wantOut  string
		wantCode int
		wantErr  string
	}{
		{name: "format", in: fmtMessy, wantOut: fmtClean},
		{name: "already formatted", in: fmtClean, wantOut: fmtClean},
		{name: "list differs", args: []string{"-l"}, in: fmtMessy, wantOut: "<standard input>\n"},
		{name: "list formatted", args: []string{"-l"}, in: fmtClean},
		{name: "fail", args: []string{"--fail"}, in: fmtMessy, wantOut: fmtClean, wantCode: 1},
		{name: "list and fail", args: []string{"-l", "--fail"}, in: fmtMessy, wantOut: "<standard input>\n", wantCode: 1},
		{name: "fail on formatted", args: []string{"--fail"}, in: fmtClean, wantOut: fmtClean},
		{name: "parse error", in: fmtBroken, wantCode: 2, wantErr: "<standard input>:5: rego_parse_error"},
		{name: "write needs a path", args: []string{"-w"}, in: fmtMessy, wantCode: 2, wantErr: "-w needs a PATH"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := runFmt(context.Background(), tt.args, strings.NewReader(tt.in), &out)
			if code := exitCode(err); code != tt.wantCode || out.String() != tt.wantOut {
				t.Errorf("verdict fmt %v < %q = exit %d (%v), output %q; want exit %d, output %q", tt.args, tt.in, code, err, out.String(), tt.wantCode, tt.wantOut)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("verdict fmt %v error = %v, want it to contain %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// TestFmtWriteKeepsSymlink rewrites a file through a symlink: the target
// gets the formatted source and the link stays a link.
func TestFmtWriteKeepsSymlink(t *testing.T) {
	t.Parallel()
	dir := writeFmtTree(t, map[string]string{"real/messy.rego": fmtMessy})
	link := filepath.Join(dir, "link.rego")
	if err := os.Symlink(filepath.Join("real", "messy.rego"), link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if err := runFmt(context.Background(), []string{"-w", link}, strings.NewReader(""), &bytes.Buffer{}); err != nil {
		t.Fatalf("verdict fmt -w %s: %v", link, err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("after -w, %s is no longer a symlink (%v)", link, err)
	}
	checkFmtTree(t, dir, map[string]string{"real/messy.rego": fmtMessy}, map[string]string{"real/messy.rego": fmtClean})
}

// TestRunFmt goes through the dispatcher: the usage text, flag errors, and
// agreement with internal/policy's TestRegoFormatted on the shipped Rego.
func TestRunFmt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args        []string
		wantCode    int
		wantOutPart string
	}{
		{[]string{"verdict", "help"}, 0, "\n  fmt       format Rego files as OPA's formatter does (-w write, -l list, --fail)\n"},
		{[]string{"verdict", "fmt", "-l", "--fail", "../../internal/policy/builtin"}, 0, ""},
		{[]string{"verdict", "fmt", "-h"}, 0, "usage: verdict fmt [-w] [-l] [--fail] [PATH...]"},
		{[]string{"verdict", "fmt", "-x", "."}, 2, "flag provided but not defined: -x"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tt.args, emptyEnv, &out)
		if code := exitCode(err); code != tt.wantCode || !strings.Contains(out.String(), tt.wantOutPart) {
			t.Errorf("%v = exit %d (%v), output %q; want exit %d, output containing %q", tt.args, code, err, out.String(), tt.wantCode, tt.wantOutPart)
		}
	}
}

// fmtArgs joins the path arguments (those not starting with "-") to dir.
func fmtArgs(dir string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if !strings.HasPrefix(a, "-") {
			out[i] = filepath.Join(dir, filepath.FromSlash(a))
		}
	}
	return out
}

// writeFmtTree writes files (slash-separated names) under a new temp
// directory with fmtFileMode and fmtOldTime, and returns the directory.
func writeFmtTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), fmtFileMode); err != nil {
			t.Fatal(err)
		}
		// WriteFile's mode is subject to the umask; Chmod is not.
		if err := os.Chmod(path, fmtFileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, fmtOldTime, fmtOldTime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkFmtTree compares every regular file under dir with want (so a
// leftover temp file shows too), then checks that each file kept its mode
// and that the ones still as in before were not touched at all.
func checkFmtTree(t *testing.T, dir string, before, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		got[filepath.ToSlash(rel)] = string(content)
		if info, statErr := d.Info(); statErr == nil {
			if info.Mode().Perm() != fmtFileMode {
				t.Errorf("%s has mode %v, want %v", rel, info.Mode().Perm(), fmtFileMode)
			}
			if before[filepath.ToSlash(rel)] == string(content) && !info.ModTime().Equal(fmtOldTime) {
				t.Errorf("%s was rewritten (modified %v) though its content did not change", rel, info.ModTime())
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("read back %s: %v", dir, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files after verdict fmt differ (-want +got):\n%s", diff)
	}
}
