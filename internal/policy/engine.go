// Package policy loads Verdict's Rego policies, compiles and prepares them
// once per revision, evaluates decisions against them, and swaps in edited
// policies while serving, keeping the last good revision when an edit does
// not compile.
package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// Options configures an Engine.
type Options struct {
	// Logger receives reload outcomes. Nil discards them.
	Logger *slog.Logger
	// OnReload, when set, is called after every reload attempt that saw
	// changed files, with nil on success.
	OnReload func(err error)
	// Dir is how the policy root is named in errors and logs ("policies"),
	// so a problem reads "policies/authz.rego:12: ...".
	Dir string
	// EvalTimeout bounds one evaluation (a decision, has(), an
	// explanation); 0 means DefaultEvalTimeout. A policy that runs longer
	// is stopped and answered as an error, never an allow.
	EvalTimeout time.Duration
	// OnTimeout, when set, is called for every evaluation stopped at its
	// deadline.
	OnTimeout func()
}

// DefaultEvalTimeout is how long one evaluation may run. Verdict's own
// layer decides in well under a millisecond; the deadline is for a team
// rule that walks far more than it should, which would otherwise hold its
// request, and every request queued behind it, for as long as it runs.
const DefaultEvalTimeout = 250 * time.Millisecond

// ErrEvalTimeout means an evaluation ran past its deadline.
var ErrEvalTimeout = errors.New("policy evaluation ran past its deadline")

// Engine evaluates decisions against the current policy revision. It is safe
// for concurrent use; a reload swaps the whole revision atomically, so an
// evaluation sees either the old policies or the new ones, never a mix.
type Engine struct {
	fsys        fs.FS
	logger      *slog.Logger
	onReload    func(error)
	onTimeout   func()
	evalTimeout time.Duration
	dir         string
	current     atomic.Pointer[revision]

	mu          sync.Mutex // serializes reloads
	lastAttempt string     // revision of the last snapshot tried, good or bad
}

