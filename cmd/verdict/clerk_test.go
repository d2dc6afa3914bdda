package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/conformance"
)

// TestClerkConformance replays testdata/clerk through the HTTP API: each
// case's claims in a real RS256 token, /v1/authenticate for the principal,
// /v1/has for every has() call.
func TestClerkConformance(t *testing.T) {
	t.Parallel()
	cases, err := conformance.Load("../../testdata/clerk")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("found %d conformance cases, want at least 60", len(cases))
	}
	inst := startServe(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			token, err := inst.issuer.Sign(c.Payload(time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			var auth struct {
				Authenticated bool           `json:"authenticated"`
				Principal     map[string]any `json:"principal"`
				Reason        string         `json:"reason"`
			}
			inst.post(t, "/v1/authenticate", map[string]any{"token": token}, &auth)
			switch {
			case c.Rejected != "" && (auth.Authenticated || auth.Reason != c.Rejected):
				t.Errorf("authenticate = %+v, want rejected with %s", auth, c.Rejected)
			case c.Rejected == "" && !auth.Authenticated:
				t.Errorf("authenticate = %+v, want a principal (%s)", auth, c.Description)
			case c.Rejected == "":
				want, got, err := c.ComparePrincipal(auth.Principal)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("principal mismatch (-want +got):\n%s", diff)
				}
			}
			for i, h := range c.Has {
				var got struct {
					Result bool   `json:"result"`
					Reason string `json:"reason"`
				}
				if status := inst.post(t, "/v1/has", map[string]any{"token": token, "check": h.Check}, &got); status != 200 {
					t.Fatalf("has[%d] status %d", i, status)
				}
				if got.Result != h.Result || (h.Reason != "" && got.Reason != h.Reason) {
					t.Errorf("has(%s) = %v %s, want %v %s", compact(t, h.Check), got.Result, got.Reason, h.Result, h.Reason)
				}
			}
		})
	}
}

func compact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
