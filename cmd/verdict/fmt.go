package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
)

// errFormatDiffers is returned by `verdict fmt --fail` when some source's
// formatting differed from OPA's, after it was listed or rewritten.
var errFormatDiffers = errors.New("formatting differs")

// stdinName stands for standard input in listings and parse errors, as in gofmt.
const stdinName = "<standard input>"

// fmtOptions are the flags of `verdict fmt`.
type fmtOptions struct {
	write bool // rewrite files whose formatting differs
	list  bool // print the names of sources whose formatting differs
	fail  bool // errFormatDiffers when any source differed
}

// runFmt implements `verdict fmt [-w] [-l] [--fail] [PATH...]`: OPA's
// formatter in our binary, so neither CI nor policy authors need `opa`.
// Without a PATH it formats stdin to stdout. Every file is processed even
// when another fails; failures (exit 2) are reported in preference to
// errFormatDiffers (exit 1).
func runFmt(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	opts, paths, err := parseFmtFlags(args, stdout)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		changed, err := fmtStdin(stdin, stdout, opts)
		if err != nil || !changed {
			return err
		}
		return diffOutcome(opts, 1, 1)
	}
	files, errs := regoFiles(paths)
	var differ int
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("format Rego files: %w", err)
		}
		changed, err := fmtFile(stdout, file, opts)
		if err != nil {
			errs = append(errs, err)
		}
		if changed {
			differ++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return diffOutcome(opts, differ, len(files))
}

// parseFmtFlags parses the flags and keeps the paths after them, which the
// shared parseFlags would reject. Unlike the service flags, these select
// what one invocation does, so no VERDICT_* variable stands in for them.
func parseFmtFlags(args []string, output io.Writer) (fmtOptions, []string, error) {
	var opts fmtOptions
	flags := flagSet("fmt", output)
	flags.BoolVar(&opts.write, "w", false, "rewrite files whose formatting differs (needs a PATH)")
	flags.BoolVar(&opts.list, "l", false, "list files whose formatting differs instead of printing them")
	flags.BoolVar(&opts.fail, "fail", false, "exit with status 1 when any file's formatting differs")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: verdict fmt [-w] [-l] [--fail] [PATH...]\n\nWith no PATH, formats standard input to standard output. Directories are searched for *.rego files.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return opts, nil, err
	}
	if opts.write && flags.NArg() == 0 {
		return opts, nil, errors.New("-w needs a PATH: standard input cannot be rewritten")
	}
	return opts, flags.Args(), nil
}

// regoFiles expands the paths as gofmt does: a path naming a file is taken
// whatever its extension, and a directory is walked for *.rego files,
// skipping dot-files and dot-directories (.git) below it. Problems are
// collected rather than returned at once so the other paths still get
// formatted.
func regoFiles(paths []string) (files []string, errs []error) {
	for _, root := range paths {
		walk := func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				errs = append(errs, err)
			case path == root:
				if !d.IsDir() {
					files = append(files, path)
				}
			case strings.HasPrefix(d.Name(), "."):
				if d.IsDir() {
					return filepath.SkipDir
				}
			case !d.IsDir() && filepath.Ext(path) == ".rego":
				files = append(files, path)
			}
			return nil
		}
		if err := filepath.WalkDir(root, walk); err != nil {
			errs = append(errs, err)
		}
	}
	return files, errs
}

// fmtFile formats one file, emits what the flags ask for and, with -w,
// writes it back only when it changed, so formatted files keep their
// modification time.
func fmtFile(stdout io.Writer, path string, opts fmtOptions) (changed bool, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read Rego: %w", err)
	}
	formatted, changed, err := fmtSource(stdout, path, src, opts)
	if err != nil || !changed || !opts.write {
		return changed, err
	}
	return true, writeFileAtomic(path, formatted)
}

// fmtStdin formats standard input; -w was refused while parsing flags.
func fmtStdin(stdin io.Reader, stdout io.Writer, opts fmtOptions) (changed bool, err error) {
	src, err := io.ReadAll(stdin)
	if err != nil {
		return false, fmt.Errorf("read standard input: %w", err)
	}
	_, changed, err = fmtSource(stdout, stdinName, src, opts)
	return changed, err
}

// fmtSource formats src with the same options as internal/policy's
// TestRegoFormatted, so `verdict fmt` and that test never disagree, then
// prints the name (with -l, when it changed) or the formatted source
// (without -l or -w). Parse errors already carry the name and line.
func fmtSource(stdout io.Writer, name string, src []byte, opts fmtOptions) ([]byte, bool, error) {
	formatted, err := format.SourceWithOpts(name, src, format.Opts{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, false, fmt.Errorf("format %s: %w", name, err)
	}
	changed := !bytes.Equal(src, formatted)
	switch {
	case opts.list && changed:
		_, err = fmt.Fprintln(stdout, name)
	case !opts.list && !opts.write:
		_, err = stdout.Write(formatted)
	}
	if err != nil {
		return nil, false, fmt.Errorf("print %s: %w", name, err)
	}
	return formatted, changed, nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory and a rename, so neither a reader (such as a running
// `verdict serve` watching the directory) nor a crash sees a half-written
// policy. The file keeps its permissions, and a symlink stays a symlink
// because its target is what gets replaced.
func writeFileAtomic(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	info, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The dot prefix and .tmp suffix keep a leftover out of regoFiles' walk.
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fillAndClose(tmp, data, info.Mode().Perm()); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fillAndClose writes data to f, gives it perm and flushes it to disk before
// the rename makes it visible; f is closed in every case.
func fillAndClose(f *os.File, data []byte, perm fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// diffOutcome is run's error once every source was processed without
// failure: errFormatDiffers (exit 1) when --fail was given and any differed.
func diffOutcome(opts fmtOptions, differ, total int) error {
	if opts.fail && differ > 0 {
		return fmt.Errorf("%d of %d Rego sources: %w", differ, total, errFormatDiffers)
	}
	return nil
}
