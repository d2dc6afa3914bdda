// Package decisionlog writes the decision log: one JSON line per decision,
// enough to evaluate it again and never the token (the contract's
// "Decision log"). It never holds a decision up: decisions are queued in a
// bounded buffer and written by a goroutine of their own; when the buffer
// is full they are dropped and counted. The log goes to standard output or
// to a file that SIGHUP reopens (logrotate), and Close writes everything
// queued before it returns.
package decisionlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/jsonpointer"
)

// Stdout is the --decision-log value that writes to standard output.
const Stdout = "-"

// DefaultBuffer is how many decisions may wait to be written: at ten
// thousand decisions a second, a second of a slow disk.
const DefaultBuffer = 1 << 14

// maxQueuedBytes bounds what the decisions waiting to be written hold
// (authz.DecisionRecord.ApproxBytes): a decision keeps its request's
// resource and context alive, and a caller may send large ones.
const maxQueuedBytes = 64 << 20

// Options configure a Writer.
type Options struct {
	// Buffer is how many decisions may wait; 0 means DefaultBuffer.
	Buffer int
	// Mask returns the JSON pointers removed from every entry (the serving
	// policies' data.verdict.decision_log.mask); nil masks nothing.
	Mask func() []jsonpointer.Pointer
	// OnWritten and OnDropped count entries; either may be nil.
	OnWritten, OnDropped func()
	// Logger receives write failures; nil discards them.
	Logger *slog.Logger
	// Stdout is where "-" writes; nil means os.Stdout. When the service's
	// own log goes there too, both must write through one writer that
	// serializes Write calls: the decision log writes whole lines only, so
	// the two never interleave within a line.
	Stdout io.Writer
}

// Writer is the decision log. It implements authz.DecisionLog.
type Writer struct {
	path     string
	opts     Options
	queue    chan queued
	queued   atomic.Int64 // what the waiting decisions hold, in bytes
	reopen   chan chan error
	stop     chan struct{}
	stopOnce sync.Once
	finished chan struct{} // closed when run has returned
	closeErr error         // set before finished is closed
}

var _ authz.DecisionLog = (*Writer)(nil)

// Open starts writing the decision log to path: Stdout, or a file,
// appended to and created if need be.
func Open(path string, opts Options) (*Writer, error) {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	w := &Writer{
		path: path, opts: opts,
		queue:    make(chan queued, opts.Buffer),
		reopen:   make(chan chan error),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	out, err := w.open()
	if err != nil {
		return nil, err
	}
	go w.run(out)
	return w, nil
}

// queued is a decision waiting to be written, and what it holds.
type queued struct {
	record authz.DecisionRecord
	bytes  int64
}

// Record queues r, or drops it when the buffer is full, by count or by
// bytes.
func (w *Writer) Record(r authz.DecisionRecord) {
	size := int64(r.ApproxBytes(maxQueuedBytes))
	if w.queued.Add(size) <= maxQueuedBytes {
		select {
		case w.queue <- queued{r, size}:
			return
		default:
		}
	}
	w.queued.Add(-size)
	if w.opts.OnDropped != nil {
		w.opts.OnDropped()
	}
}

// Reopen closes the log file and opens it again by its path, after
// everything queued so far is written: what logrotate's postrotate (or
// copytruncate-free rotation) wants on SIGHUP. It does nothing for
// standard output.
func (w *Writer) Reopen() error {
	done := make(chan error)
	select {
	case w.reopen <- done:
		return <-done
	case <-w.finished:
		return errors.New("the decision log is closed")
	}
}

// Close writes every decision queued before it, and closes the file.
// Decisions recorded after it are dropped. Closing again returns the
// first close's result.
func (w *Writer) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.finished
	return w.closeErr
}

// output is where entries go: the file or stdout, and the whole lines
// waiting to be written to it in one call.
type output struct {
	w       io.Writer
	file    *os.File // nil for stdout
	pending []byte
	lines   int // in pending
	// torn is set when a write failed: a part of a line may have been
	// written, so the next write starts with a newline to end it.
	torn bool
}

// batchBytes is how much output waits before it is written.
const batchBytes = 64 << 10

func (w *Writer) open() (*output, error) {
	if w.path == Stdout {
		return &output{w: w.opts.Stdout}, nil
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the decision log: %w", err)
	}
	return &output{w: f, file: f}, nil
}

// flush writes the pending lines in one call, and counts them written,
// or dropped when the write failed.
func (w *Writer) flushOutput(o *output) error {
	if len(o.pending) == 0 {
		return nil
	}
	batch := o.pending
	if o.torn {
		batch = append([]byte{'\n'}, batch...)
	}
	_, err := o.w.Write(batch)
	o.torn = err != nil
	count := w.opts.OnWritten
	if err != nil {
		count = w.opts.OnDropped
	}
	if count != nil {
		for range o.lines {
			count()
		}
	}
	o.pending, o.lines = o.pending[:0], 0
	return err
}

// closeOutput writes what is pending and closes the file.
func (w *Writer) closeOutput(o *output) error {
	err := w.flushOutput(o)
	if o.file != nil {
		err = errors.Join(err, o.file.Close())
	}
	return err
}

// run writes queued decisions, flushing whenever the queue runs empty, so
// that a busy log is written in large writes and a quiet one at once.
func (w *Writer) run(out *output) {
	var line []byte
	for {
		select {
		case q := <-w.queue:
			line = w.write(out, line[:0], q)
			if len(w.queue) == 0 {
				w.flush(out)
			}
		case done := <-w.reopen:
			w.drain(out, line)
			if w.path == Stdout {
				done <- nil
				continue
			}
			// The new file first: should it fail to open, the log goes on
			// into the old one rather than nowhere.
			reopened, err := w.open()
			if err == nil {
				err = w.closeOutput(out)
				out = reopened
			}
			done <- err
		case <-w.stop:
			w.drain(out, line)
			w.closeErr = w.closeOutput(out)
			close(w.finished)
			return
		}
	}
}

// drain writes everything queued now.
func (w *Writer) drain(out *output, line []byte) {
	for {
		select {
		case q := <-w.queue:
			line = w.write(out, line[:0], q)
		default:
			w.flush(out)
			return
		}
	}
}

func (w *Writer) write(out *output, line []byte, q queued) []byte {
	defer w.queued.Add(-q.bytes)
	r := q.record
	line, err := appendEntry(line, r)
	if err == nil && w.opts.Mask != nil {
		if pointers := w.opts.Mask(); len(pointers) > 0 {
			var masked []byte
			if masked, err = mask(line, pointers); err == nil {
				line = masked
			}
		}
	}
	if err != nil {
		w.opts.Logger.Error("decision log: entry not written", "decision_id", r.Decision.DecisionID, "error", err)
		if w.opts.OnDropped != nil {
			w.opts.OnDropped()
		}
		return line
	}
	out.pending = append(out.pending, line...)
	out.lines++
	if len(out.pending) >= batchBytes {
		w.flush(out)
	}
	return line
}

func (w *Writer) flush(out *output) {
	if err := w.flushOutput(out); err != nil {
		w.opts.Logger.Error("decision log: write failed", "error", err)
	}
}
