package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// DecisionQuery is the rule every policy set must define: one object
// {"allow": bool, "reason": string, "message": string} for any input.
const DecisionQuery = "data.verdict.authz.decision"

// HasQuery is Clerk's has() answer from the built-in library: one object
// {"result": bool, "reason": string, "message": string} for an input
// {"principal": ..., "check": ...}.
const HasQuery = "data.verdict.clerk.response"

// ProblemsQuery names what is wrong with the policies' data (the action
// catalog): a set of messages, evaluated once per revision. A revision with
// any is refused like one that does not compile, so decisions never need to
// re-check the data.
const ProblemsQuery = "data.verdict.catalog.problems"

// Problem is one thing wrong with a policy set, located in a file.
type Problem struct {
	File    string // path relative to the policy root, "" when not tied to a file
	Line    int    // 1-based, 0 when unknown
	Message string
}

func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	case p.File != "":
		return fmt.Sprintf("%s: %s", p.File, p.Message)
	}
	return p.Message
}

// CompileError reports why a policy set was refused. Every problem names its
// file and line where OPA knows them.
type CompileError struct {
	Problems []Problem
}

func (e *CompileError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "policies do not compile: " + strings.Join(msgs, "; ")
}

// revision is one compiled, prepared policy set. It is immutable once built,
// so evaluations can share it without locks.
type revision struct {
	name     string
	decision rego.PreparedEvalQuery
	has      rego.PreparedEvalQuery
	// deterministic is false when any rule calls a builtin whose result
	// is not a function of its arguments (time, randomness, network).
	deterministic bool
}

// compile loads, compiles and prepares a snapshot.
func compile(ctx context.Context, s snapshot) (*revision, error) {
	loaded, err := loader.NewFileLoader().
		WithFS(s.fs()).
		WithRegoVersion(ast.RegoV1).
		All([]string{"."})
	if err != nil {
		return nil, asCompileError(err, s)
	}
	modules := loaded.ParsedModules()
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, asCompileError(compiler.Errors, s)
	}
	if len(compiler.GetRulesExact(ast.MustParseRef(DecisionQuery))) == 0 {
		return nil, &CompileError{Problems: []Problem{{
			Message: "no rule defines " + DecisionQuery,
		}}}
	}
	// Reads return OPA values as stored, so a decision that looks up the
	// catalog does not convert it from Go values every time.
	store, err := loaded.StoreWithOpts(inmem.OptReturnASTValuesOnRead(true))
	if err != nil {
		return nil, asCompileError(err, s)
	}
	if problems, err := dataProblems(ctx, compiler, store); err != nil {
		return nil, asCompileError(err, s)
	} else if len(problems) > 0 {
		return nil, &CompileError{Problems: problems}
	}
	rev := &revision{name: s.revision(), deterministic: deterministic(compiler)}
	for _, q := range []struct {
		query string
		dst   *rego.PreparedEvalQuery
	}{{DecisionQuery, &rev.decision}, {HasQuery, &rev.has}} {
		*q.dst, err = rego.New(
			rego.Query(q.query),
			rego.Compiler(compiler),
			rego.Store(store),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, asCompileError(err, s)
		}
	}
	return rev, nil
}

// clockReaders are builtins that read the wall clock although OPA does not
// mark them non-deterministic (certificate validity is checked against now).
var clockReaders = map[string]bool{
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

// deterministic reports whether the compiled policies can never reach a
// builtin whose result is not a function of its arguments (http.send,
// time.now_ns, rand.intn, uuid.rfc4122, certificate checks against the
// clock, ...), so that equal inputs always get equal decisions. Every
// reference is checked, not only call operators, so a builtin brought in
// by `with f as uuid.rfc4122` counts too.
func deterministic(compiler *ast.Compiler) bool {
	found := false
	for _, m := range compiler.Modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			name := r.String()
			if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic || clockReaders[name] {
				found = true
			}
			return found
		})
		if found {
			return false
		}
	}
	return true
}

// dataProblems evaluates ProblemsQuery; an undefined result (policies
// without a catalog) is no problem.
func dataProblems(ctx context.Context, compiler *ast.Compiler, store storage.Store) ([]Problem, error) {
	rs, err := rego.New(
		rego.Query(ProblemsQuery),
		rego.Compiler(compiler),
		rego.Store(store),
		rego.StrictBuiltinErrors(true),
	).Eval(ctx)
	if err != nil || len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, err
	}
	values, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return []Problem{{Message: fmt.Sprintf("%s is %T, want a set of messages", ProblemsQuery, rs[0].Expressions[0].Value)}}, nil
	}
	problems := make([]Problem, len(values))
	for i, v := range values {
		problems[i] = Problem{Message: fmt.Sprintf("%s: %v", ProblemsQuery, v)}
	}
	return problems, nil
}

// asCompileError turns the error shapes of OPA's loader, parser and compiler
// into a CompileError with file and line. Errors that carry no location but
// start with a file name of the snapshot (data files) are attributed to it.
func asCompileError(err error, s snapshot) *CompileError {
	var out CompileError
	var visit func(error)
	visit = func(err error) {
		var astErrs ast.Errors
		var loadErrs loader.Errors
		var astErr *ast.Error
		switch {
		case errors.As(err, &astErrs):
			for _, e := range astErrs {
				visit(e)
			}
		case errors.As(err, &loadErrs):
			for _, e := range loadErrs {
				visit(e)
			}
		case errors.As(err, &astErr):
			p := Problem{Message: astErr.Code + ": " + astErr.Message}
			if loc := astErr.Location; loc != nil {
				p.File, p.Line = loc.File, loc.Row
			}
			out.Problems = append(out.Problems, p)
		default:
			out.Problems = append(out.Problems, fileProblem(err.Error(), s))
		}
	}
	visit(err)
	return &out
}

func fileProblem(msg string, s snapshot) Problem {
	for name := range s.files {
		if rest, ok := strings.CutPrefix(msg, name+": "); ok {
			return Problem{File: name, Message: rest}
		}
	}
	return Problem{Message: msg}
}