// Load reads and compiles the policies under the root of fsys. It fails with
// a *CompileError when they do not compile.
func Load(ctx context.Context, fsys fs.FS, opts Options) (*Engine, error) {
	e := &Engine{
		fsys: fsys, logger: opts.Logger, onReload: opts.OnReload, dir: opts.Dir,
		onTimeout: opts.OnTimeout, evalTimeout: cmp.Or(opts.EvalTimeout, DefaultEvalTimeout),
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	s, err := e.read()
	if err != nil {
		return nil, err
	}
	rev, err := e.compile(ctx, s)
	if err != nil {
		return nil, err
	}
	e.current.Store(rev)
	e.lastAttempt = rev.name
	return e, nil
}

// Revision names the policy revision being served: "sha256:" and the hash of
// the policy files.
func (e *Engine) Revision() string { return e.current.Load().name }

// Prepare returns p prepared for evaluation (its policy input), for all
// the evaluations of its session. It fails only for a principal that
// cannot be expressed as policy input.
func (e *Engine) Prepare(p authz.Principal) (authz.Subject, error) {
	st, err := newPrincipalState(p)
	if err != nil {
		return nil, fmt.Errorf("build policy input: %w", err)
	}
	return st, nil
}

// Evaluate answers one input with the current revision. An error, an
// undefined result or a result of the wrong shape is an error, never an allow.
func (e *Engine) Evaluate(ctx context.Context, in authz.Input) (authz.Outcome, string, error) {
	rev := e.current.Load()
	st, lasting, input, err := decisionInput(in)
	if err != nil {
		return authz.Outcome{}, rev.name, err
	}
	var c carry
	v, err := e.eval(ctx, rev.decision, input, nil, rev.decision.carryFor(&c, st, lasting, in.Check.Action))
	if err != nil {
		return authz.Outcome{}, rev.name, fmt.Errorf("evaluate %s: %w", DecisionQuery, err)
	}
	out, err := outcome(v)
	out.Deterministic = rev.deterministic
	return out, rev.name, err
}

// Actions lists the actions the current revision knows (ActionsQuery),
// sorted. The slice is the revision's: callers must not change it.
func (e *Engine) Actions() []string { return e.current.Load().actions }

// EvaluateActions answers in once per action, each exactly as Evaluate
// would answer it, all under the current revision; nil actions means the
// revision's own (Actions). The input's resource, context and subject are
// built once for all of them.
func (e *Engine) EvaluateActions(ctx context.Context, in authz.Input, actions []string) ([]string, []authz.Outcome, string, error) {
	rev := e.current.Load()
	if actions == nil {
		actions = rev.actions
	}
	st, lasting, err := stateOf(in.Subject)
	if err != nil {
		return nil, nil, rev.name, fmt.Errorf("build policy input: %w", err)
	}
	parts, err := checkParts(in.Check)
	if err != nil {
		return nil, nil, rev.name, fmt.Errorf("build policy input: %w", err)
	}
	r, err := rev.decision.start(ctx, e.evalTimeout)
	if err != nil {
		return nil, nil, rev.name, fmt.Errorf("evaluate %s: %w", DecisionQuery, err)
	}
	defer r.close()
	r.shareAcrossActions()
	outs := make([]authz.Outcome, len(actions))
	input := parts.input(st.obj, "")
	var c carry
	for i, action := range actions {
		setAction(input, action)
		v, err := e.run(r, input, nil, rev.decision.carryFor(&c, st, lasting, action))
		if err != nil {
			return nil, nil, rev.name, fmt.Errorf("evaluate %s for action %s: %w", DecisionQuery, action, err)
		}
		if outs[i], err = outcome(v); err != nil {
			return nil, nil, rev.name, fmt.Errorf("action %s: %w", action, err)
		}
		outs[i].Deterministic = rev.deterministic
	}
	return actions, outs, rev.name, nil
}

// Has answers Clerk's has() for s and check (any JSON value) with the
// current revision's built-in library.
func (e *Engine) Has(ctx context.Context, s authz.Subject, check any) (authz.HasAnswer, error) {
	rev := e.current.Load()
	st, lasting, err := stateOf(s)
	if err != nil {
		return authz.HasAnswer{}, fmt.Errorf("build has() input: %w", err)
	}
	input, err := hasInputValue(st.obj, check)
	if err != nil {
		return authz.HasAnswer{}, fmt.Errorf("build has() input: %w", err)
	}
	var c carry
	v, err := e.eval(ctx, rev.has, input, nil, rev.has.carryFor(&c, st, lasting, ""))
	if err != nil {
		return authz.HasAnswer{}, fmt.Errorf("evaluate %s: %w", HasQuery, err)
	}
	result, reason, message, err := answerFields(v, HasQuery, keyResult)
	return authz.HasAnswer{Result: result, Reason: reason, Message: message}, err
}

// eval runs a prepared query under the evaluation deadline. A run the
// deadline stopped is ErrEvalTimeout, and counted. carry, when not nil,
// brings and keeps the values carried between evaluations.
func (e *Engine) eval(ctx context.Context, q *ruleQuery, input ast.Value, tracer topdown.QueryTracer, carry *carry) (ast.Value, error) {
	r, err := q.start(ctx, e.evalTimeout)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return e.run(r, input, tracer, carry)
}

// run is eval's evaluation, on a runner that may serve several.
func (e *Engine) run(r *runner, input ast.Value, tracer topdown.QueryTracer, carry *carry) (ast.Value, error) {
	v, computed, err := r.eval(input, tracer, carry)
	carry.finish(computed)
	if errors.Is(err, ErrEvalTimeout) && e.onTimeout != nil {
		e.onTimeout()
	}
	return v, err
}

// ErrUndefined means the policies produced no answer for an input.
var ErrUndefined = errors.New("the policies are undefined for this input")

// outcome extracts the decision object. Anything but an object with a
// boolean allow and a non-empty string reason is refused.
func outcome(v ast.Value) (authz.Outcome, error) {
	allow, reason, message, err := answerFields(v, DecisionQuery, keyAllow)
	return authz.Outcome{Allow: allow, Reason: reason, Message: message}, err
}

// answerFields reads {<flag>: bool, "reason": non-empty string, "message":
// string} from the value a query produced; anything else is an error, so a
// malformed answer is never taken for a yes.
func answerFields(v ast.Value, query string, flag *ast.Term) (bool, authz.Reason, string, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return false, "", "", fmt.Errorf("%s is %s, want an object", query, ast.ValueName(v))
	}
	yes, ok := field[ast.Boolean](obj, flag)
	if !ok {
		return false, "", "", fmt.Errorf("%s.%s is missing or not a boolean", query, flag.Value.(ast.String))
	}
	reason, _ := field[ast.String](obj, keyReason)
	if reason == "" {
		return false, "", "", fmt.Errorf("%s.reason is missing or not a string", query)
	}
	message, _ := field[ast.String](obj, keyMessage)
	return bool(yes), authz.Reason(reason), string(message), nil
}

// field is obj[key] when it holds a T.
func field[T ast.Value](obj ast.Object, key *ast.Term) (T, bool) {
	var zero T
	t := obj.Get(key)
	if t == nil {
		return zero, false
	}
	v, ok := t.Value.(T)
	return v, ok
}

