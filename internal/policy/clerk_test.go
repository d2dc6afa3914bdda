package policy_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/conformance"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// TestClerkLibraryConformance replays testdata/clerk through the claim
// normalizer and the built-in has() library directly, without HTTP or
// signatures: the second path the suite checks.
func TestClerkLibraryConformance(t *testing.T) {
	t.Parallel()
	cases, err := conformance.Load("../../testdata/clerk")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("found %d conformance cases, want at least 60", len(cases))
	}
	engine, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			payload, err := json.Marshal(c.Payload(time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			p, err := authn.Normalize(payload)
			session := authz.SessionFor(p)
			switch te, _ := authz.AsTokenError(err); {
			case err != nil && te == nil:
				t.Fatalf("Normalize: %v", err)
			case te != nil || session.Rejected != nil:
				if te == nil {
					te = session.Rejected
				}
				if string(te.Reason) != c.Rejected {
					t.Errorf("token rejected with %s (%s), want %q", te.Reason, te.Message, c.Rejected)
				}
				return
			case c.Rejected != "":
				t.Fatalf("token accepted, want rejected with %s", c.Rejected)
			}
			want, got, err := c.ComparePrincipal(p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("principal mismatch (-want +got):\n%s", diff)
			}
			for _, h := range c.Has {
				got, err := engine.Has(context.Background(), authz.PrincipalSubject(p), h.Check)
				if err != nil {
					t.Fatalf("Has(%v): %v", h.Check, err)
				}
				if got.Result != h.Result || (h.Reason != "" && string(got.Reason) != h.Reason) {
					t.Errorf("has(%v) = %v %s (%s), want %v %s", h.Check, got.Result, got.Reason, got.Message, h.Result, h.Reason)
				}
			}
		})
	}
}
