package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/verdict-pdp/verdict/internal/jsonpointer"
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

// ActionsQuery lists every action the policies know: the catalog's
// entries, shipped and the teams', and the system permission keys. It is
// evaluated once per revision, for the requests that ask about every
// action at once (allowed actions, AuthZEN's action search).
const ActionsQuery = "data.verdict.catalog.actions"

// Problem is one thing wrong with a policy set, located in a file.
type Problem struct {
	File    string // path relative to the policy root, "" when not tied to a file
	Line    int    // 1-based, 0 when unknown
	Message string
}

// Error lets a Problem travel as an error until it joins a CompileError.
func (p *Problem) Error() string { return p.String() }

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
	decision *ruleQuery
	has      *ruleQuery
	// deterministic is false when any rule calls a builtin whose result
	// is not a function of its arguments (time, randomness, network).
	deterministic bool
	// actions are ActionsQuery's answer, sorted.
	actions []string
	// logMask are the JSON pointers the decision log removes from every
	// entry (data.verdict.decision_log.mask).
	logMask []jsonpointer.Pointer
}

// compile loads, checks, compiles and prepares a snapshot. Every check
// `serve` makes at load runs here, so `verdict validate`, `serve`, `dev` and
// hot reload refuse exactly the same sets, each problem with file and line.
func compile(ctx context.Context, s snapshot) (*revision, error) {
	compiler, store, err := check(ctx, s)
	if err != nil {
		return nil, err
	}
	rev := &revision{name: s.revision(), deterministic: deterministic(compiler)}
	rev.logMask, _ = decisionLogMask(ctx, store) // check refused any problem
	if rev.decision, err = prepareQuery(compiler, store, DecisionQuery); err != nil {
		return nil, asCompileError(err, s)
	}
	if rev.has, err = prepareQuery(compiler, store, HasQuery); err != nil {
		return nil, asCompileError(err, s)
	}
	if rev.actions, err = knownActions(ctx, compiler, store); err != nil {
		return nil, asCompileError(err, s)
	}
	if rev.deterministic {
		reusable := reusableRules(compiler, readsPrincipalOrAction)
		rev.decision.carried = newCarriedResults(reusable)
		rev.has.carried = newCarriedResults(reusable)
		rev.decision.actionFree = reusableRules(compiler, readsAllButAction).result
	}
	return rev, nil
}

// knownActions evaluates ActionsQuery: a set of strings.
func knownActions(ctx context.Context, compiler *ast.Compiler, store storage.Store) ([]string, error) {
	q, err := prepareQuery(compiler, store, ActionsQuery)
	if err != nil {
		return nil, err
	}
	v, _, err := q.eval(ctx, ast.NewObject(), DefaultEvalTimeout, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", ActionsQuery, err)
	}
	set, ok := v.(ast.Set)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want a set of action names", ActionsQuery, ast.ValueName(v))
	}
	names := make([]string, 0, set.Len())
	err = set.Sorted().Iter(func(t *ast.Term) error {
		name, ok := t.Value.(ast.String)
		if !ok {
			return fmt.Errorf("%s holds %s, want action names", ActionsQuery, t)
		}
		names = append(names, string(name))
		return nil
	})
	return names, err
}

// check runs the load-time checks in stages, each stage reporting every
// problem it finds: parsing; the packages a policy file may declare and the
// shape of team rules, with OPA's strict compilation; then, on the compiled
// set, references to rules that nothing defines and the catalog's problems.
func check(ctx context.Context, s snapshot) (*ast.Compiler, storage.Store, error) {
	loaded, err := loader.NewFileLoader().
		WithFS(s.fs()).
		WithRegoVersion(ast.RegoV1).
		All([]string{"."})
	if err != nil {
		return nil, nil, asCompileError(err, s)
	}
	modules := loaded.ParsedModules()
	problems := append(moduleProblems(modules, s.builtin), s.dataProblems()...)
	compiler := ast.NewCompiler().
		WithCapabilities(policyCapabilities()).
		WithEnablePrintStatements(false).
		WithStrict(true).
		SetErrorLimit(0)
	if compiler.Compile(modules); compiler.Failed() {
		problems = append(problems, asCompileError(compiler.Errors, s).Problems...)
	}
	if len(problems) > 0 {
		return nil, nil, &CompileError{Problems: problems}
	}
	// Reads return OPA values as stored, so a decision that looks up the
	// catalog does not convert it from Go values every time.
	store, err := loaded.StoreWithOpts(inmem.OptReturnASTValuesOnRead(true))
	if err != nil {
		return nil, nil, asCompileError(err, s)
	}
	problems = append(undefinedReferences(ctx, compiler, store), catalogInputs(compiler)...)
	_, maskProblems := decisionLogMask(ctx, store)
	problems = append(problems, maskProblems...)
	data, err := dataProblems(ctx, compiler, store, s)
	if err != nil {
		return nil, nil, asCompileError(err, s)
	}
	if problems = append(problems, data...); len(problems) > 0 {
		return nil, nil, &CompileError{Problems: problems}
	}
	return compiler, store, nil
}

