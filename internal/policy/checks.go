package policy

import (
	"context"
	"fmt"
	"maps"
	pathpkg "path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// teamRoot is the one namespace under data.verdict (verdictRoot) a policy
// file may declare, as verdict.rules.<name>. Everything else under verdict is the
// built-in layer's (the decision, tenancy, permissions, the catalog's
// semantics, the Clerk library) or the policies' data (roles, actions), so
// no file can replace or extend what the invariants rest on.
var (
	verdictRoot = ast.MustParseRef("data.verdict")
	teamRoot    = ast.MustParseRef("data.verdict.rules")
)

// teamRules are the rules of a team package that the built-in layer
// reads; deny and grant are read as sets.
var teamRules = map[string]bool{"deny": true, "grant": true, "actions": true}

// teamSetRules must be set rules: a deny or grant written as anything else
// would otherwise be read as empty, and a deny that never fires is an
// allow.
var teamSetRules = map[string]bool{"deny": true, "grant": true}

// moduleProblems checks what a policy file may declare, before compiling:
// no package of the built-in layer; deny and grant as set rules; the rules
// the built-in layer reads only in a package verdict.rules.<name> (deeper,
// they would never be read); and one directory per team package, so that
// one team cannot quietly redefine a helper another team's deny relies on.
// builtin names the built-in layer's own modules, which are exempt.
func moduleProblems(modules map[string]*ast.Module, builtin map[string]bool) []Problem {
	var out []Problem
	teamDirs := map[string]string{} // package → the directory of its first file
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		m := modules[name]
		if builtin[name] {
			continue
		}
		path := m.Package.Path
		if !path.HasPrefix(verdictRoot) {
			continue
		}
		if !path.HasPrefix(teamRoot) || len(path) <= len(teamRoot) {
			out = append(out, problemAt(m.Package.Location, fmt.Sprintf(
				"package %s is reserved for Verdict's built-in layer; put team rules in a package of their own, verdict.rules.<name>",
				packageName(path))))
			continue
		}
		team := path[:len(teamRoot)+1].String()
		dir := pathpkg.Dir(name)
		if first, ok := teamDirs[team]; !ok {
			teamDirs[team] = dir
		} else if first != dir {
			out = append(out, problemAt(m.Package.Location, fmt.Sprintf(
				"package %s is declared in %s and in %s; a team package lives in one directory, so that no other team's file can change its rules",
				packageName(path[:len(teamRoot)+1]), first, dir)))
		}
		if len(path) > len(teamRoot)+1 {
			if below, ok := path[len(teamRoot)+1].Value.(ast.String); ok && teamRules[string(below)] {
				// package verdict.rules.x.actions: its rules would be read
				// as entries that no load-time check sees.
				out = append(out, problemAt(m.Package.Location, fmt.Sprintf(
					"package %s is refused: %s of a team package is defined by rules named %s in package %s, never by a package",
					packageName(path), below, below, packageName(path[:len(teamRoot)+1]))))
				continue
			}
		}
		for _, r := range m.Rules {
			out = append(out, teamRuleProblems(path, r)...)
		}
	}
	return out
}

// teamRuleProblems checks one rule of a package under verdict.rules.
func teamRuleProblems(path ast.Ref, r *ast.Rule) []Problem {
	rule := r.Head.Ref()[0].String()
	switch {
	case !teamRules[rule]:
		return nil
	case len(path) > len(teamRoot)+1:
		return []Problem{problemAt(r.Location, fmt.Sprintf(
			"%s in package %s is never read: Verdict reads deny, grant and actions of packages verdict.rules.<name> only (here: %s)",
			rule, packageName(path), packageName(path[:len(teamRoot)+1])))}
	case teamSetRules[rule] && r.Head.RuleKind() != ast.MultiValue:
		return []Problem{problemAt(r.Location, fmt.Sprintf(
			"%s in package %s must be a set rule: write `%s contains {\"reason\": \"<code>\", \"message\": \"<text>\"} if { ... }`",
			rule, packageName(path), rule))}
	}
	return nil
}

// catalogInputs finds team actions that depend on the request (or on the
// clock, or anything else that changes between load and decision): the
// catalog is checked once, at load, so an entry that exists only for some
// inputs would never be checked (and could make a permission key
// user-scoped). An actions rule may read data, never input or a
// non-deterministic builtin, directly or through the rules it uses.
func catalogInputs(compiler *ast.Compiler) []Problem {
	var out []Problem
	for _, m := range teamModules(compiler.Modules) {
		for _, r := range m.Rules {
			if r.Head.Ref()[0].String() != "actions" {
				continue
			}
			if readsInput(compiler, r) {
				out = append(out, problemAt(r.Location, fmt.Sprintf(
					"actions in package %s depends on input (or the clock); catalog entries are checked once, when the policies load, so they must not depend on the request",
					packageName(m.Package.Path))))
			}
		}
	}
	return out
}

