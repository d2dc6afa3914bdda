// Package conformance reads Verdict's Clerk conformance suite
// (testdata/clerk): token payloads with the principal Clerk's SDK derives
// from them and the answers its has() gives. The suite is data so that the
// HTTP API and the policy library are checked against the same cases.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Case is one file of the suite.
type Case struct {
	Name        string         `json:"-"`
	Description string         `json:"description"`
	Claims      map[string]any `json:"claims"`
	// Principal lists the normalized principal's fields to compare, by
	// their contract names; fields left out are not compared.
	Principal map[string]any `json:"principal"`
	// Rejected is the reason the token must be refused for ("" when it
	// is accepted); every has() answer is then false with that reason.
	Rejected string     `json:"rejected"`
	Has      []HasCheck `json:"has"`
}

// HasCheck is one has() call and Clerk's answer.
type HasCheck struct {
	Check  any    `json:"check"`
	Result bool   `json:"result"`
	Reason string `json:"reason,omitempty"` // checked when set
}

// Load reads every case in dir, strictly.
func Load(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	cases := make([]Case, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c Case
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if c.Claims == nil || len(c.Has) == 0 && c.Principal == nil {
			return nil, fmt.Errorf("%s: claims and at least one of principal or has are required", f)
		}
		c.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		cases = append(cases, c)
	}
	return cases, nil
}

// Payload returns the case's claims as a token payload (see ResolveTimes).
func (c Case) Payload(now time.Time) map[string]any {
	return ResolveTimes(c.Claims, now)
}

// ResolveTimes turns claims as the suites write them into a payload: exp,
// nbf and iat are offsets in seconds from now, and a missing exp is five
// minutes from now.
func ResolveTimes(claims map[string]any, now time.Time) map[string]any {
	out := map[string]any{"exp": now.Unix() + 300}
	for k, v := range claims {
		out[k] = v
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if off, ok := claims[k].(float64); ok {
			out[k] = now.Unix() + int64(off)
		}
	}
	return out
}

// ComparePrincipal returns the wanted principal fields and the same fields
// of got (any value that marshals to the principal's JSON), both decoded
// from JSON so that they compare field by field.
func (c Case) ComparePrincipal(got any) (want, have map[string]any, err error) {
	if want, err = roundTrip(c.Principal); err != nil {
		return nil, nil, err
	}
	all, err := roundTrip(got)
	if err != nil {
		return nil, nil, err
	}
	have = make(map[string]any, len(want))
	for k := range want {
		have[k] = all[k]
	}
	return want, have, nil
}

func roundTrip(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}
