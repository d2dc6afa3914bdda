package policy_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/verdict-pdp/verdict/internal/policy"
)

// TestDecisionLogMask: the serving revision's data.verdict.decision_log
// .mask is the decision log's, and anything but a list of JSON pointers
// is a load error.
func TestDecisionLogMask(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(shippedPolicies + "/data.json")
	if err != nil {
		t.Fatal(err)
	}
	withMask := func(mask string) fstest.MapFS {
		return fstest.MapFS{
			"data.json":    {Data: shipped},
			"logging.json": {Data: []byte(`{"verdict": {"decision_log": {"mask": ` + mask + `}}}`)},
		}
	}
	e, err := policy.Load(context.Background(), withMask(`["/resource/attributes/ssn", "/context/ip", "/a~1b"]`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range e.DecisionLogMask() {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "/resource/attributes/ssn /context/ip /a~1b" {
		t.Errorf("DecisionLogMask() = %v", got)
	}
	if plain, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{}); err != nil || len(plain.DecisionLogMask()) != 0 {
		t.Errorf("shipped policies: mask %v, %v; want none", plain.DecisionLogMask(), err)
	}
	for mask, want := range map[string]string{
		`"/context/ip"`:  "must be a list of JSON pointers",
		`[1]`:            "mask[0] must be a string",
		`["context/ip"]`: `mask[0]: "context/ip": a JSON pointer starts with "/"`,
		`[""]`:           "the empty pointer names the whole entry",
	} {
		_, err := policy.Load(context.Background(), withMask(mask), policy.Options{})
		var ce *policy.CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("mask %s: Load error %v, want one saying %q", mask, err, want)
		}
	}
}