// withheldBuiltins reach the network or the file system: http.send and
// net.lookup_ip_addr directly, the JSON schema builtins through a "$ref"
// (http:, https: and file:, a FIFO included). A decision point in every
// request path must not make requests or read files on a policy's say (a
// team rule could send the input anywhere, or wait on a slow host while a
// request waits on it); a policy that calls one does not compile.
var withheldBuiltins = map[string]bool{
	"http.send": true, "net.lookup_ip_addr": true,
	"json.verify_schema": true, "json.match_schema": true,
}

// policyCapabilities are OPA's capabilities without withheldBuiltins, and
// with no host allowed to be reached (a second fence should a builtin
// that fetches be added to OPA).
func policyCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return withheldBuiltins[b.Name] })
	caps.AllowNet = []string{}
	return caps
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
// without a catalog) is no problem. Each problem that names a catalog entry
// is placed at the entry's line in the data file that holds the catalog.
func dataProblems(ctx context.Context, compiler *ast.Compiler, store storage.Store, s snapshot) ([]Problem, error) {
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
		problems[i] = s.locateCatalogProblem(fmt.Sprint(v), compiler.Modules)
	}
	return problems, nil
}

// locateCatalogProblem places a catalog problem where a person would fix
// it: a team package's problem at its package line; an entry's problem in
// the team file that names the entry, else at the entry's line in the data
// file that holds the shipped catalog.
func (s snapshot) locateCatalogProblem(msg string, modules map[string]*ast.Module) Problem {
	teams := teamModules(modules)
	if rest, ok := strings.CutPrefix(msg, "package "); ok {
		pkg, _, _ := strings.Cut(rest, ":")
		for _, m := range teams {
			if packageName(m.Package.Path) == pkg {
				return problemAt(m.Package.Location, msg)
			}
		}
	}
	entry, _, ok := strings.Cut(strings.TrimPrefix(msg, "catalog entry "), ": ")
	if !ok {
		return Problem{File: s.catalogFile(), Message: msg}
	}
	needle := []byte(strconv.Quote(entry))
	for _, m := range teams {
		if line := lineOf(s.files[m.Package.Location.File], needle); line > 0 {
			return Problem{File: m.Package.Location.File, Line: line, Message: msg}
		}
	}
	catalog := s.catalogFile()
	return Problem{File: catalog, Line: lineOf(s.files[catalog], needle), Message: msg}
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

// fileProblem attributes a loader message ("data.json: invalid
// character...") to its file, and for a JSON syntax error to its line.
func fileProblem(msg string, s snapshot) Problem {
	for name, b := range s.files {
		if rest, ok := strings.CutPrefix(msg, name+": "); ok {
			p := Problem{File: name, Message: rest}
			var syntax *json.SyntaxError
			if path.Ext(name) == ".json" && errors.As(json.Unmarshal(b, new(any)), &syntax) {
				p.Line = bytes.Count(b[:syntax.Offset], []byte{'\n'}) + 1
			}
			return p
		}
	}
	return Problem{Message: msg}
}

// lineOf is the 1-based line of the first occurrence of needle in b, 0 when
// there is none.
func lineOf(b, needle []byte) int {
	i := bytes.Index(b, needle)
	if i < 0 {
		return 0
	}
	return bytes.Count(b[:i], []byte{'\n'}) + 1
}
