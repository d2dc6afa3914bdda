package policy

import (
	"testing"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestEmptyAttributesAreLeftOut: the decision cache keys a resource by its
// JSON form, where empty attributes are omitted; the policy input must not
// tell the two apart either.
func TestEmptyAttributesAreLeftOut(t *testing.T) {
	t.Parallel()
	withEmpty, err := inputValue(emptyObject, authz.Input{Check: authz.Check{Action: "a", Resource: &authz.Resource{Type: "x", Attributes: map[string]any{}}}})
	if err != nil {
		t.Fatal(err)
	}
	without, err := inputValue(emptyObject, authz.Input{Check: authz.Check{Action: "a", Resource: &authz.Resource{Type: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if withEmpty.Compare(without) != 0 {
		t.Errorf("inputs differ: %v vs %v", withEmpty, without)
	}
}
