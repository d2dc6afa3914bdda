package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// teamPackage is the one namespace under data.verdict a policy file may
// declare: verdict.rules.<name>. Everything else under verdict is the
// built-in layer's (the decision, tenancy, permissions, the catalog's
// semantics, the Clerk library) or the policies' data (roles, actions), so
// no file can replace or extend what the invariants rest on.
var (
	verdictRoot = ast.MustParseRef("data.verdict")
	teamRoot    = ast.MustParseRef("data.verdict.rules")
)

// teamSetRules are the rules of a team package that the built-in layer
// reads as sets: a deny or grant written as anything else would otherwise
// be read as empty, and a deny that never fires is an allow.
var teamSetRules = map[string]bool{"deny": true, "grant": true}

// moduleProblems checks what a policy file may declare, before compiling:
// no package of the built-in layer, and deny and grant as set rules.
// Built-in modules are exempt.
func moduleProblems(modules map[string]*ast.Module) []Problem {
	var out []Problem
	for _, name := range sortedKeys(modules) {
		m := modules[name]
		if strings.HasPrefix(name, builtinPrefix) {
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
		for _, r := range m.Rules {
			rule := r.Head.Ref()[0].String()
			if teamSetRules[rule] && r.Head.RuleKind() != ast.MultiValue {
				out = append(out, problemAt(r.Location, fmt.Sprintf(
					"%s in package %s must be a set rule: write `%s contains {\"reason\": \"<code>\", \"message\": \"<text>\"} if { ... }`",
					rule, packageName(path), rule)))
			}
		}
	}
	return out
}

// teamModules are the modules of team packages (verdict.rules.<name>), in
// file name order.
func teamModules(modules map[string]*ast.Module) []*ast.Module {
	var out []*ast.Module
	for _, name := range sortedKeys(modules) {
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
	for _, name := range sortedKeys(compiler.Modules) {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
