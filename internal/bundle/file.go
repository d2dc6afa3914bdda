package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/verdict-pdp/verdict/internal/filewatch"
)

// DefaultFileInterval is how often a FileSource looks at its file: a
// small read and a hash, as often as a policy directory is polled.
const DefaultFileInterval = 500 * time.Millisecond

// FileOptions configures a FileSource.
type FileOptions struct {
	// Path is the bundle file (--bundle-file).
	Path string
	// Interval is the time between two looks at the file (default
	// DefaultFileInterval).
	Interval time.Duration
	// Read says how bundles are read and verified.
	Read ReadOptions
	// Activate is called with every new bundle. Required.
	Activate ActivateFunc
	// OnResult, when set, is called whenever the file's contents came to
	// something new: activated, refused, or unreadable (error).
	OnResult func(Result)
	// Logger receives outcomes; nil discards them.
	Logger *slog.Logger
}

// FileSource watches a local bundle file, like the policy directory
// watcher: it reads the file every Interval and applies it once two reads
// in a row agree, so a bundle caught half-written is not reported as
// refused. Polling (rather than file-system events) also sees the symlink
// swaps of a mounted ConfigMap. Contents already tried, activated or
// refused, are not tried again until they change.
//
// Call First once, then Run.
type FileSource struct {
	opts FileOptions

	mu      sync.Mutex // one apply at a time; guards tried
	tried   string     // digest (or error) of the contents last applied
	current *Bundle
}

// NewFileSource checks opts and returns a source that has read nothing.
func NewFileSource(opts FileOptions) (*FileSource, error) {
	if opts.Path == "" {
		return nil, errors.New("bundle file: no path")
	}
	if opts.Activate == nil {
		return nil, errors.New("bundle source: no Activate callback")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultFileInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Read.Limits = opts.Read.Limits.withDefaults()
	return &FileSource{opts: opts}, nil
}

// First reads the file and activates it, returning the bundle that serves
// or why there is none.
func (s *FileSource) First(ctx context.Context) (*Bundle, error) {
	raw, err := s.read()
	res, err := s.apply(ctx, contentKey(raw, err), raw, err)
	if res != ResultActivated {
		if err == nil {
			err = errors.New("the file has not changed since it was last tried")
		}
		return nil, fmt.Errorf("first bundle from %s: %w", s.opts.Path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

// Run watches the file until ctx ends (filewatch: a change applies once
// two reads in a row agree on it).
func (s *FileSource) Run(ctx context.Context) {
	var handled filewatch.Sum
	s.mu.Lock()
	if s.current != nil {
		handled = filewatch.SumOf(s.current.raw)
	}
	s.mu.Unlock()
	filewatch.Watcher{
		Read:    s.read,
		Changed: func(raw []byte) { _, _ = s.apply(ctx, contentKey(raw, nil), raw, nil) },
		Failed:  func(err error) { _, _ = s.apply(ctx, contentKey(nil, err), nil, err) },
	}.Watch(ctx, s.opts.Interval, handled)
}

// read reads the bundle file, following symlinks.
func (s *FileSource) read() ([]byte, error) {
	return readRegular(s.opts.Path, s.opts.Read.Limits.MaxBundleBytes)
}

// contentKey names what a read found: the bytes' digest, or the error.
func contentKey(raw []byte, err error) string {
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return digestOf(raw)
}

// apply activates raw (or reports readErr) unless key was the last tried.
func (s *FileSource) apply(ctx context.Context, key string, raw []byte, readErr error) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == s.tried {
		return ResultNotModified, nil
	}
	res, err := s.activate(ctx, raw, readErr)
	if ctx.Err() != nil {
		return ResultError, ctx.Err() // cut short: not tried
	}
	s.tried = key
	logOutcome(ctx, s.opts.Logger, res, err, s.current, s.opts.Path)
	if s.opts.OnResult != nil {
		s.opts.OnResult(res)
	}
	return res, err
}

// activate parses raw and hands it to Activate; s.mu is held.
func (s *FileSource) activate(ctx context.Context, raw []byte, readErr error) (Result, error) {
	switch {
	case errors.Is(readErr, ErrLimit):
		return ResultRefused, readErr
	case readErr != nil:
		return ResultError, readErr
	}
	b, err := parse(raw, digestOf(raw), s.opts.Read)
	if err == nil {
		err = s.opts.Activate(ctx, b)
	}
	if err != nil {
		return ResultRefused, err
	}
	s.current = b
	return ResultActivated, nil
}
