package decisionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// Entry is a decision log line read back: the decision's input and its
// answer, what replay needs to evaluate it again.
type Entry struct {
	DecisionID string
	Principal  authz.Principal
	// TokenReason is set when the token was refused: the policies did not
	// decide.
	TokenReason authz.Reason
	Check       authz.Check
	Allow       bool
	Reason      authz.Reason
}

// MaxLineBytes bounds a line the Reader reads; a longer one is reported
// and skipped. A decision's line is at most a little over its request body
// (1 MiB by default).
const MaxLineBytes = 16 << 20

// LineError reports a line that is not a decision; Reader.Next goes on
// with the next line.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Reader reads a decision log a line at a time, never the whole of it.
type Reader struct {
	r    *bufio.Reader
	line int
	buf  []byte
	max  int // MaxLineBytes
}

// NewReader reads the decision log in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: MaxLineBytes}
}

// Next returns the next decision and its line number. At the end it
// returns io.EOF; for a line that is not a decision, a *LineError, and the
// next call reads on. Blank lines are passed over. Any other error is the
// reader's own and ends the reading.
func (r *Reader) Next() (Entry, int, error) {
	for {
		line, err := r.readLine()
		switch {
		case errors.Is(err, errLineTooLong):
			return Entry{}, r.line, &LineError{Line: r.line, Err: err}
		case err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)):
			return Entry{}, r.line, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil { // the end, after a blank last line
				return Entry{}, r.line, err
			}
			continue
		}
		e, perr := parseEntry(line)
		if perr != nil {
			return Entry{}, r.line, &LineError{Line: r.line, Err: perr}
		}
		return e, r.line, nil
	}
}

// errLineTooLong reports a line over the reader's limit.
var errLineTooLong = errors.New("the line is too long for a decision (over MaxLineBytes)")

// readLine returns the next line without its newline. A last line without
// a newline comes with io.EOF.
func (r *Reader) readLine() ([]byte, error) {
	r.line++
	r.buf = r.buf[:0]
	for {
		chunk, err := r.r.ReadSlice('\n')
		if len(r.buf)+len(chunk) > r.max {
			// Too long: pass over the rest of it, keeping nothing.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.r.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, errLineTooLong
		}
		r.buf = append(r.buf, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return r.buf, err
		}
		return bytes.TrimSuffix(r.buf, []byte("\n")), nil
	}
}

// line is a decision log line as written (appendEntry).
type line struct {
	DecisionID  string                `json:"decision_id"`
	Principal   json.RawMessage       `json:"principal"`
	TokenReason authz.Reason          `json:"token_reason"`
	Action      *string               `json:"action"`
	Resource    *authz.Resource       `json:"resource"`
	Context     map[string]any        `json:"context"`
	Subject     *authz.RequestSubject `json:"subject"`
	Caller      string                `json:"caller"`
	Allow       *bool                 `json:"allow"`
	Reason      authz.Reason          `json:"reason"`
}

func parseEntry(b []byte) (Entry, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // numbers in the resource and context as they were sent
	var l line
	if err := d.Decode(&l); err != nil {
		return Entry{}, fmt.Errorf("not a decision log line: %w", err)
	}
	if rest := bytes.TrimSpace(b[d.InputOffset():]); len(rest) > 0 {
		return Entry{}, errors.New("not a decision log line: more after the JSON object")
	}
	switch {
	case l.DecisionID == "":
		return Entry{}, errors.New(`no "decision_id"`)
	case l.Action == nil:
		return Entry{}, errors.New(`no "action"`)
	case l.Allow == nil || l.Reason == "":
		return Entry{}, errors.New(`no "allow" and "reason"`)
	}
	p, err := parsePrincipal(l.Principal)
	if err != nil {
		return Entry{}, err
	}
	return Entry{
		DecisionID: l.DecisionID, Principal: p, TokenReason: l.TokenReason,
		Check: authz.Check{Action: *l.Action, Resource: l.Resource, Context: l.Context, Subject: l.Subject, Caller: l.Caller},
		Allow: *l.Allow, Reason: l.Reason,
	}, nil
}

// parsePrincipal reads the principal as appendEntry writes it: the
// normalized principal, or {"authenticated": false}.
func parsePrincipal(raw json.RawMessage) (authz.Principal, error) {
	if len(raw) == 0 {
		return authz.Principal{}, errors.New(`no "principal"`)
	}
	var flag struct {
		Authenticated *bool `json:"authenticated"`
	}
	if err := json.Unmarshal(raw, &flag); err != nil {
		return authz.Principal{}, fmt.Errorf(`"principal": %w`, err)
	}
	if flag.Authenticated != nil && !*flag.Authenticated {
		return authz.Principal{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var p authz.Principal
	if err := d.Decode(&p); err != nil {
		return authz.Principal{}, fmt.Errorf(`"principal": %w`, err)
	}
	if p.UserID == "" {
		return authz.Principal{}, errors.New(`"principal" has no "user_id"`)
	}
	p.Authenticated = true
	return p, nil
}