// readsInput reports whether rule, or any rule it depends on, refers to
// input (or replaces it with `with`) or calls a non-deterministic builtin.
func readsInput(compiler *ast.Compiler, rule *ast.Rule) bool {
	seen := map[*ast.Rule]bool{}
	var visit func(r *ast.Rule) bool
	visit = func(r *ast.Rule) bool {
		if seen[r] {
			return false
		}
		seen[r] = true
		found := false
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			b, builtin := ast.BuiltinMap[ref.String()]
			found = found || ref.HasPrefix(ast.InputRootRef) || builtin && b.Nondeterministic
			return found
		})
		if found {
			return true
		}
		for dep := range compiler.Graph.Dependencies(r) {
			if d, ok := dep.(*ast.Rule); ok && visit(d) {
				return true
			}
		}
		return false
	}
	return visit(rule)
}

// teamModules are the modules of team packages (verdict.rules.<name>), in
// file name order.
func teamModules(modules map[string]*ast.Module) []*ast.Module {
	var out []*ast.Module
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		if path := modules[name].Package.Path; path.HasPrefix(teamRoot) && len(path) > len(teamRoot) {
			out = append(out, modules[name])
		}
	}
	return out
}

// undefinedReferences finds references into a package the policy set
// defines, to a name that no file of that package defines and no data
// provides: a misspelled rule (`locked.denail`) would otherwise be quietly
// undefined, and a deny that never fires is an allow. OPA's compiler cannot
// tell, because data may arrive later; Verdict's policy set is complete at
// load, so it can.
func undefinedReferences(ctx context.Context, compiler *ast.Compiler, store storage.Store) []Problem {
	defined := packageContents(compiler.Modules)
	var out []Problem
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(compiler.Modules)) {
		ast.WalkRefs(compiler.Modules[name], func(r ast.Ref) bool {
			i, next, ok := nextNameAfterPackage(r, defined)
			if !ok || defined[r[:i].String()][next] || inData(ctx, store, r[:i+1]) {
				return false
			}
			p := problemAt(r[i].Location, fmt.Sprintf(
				"%s: package %s defines no rule %s, and no data provides it",
				r[:i+1], packageName(r[:i]), next))
			if key := p.String(); !seen[key] {
				seen[key] = true
				out = append(out, p)
			}
			return false
		})
	}
	return out
}

// packageContents maps each package the set declares
// ("data.verdict.rules.locked") to the names defined directly inside it: its
// rules, and the next segment of every package declared below it.
func packageContents(modules map[string]*ast.Module) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, m := range modules {
		out[m.Package.Path.String()] = map[string]bool{}
	}
	for _, m := range modules {
		path := m.Package.Path
		for i := 2; i < len(path); i++ {
			if names, isPackage := out[path[:i].String()]; isPackage {
				names[string(path[i].Value.(ast.String))] = true
			}
		}
		for _, r := range m.Rules {
			out[path.String()][r.Head.Ref()[0].String()] = true
		}
	}
	return out
}

// nextNameAfterPackage finds the longest prefix r[:i] of r that is a
// package the set defines and returns i with the constant name r[i] that
// follows it. ok is false when r reaches into no package, or past it with a
// variable.
func nextNameAfterPackage(r ast.Ref, defined map[string]map[string]bool) (i int, next string, ok bool) {
	if !r.HasPrefix(ast.DefaultRootRef) {
		return 0, "", false
	}
	for i := len(r) - 1; i >= 2; i-- {
		if _, isPackage := defined[r[:i].String()]; !isPackage {
			continue
		}
		s, isString := r[i].Value.(ast.String)
		return i, string(s), isString
	}
	return 0, "", false
}

// inData reports whether the store holds a value at ref.
func inData(ctx context.Context, store storage.Store, ref ast.Ref) bool {
	path, err := storage.NewPathForRef(ref)
	if err != nil {
		return false
	}
	_, err = storage.ReadOne(ctx, store, path)
	return err == nil
}

// packageName renders a package path as it is declared: verdict.rules.x.
func packageName(path ast.Ref) string {
	return strings.TrimPrefix(path.String(), "data.")
}

func problemAt(loc *ast.Location, msg string) Problem {
	p := Problem{Message: msg}
	if loc != nil {
		p.File, p.Line = loc.File, loc.Row
	}
	return p
}
