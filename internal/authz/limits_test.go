package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authz"
)

func TestCheckValidate(t *testing.T) {
	t.Parallel()
	at := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name  string
		check authz.Check
		want  *authz.FieldError // nil: valid
	}{
		{"empty", authz.Check{}, nil},
		{"action at the limit", authz.Check{Action: at(authz.MaxActionBytes)}, nil},
		{"action over", authz.Check{Action: at(authz.MaxActionBytes + 1)}, &authz.FieldError{Field: "action", Size: 257, Limit: 256}},
		{"resource at the limit", authz.Check{Action: "a", Resource: &authz.Resource{Type: at(256), ID: at(256), OrgID: at(256), OrgSlug: at(256), OwnerID: at(256)}}, nil},
		{"type over", authz.Check{Action: "a", Resource: &authz.Resource{Type: at(257)}}, &authz.FieldError{Field: "resource.type", Size: 257, Limit: 256}},
		{"id over", authz.Check{Action: "a", Resource: &authz.Resource{ID: at(1 << 20)}}, &authz.FieldError{Field: "resource.id", Size: 1 << 20, Limit: 256}},
		{"org_id over", authz.Check{Action: "a", Resource: &authz.Resource{OrgID: at(257)}}, &authz.FieldError{Field: "resource.org_id", Size: 257, Limit: 256}},
		{"org_slug over", authz.Check{Action: "a", Resource: &authz.Resource{OrgSlug: at(257)}}, &authz.FieldError{Field: "resource.org_slug", Size: 257, Limit: 256}},
		{"owner_id over", authz.Check{Action: "a", Resource: &authz.Resource{OwnerID: at(257)}}, &authz.FieldError{Field: "resource.owner_id", Size: 257, Limit: 256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.check.Validate()
			var got *authz.FieldError
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	err := authz.Check{Action: at(300)}.Validate()
	if want := `"action" must be at most 256 bytes, not 300`; err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}
