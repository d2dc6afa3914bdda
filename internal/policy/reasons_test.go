package policy

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestBuiltinReasonsAreTheDomains keeps the reason codes of the built-in
// policies and the shipped catalog in step with the one list of them
// (authz): every code the Rego can answer with is one authz defines, and
// every code authz defines for the policies to give is given somewhere.
// The codes are read from the compiled modules where the policies write
// them: the "reason" member of an object, the keys of the precedence
// tables, the values of the functions that name a requirement's code,
// and the catalog's "deny" codes.
func TestBuiltinReasonsAreTheDomains(t *testing.T) {
	s, err := readSnapshot(os.DirFS("../../policies"), false)
	if err != nil {
		t.Fatal(err)
	}
	compiler, _, err := check(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	inRego := map[authz.Reason]bool{}
	for name, m := range compiler.Modules {
		if !s.builtin[name] {
			continue
		}
		collectReasons(m, inRego)
	}
	for _, code := range catalogDenyCodes(t, s.files["data.json"]) {
		inRego[code] = true
	}

	known := authz.KnownReasons()
	for code := range inRego {
		if !slices.Contains(known, code) {
			t.Errorf("the built-in policies answer with %q, which authz does not define", code)
		}
	}
	// The token's reasons are the service's, never the policies'.
	tokenReasons := authz.TokenReasons()
	for _, code := range known {
		if !slices.Contains(tokenReasons, code) && !inRego[code] {
			t.Errorf("authz defines %q, which no built-in policy gives", code)
		}
	}
}

// precedenceTables are the built-in rules whose keys are reason codes.
var precedenceTables = map[string]bool{"rank": true, "_reason_rank": true, "_implied_order": true}

// codeFunctions are the built-in functions whose values are reason codes,
// or [code, message] pairs.
var codeFunctions = map[string]bool{"_reason": true, "_implied": true, "_answer": true}

func collectReasons(m *ast.Module, into map[authz.Reason]bool) {
	reasonKey := ast.StringTerm("reason")
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if obj, ok := t.Value.(ast.Object); ok {
			if v := obj.Get(reasonKey); v != nil {
				if s, ok := v.Value.(ast.String); ok {
					into[authz.Reason(s)] = true
				}
			}
		}
		return false
	})
	ast.WalkRules(m, func(r *ast.Rule) bool {
		switch name := ruleName(r); {
		case precedenceTables[name]:
			if obj, ok := r.Head.Value.Value.(ast.Object); ok {
				for _, k := range obj.Keys() {
					into[authz.Reason(k.Value.(ast.String))] = true
				}
			}
		case codeFunctions[name]:
			v := r.Head.Value.Value
			if pair, ok := v.(*ast.Array); ok && pair.Len() > 0 {
				v = pair.Elem(0).Value
			}
			if s, ok := v.(ast.String); ok {
				into[authz.Reason(s)] = true
			}
		}
		return false
	})
}

// ruleName is the last part of a rule's name (rank, _reason).
func ruleName(r *ast.Rule) string {
	ref := r.Head.Ref()
	switch last := ref[len(ref)-1].Value.(type) {
	case ast.Var:
		return string(last)
	case ast.String:
		return string(last)
	}
	return ""
}

// catalogDenyCodes are the "deny" codes of the shipped catalog's
// requirements.
func catalogDenyCodes(t *testing.T, data []byte) []authz.Reason {
	t.Helper()
	var doc struct {
		Verdict struct {
			Actions map[string]struct {
				Requires []struct {
					Deny authz.Reason `json:"deny"`
				} `json:"requires"`
			} `json:"actions"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var codes []authz.Reason
	for _, entry := range doc.Verdict.Actions {
		for _, req := range entry.Requires {
			if req.Deny != "" {
				codes = append(codes, req.Deny)
			}
		}
	}
	return codes
}
