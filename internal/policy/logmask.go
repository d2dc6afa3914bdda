package policy

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/verdict-pdp/verdict/internal/jsonpointer"
)

// decisionLogMaskPath is where the policies' data lists the JSON pointers
// the decision log removes from every entry (data.verdict.decision_log.mask).
var decisionLogMaskPath = storage.MustParsePath("/verdict/decision_log/mask")

// decisionLogMask reads the policies' mask: nil when there is none, and a
// problem for anything but a list of JSON pointers, so that a misspelt
// mask is a load error rather than a field that quietly stays in the log.
func decisionLogMask(ctx context.Context, store storage.Store) ([]jsonpointer.Pointer, []Problem) {
	v, err := storage.ReadOne(ctx, store, decisionLogMaskPath)
	switch {
	case storage.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, []Problem{{Message: fmt.Sprintf("data.verdict.decision_log.mask: %v", err)}}
	}
	list, ok := v.(*ast.Array)
	if !ok {
		kind := fmt.Sprintf("%T", v)
		if av, isValue := v.(ast.Value); isValue {
			kind = ast.ValueName(av)
		}
		return nil, []Problem{{Message: fmt.Sprintf("data.verdict.decision_log.mask must be a list of JSON pointers (\"/resource/attributes/ssn\"), not %s", kind)}}
	}
	var pointers []jsonpointer.Pointer
	var problems []Problem
	for i := range list.Len() {
		s, ok := list.Elem(i).Value.(ast.String)
		if !ok {
			problems = append(problems, Problem{Message: fmt.Sprintf("data.verdict.decision_log.mask[%d] must be a string, a JSON pointer", i)})
			continue
		}
		p, err := jsonpointer.Parse(string(s))
		if err != nil {
			problems = append(problems, Problem{Message: fmt.Sprintf("data.verdict.decision_log.mask[%d]: %v", i, err)})
			continue
		}
		pointers = append(pointers, p)
	}
	return pointers, problems
}

// DecisionLogMask returns the JSON pointers the serving revision's data
// masks in the decision log.
func (e *Engine) DecisionLogMask() []jsonpointer.Pointer { return e.current.Load().logMask }
