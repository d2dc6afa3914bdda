package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/conformance"
)

// decisionCase is one file of testdata/decisions: raw Clerk claims (or none
// for an anonymous caller), a check, and the wanted answer. Time claims
// (exp, nbf, iat) are offsets in seconds from now.
type decisionCase struct {
	Description string          `json:"description"`
	Claims      map[string]any  `json:"claims"`
	Action      string          `json:"action"`
	Resource    json.RawMessage `json:"resource,omitempty"`
	Context     json.RawMessage `json:"context,omitempty"`
	Want        struct {
		Allow  bool   `json:"allow"`
		Reason string `json:"reason"`
	} `json:"want"`
}

func loadDecisionCases(t *testing.T) map[string]decisionCase {
	t.Helper()
	files, err := filepath.Glob("../../testdata/decisions/*.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := make(map[string]decisionCase, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c decisionCase
		if err := unmarshalStrictJSON(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Action == "" || c.Want.Reason == "" {
			t.Fatalf("%s: action and want.reason are required", f)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	return cases
}

func unmarshalStrictJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// TestDecisionCases replays every case of testdata/decisions through a real
// server: a real RS256 token carrying the case's claims, POST /v1/check.
func TestDecisionCases(t *testing.T) {
	t.Parallel()
	cases := loadDecisionCases(t)
	if len(cases) < 40 {
		t.Fatalf("found %d decision cases, want at least 40", len(cases))
	}
	inst := startServe(t)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := map[string]any{"action": c.Action}
			if c.Claims != nil {
				body["token"] = inst.mint(t, conformance.ResolveTimes(c.Claims, time.Now()))
			}
			if c.Resource != nil {
				body["resource"] = c.Resource
			}
			if c.Context != nil {
				body["context"] = c.Context
			}
			var got decision
			if status := inst.post(t, "/v1/check", body, &got); status != 200 {
				t.Fatalf("status %d, want 200", status)
			}
			if got.Allow != c.Want.Allow || got.Reason != c.Want.Reason {
				t.Errorf("%s\ngot allow=%v reason=%s (%s), want allow=%v reason=%s",
					c.Description, got.Allow, got.Reason, got.Message, c.Want.Allow, c.Want.Reason)
			}
			if got.Message == "" {
				t.Errorf("decision has no message")
			}
		})
	}
}