// Activate compiles the policy files at the root of fsys (a bundle's) and
// swaps them in, as Reload does for the engine's own files: a set that
// does not compile is refused with a *CompileError and the current
// revision keeps serving; the set already serving is left as it is.
// Unlike Reload it does not skip the set it last refused: its caller
// decides what to offer again. An engine fed by Activate is not Watched.
func (e *Engine) Activate(ctx context.Context, fsys fs.FS) error {
	s, err := readSnapshot(fsys, false)
	if err != nil {
		err = inDir(err, e.dir)
		e.report(err)
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name := s.revision()
	if name == e.Revision() {
		return nil
	}
	e.lastAttempt = name
	rev, err := e.compile(ctx, s)
	if err == nil {
		e.current.Store(rev)
	}
	e.report(err)
	return err
}

// Reload reads the policy files again and, if they changed since the last
// attempt, compiles them and swaps them in. A set that does not compile is
// refused with a *CompileError and the current revision keeps serving; the
// same broken files are not retried until they change again.
func (e *Engine) Reload(ctx context.Context) (changed bool, err error) {
	s, err := e.read()
	return e.apply(ctx, s, err)
}

// apply compiles s (or counts err, the failure to read it) and swaps it in,
// unless it is the set last tried.
func (e *Engine) apply(ctx context.Context, s snapshot, readErr error) (changed bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if readErr != nil {
		// Count an unreadable directory once, not on every poll.
		if attempt := "unreadable: " + readErr.Error(); attempt != e.lastAttempt {
			e.lastAttempt = attempt
			e.report(readErr)
			return true, readErr
		}
		return false, nil
	}
	name := s.revision()
	if name == e.lastAttempt {
		return false, nil
	}
	e.lastAttempt = name
	rev, err := e.compile(ctx, s)
	if err == nil {
		e.current.Store(rev)
	}
	e.report(err)
	return true, err
}

func (e *Engine) report(err error) {
	if e.onReload != nil {
		e.onReload(err)
	}
}

// compile compiles a snapshot and names files in problems from the policy
// root the operator knows.
func (e *Engine) compile(ctx context.Context, s snapshot) (*revision, error) {
	rev, err := compile(ctx, s)
	return rev, inDir(err, e.dir)
}

// Validate runs every check Load makes on the policies under the root of
// fsys, without preparing them to serve: nil, or a *CompileError listing
// every problem found. dir names the root in problems ("policies").
func Validate(ctx context.Context, fsys fs.FS, dir string) error {
	s, err := readSnapshot(fsys, false)
	if err != nil {
		return inDir(err, dir)
	}
	_, _, err = check(ctx, s)
	return inDir(err, dir)
}

// read reads the policy files as they are now; problems with a file name
// it from the policy root.
func (e *Engine) read() (snapshot, error) {
	s, err := readSnapshot(e.fsys, false)
	return s, inDir(err, e.dir)
}

// inDir names the files of a *CompileError's problems from dir, the policy
// root the operator knows; built-in files keep their own names.
func inDir(err error, dir string) error {
	var ce *CompileError
	if errors.As(err, &ce) && dir != "" {
		for i := range ce.Problems {
			if f := ce.Problems[i].File; f != "" && !strings.HasPrefix(f, builtinPrefix) {
				ce.Problems[i].File = path.Join(dir, f)
			}
		}
	}
	return err
}

// Watch polls the policy files every interval and reloads them when they
// change, until ctx ends. An edit is applied once two polls in a row see
// the same files, so a file caught half-written by an editor that does not
// save atomically is not reported as a failed reload. Polling (rather than
// file-system events) also sees the symlink swaps Kubernetes uses to update
// mounted ConfigMaps, and costs a few small reads per interval.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := e.Revision()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := e.read()
		now := s.revision()
		if err != nil {
			now = "unreadable: " + err.Error()
		}
		if now != last {
			last = now // changed since the last poll: let it settle
			continue
		}
		// The very files two polls agreed on, not a fresh read that could
		// catch a save half-way.
		e.logReload(e.apply(ctx, s, err))
	}
}

// logReload logs what a reload attempt came to.
func (e *Engine) logReload(changed bool, err error) {
	var ce *CompileError
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			e.logger.Error("policy reload refused; previous policies keep serving",
				"file", p.File, "line", p.Line, "error", p.Message, "revision", e.Revision())
		}
	case err != nil:
		e.logger.Error("policy reload failed; previous policies keep serving", "error", err)
	case changed:
		e.logger.Info("policies reloaded", "revision", e.Revision())
	}
}
