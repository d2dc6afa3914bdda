package callers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/verdict-pdp/verdict/internal/filewatch"
)

// File is a keys file in force, re-read when it changes: a rotation (list
// the new key, move the caller to it, remove the old one) needs no
// restart. A change that does not parse is logged and counted, and the
// keys before it stay in force: a typo never locks every caller out.
type File struct {
	path     string
	logger   *slog.Logger
	onReload func(error)
	current  atomic.Pointer[Set]
	// inForce is the sum of the contents read at Open.
	inForce filewatch.Sum
}

// Options configure a File.
type Options struct {
	Logger *slog.Logger
	// OnReload, when set, is called after each change to the file is
	// applied (nil) or refused.
	OnReload func(error)
}

// Open reads the keys file at path; a file that cannot be read or parsed
// is an error (the service must not start open by mistake).
func Open(path string, opts Options) (*File, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &File{path: path, logger: opts.Logger, onReload: opts.OnReload}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("API keys %s: %w", path, err)
	}
	f.current.Store(s)
	f.inForce = filewatch.SumOf(data)
	return f, nil
}

// Identify returns the caller whose key this is, with the keys in force.
func (f *File) Identify(key string) (string, bool) {
	return f.current.Load().Identify(key)
}

// Watch follows the file until ctx ends (filewatch: a change applies
// once two polls in a row see it, so a file caught half-written is not
// refused; the symlink swap of a mounted Secret is seen too).
func (f *File) Watch(ctx context.Context, interval time.Duration) {
	filewatch.Watcher{
		Read:    func() ([]byte, error) { return readFile(f.path) },
		Changed: f.apply,
		Failed: func(err error) {
			f.logger.Error("API keys file unreadable; the keys in force stay", "path", f.path, "error", err)
			f.report(err)
		},
	}.Watch(ctx, interval, f.inForce)
}

func (f *File) apply(data []byte) {
	s, err := Parse(bytes.NewReader(data))
	if err != nil {
		f.logger.Error("API keys file refused; the keys in force stay", "path", f.path, "error", err)
		f.report(err)
		return
	}
	f.current.Store(s)
	f.logger.Info("API keys reloaded", "path", f.path, "callers", s.Len())
	f.report(nil)
}

func (f *File) report(err error) {
	if f.onReload != nil {
		f.onReload(err)
	}
}

// readFile reads the keys file, refusing one over MaxFileBytes.
func readFile(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the API keys: %w", err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the API keys %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("the API keys file %s is larger than %d bytes", path, MaxFileBytes)
	}
	return data, nil
}
