package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// The fuzz targets below hold Verdict's built-in layer to one property:
// whatever claims a token carries, /v1/has and /v1/check answer with a
// reason code, never an error (which the service turns into a 500). Each
// input is a claims payload and a check as JSON text, which the fuzzer's
// shape bytes then edit claim by claim (claimShape.edit), and the result
// goes through the decider the handlers call, with the shipped policies.

// hasReasons are the reasons a has() answer may carry for a token that
// Normalize read.
var hasReasons = reasonSet("granted", "unauthenticated", "empty_check", "invalid_check", "no_active_org",
	"missing_role", "missing_permission", "missing_feature", "missing_plan", "reverification_required",
	"token_invalid", "session_pending")

// decisionReasons are the reasons of the contract, allows and denials.
var decisionReasons = reasonSet("role", "permission", "membership", "token_expired", "token_invalid",
	"session_pending", "unauthenticated", "unknown_action", "no_active_org", "tenant_missing",
	"tenant_mismatch", "missing_role", "missing_permission", "missing_feature", "missing_plan",
	"reverification_required", "impersonation_denied")

func reasonSet(reasons ...authz.Reason) map[authz.Reason]bool {
	set := make(map[authz.Reason]bool, len(reasons))
	for _, r := range reasons {
		set[r] = true
	}
	return set
}

// FuzzHasClaims asks has() with any check of a session with any claims.
func FuzzHasClaims(f *testing.F) {
	d := newClaimsDecider(f)
	for _, seed := range [][2]string{
		// Several unscoped entries in one claim: each used to give
		// its own message, and OPA refused the two values with a 500.
		{`{"sub":"user_1","pla":"free_user,trial"}`, `{"plan":"pro"}`},
		{`{"sub":"user_1","org_id":"org_1","fea":"beta,reports,o:teams"}`, `{"feature":"o:reports"}`},
		{`{"sub":"user_1","v":2,"fea":"a,b","pla":"c,d"}`, `{"feature":"a","plan":"c"}`},
		{`{"sub":"user_1","org_id":"org_1","org_role":"admin","org_permissions":["publish","org:posts:publish",""]}`, `{"permission":"publish","role":"org:admin"}`},
		{`{"sub":"user_1","v":2,"fea":"o:posts,ou:reports","o":{"id":"org_1","rol":"member","per":"publish,read","fpm":"3,1"}}`, `{"permission":"org:posts:publish","feature":"reports"}`},
		{`{"sub":"user_1","fva":[3,-1]}`, `{"reverification":{"level":"multi_factor","afterMinutes":5}}`},
		{`{"sub":"user_1","fva":[-1,-1],"act":{"sub":"user_2"}}`, `{"reverification":"strict","role":7,"x":null}`},
		{`{"sub":"user_1","sts":"pending"}`, `{"role":"admin"}`},
		{`{"sub":"","org_id":"org_1"}`, `{}`},
	} {
		f.Add(seed[0], seed[1], []byte(nil), "")
	}
	f.Fuzz(func(t *testing.T, claims, check string, shape []byte, word string) {
		s := &claimShape{b: shape, word: word}
		payload, query := s.edit(claims, check)
		for _, q := range append([]map[string]any{query}, everyDimension...) {
			a, err := d.Has(context.Background(), payload, q)
			if err != nil {
				t.Fatalf("has(%s) for claims %s: %v", mustJSON(t, q), payload, err)
			}
			if !hasReasons[a.Reason] || a.Result != (a.Reason == "granted") || a.Message == "" {
				t.Fatalf("has(%s) for claims %s = %+v: want a known reason, result true exactly when granted, a message",
					mustJSON(t, q), payload, a)
			}
		}
	})
}

// everyDimension are the checks asked of every session besides the drawn
// one: a claim shape that breaks one dimension is found whatever check
// the fuzzer drew.
var everyDimension = []map[string]any{
	{"role": "org:admin"}, {"permission": "org:posts:publish"}, {"feature": "reports"},
	{"plan": "o:pro"}, {"reverification": "strict"},
}

// FuzzDecideClaims decides any action, shipped or not, for a session with
// any claims.
func FuzzDecideClaims(f *testing.F) {
	d := newClaimsDecider(f)
	for _, seed := range [][2]string{
		{`{"sub":"user_1","org_id":"org_1","org_role":"admin","fea":"reports,beta","pla":"free,pro"}`, "reports:export"},
		{`{"sub":"user_1","org_id":"org_1","org_role":"member","org_permissions":["org:reports:export","x"],"fea":"o:reports"}`, "reports:export"},
		{`{"sub":"user_1","v":2,"fea":"o:posts","o":{"id":"org_1","slg":"acme","rol":"admin","per":"publish","fpm":"1"}}`, "posts:publish"},
		{`{"sub":"user_1","org_id":"org_1","org_role":"admin","fva":[3,11],"act":{"sub":"user_2"}}`, "organization:delete"},
		{`{"sub":"user_1","org_id":"org_1","org_role":"member"}`, "org:sys_memberships:manage"},
		{`{"sub":"user_1","org_id":"org_1","org_permissions":["publish"]}`, "org:posts:publish"},
		{`{"sub":"user_1"}`, "nope:nothing"},
	} {
		f.Add(seed[0], seed[1], []byte(nil), "")
	}
	actions := shippedActions(f)
	f.Fuzz(func(t *testing.T, claims, action string, shape []byte, word string) {
		s := &claimShape{b: shape, word: word}
		action, org, explain := s.pickString(action, actions), s.pick(4), s.pick(4) == 3
		payload, _ := s.edit(claims, "")
		c := authz.Check{Action: action, Resource: resource(org, payload), Explain: explain}
		if c.Action == "" || c.Validate() != nil {
			return // every front end refuses these before deciding
		}
		dec, err := d.Check(context.Background(), payload, c)
		if err != nil {
			t.Fatalf("decide %q (explain %v) for claims %s: %v", c.Action, c.Explain, payload, err)
		}
		allowed := dec.Reason == "role" || dec.Reason == "permission" || dec.Reason == "membership"
		if !decisionReasons[dec.Reason] || dec.Allow != allowed || dec.Message == "" {
			t.Fatalf("decide %q for claims %s = %+v: want a known reason that agrees with allow, and a message",
				c.Action, payload, dec)
		}
	})
}

// claimsAuthenticator reads a "token" that is a claims payload and
// normalizes it as the verifier does a verified token's (sub, exp and the
// other claims the signature check looks at are not checked), so that a
// fuzz input reaches the decider without being signed.
type claimsAuthenticator struct{}

func (claimsAuthenticator) Authenticate(_ context.Context, claims string) (authz.Verification, error) {
	p, err := authn.Normalize([]byte(claims))
	return authz.Verification{Principal: p, Until: time.Now().Add(time.Hour)}, err
}

// newClaimsDecider is the decision path of the handlers over the shipped
// policies, with a deadline no busy fuzzing machine reaches.
func newClaimsDecider(tb testing.TB) *authz.Decider {
	tb.Helper()
	e, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{EvalTimeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	return authz.NewDecider(claimsAuthenticator{}, e, nil, authz.Options{})
}

// shippedActions lists the shipped catalog's actions, system permissions
// and a few permission keys and names it does not know.
func shippedActions(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(shippedPolicies + "/data.json")
	if err != nil {
		tb.Fatal(err)
	}
	var data struct {
		Verdict struct {
			Actions           map[string]any `json:"actions"`
			SystemPermissions []string       `json:"system_permissions"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		tb.Fatal(err)
	}
	actions := append(data.Verdict.SystemPermissions, "org:posts:publish", "org:reports:export", "org:x:y",
		"org:sys_nope:manage", "org:a:b:c", "org:", "publish", "tasks", "nope:nothing")
	for name := range data.Verdict.Actions {
		actions = append(actions, name)
	}
	slices.Sort(actions)
	return actions
}

// claimShape edits a claims payload and a check with the fuzzer's bytes:
// each byte makes one choice, and once the bytes run out every choice is
// the first, which keeps what the JSON text says.
type claimShape struct {
	b    []byte
	word string // the fuzzer's own string, one more word to draw
}

// claimKeys are the claims Normalize reads into the principal; orgKeys
// those of the v2 "o" claim.
var (
	claimKeys = []string{"sub", "sid", "v", "org_id", "org_role", "org_slug", "org_permissions",
		"fea", "pla", "fva", "sts", "act", "o"}
	orgKeys   = []string{"id", "slg", "rol", "per", "fpm"}
	checkKeys = []string{"role", "permission", "feature", "plan", "reverification", "x"}
	editKeys  = slices.Concat(claimKeys, orgKeys, checkKeys)
	// anyKeys name the members of a drawn object: claims, org claims,
	// check fields and the keys of a reverification window.
	anyKeys = slices.Concat(editKeys, []string{"level", "afterMinutes", "after_minutes"})
)

// fuzzWords are entries of every kind: scoped, unscoped, empty, prefixed
// or not, system permissions, permission masks, presets and levels.
var fuzzWords = []string{
	"", " ", ",", ":", "org:", "o:", "u:", "o:reports", "u:free", "ou:posts", "uo:x", "x:y", "O:reports",
	"reports", "free_user", "publish", "posts:publish", "org:posts:publish", "org:reports:export",
	"org:sys_memberships:manage", "org:sys_memberships:read", "admin", "org:admin", "org:org:admin",
	"member", "Admin", "org_1", "acme", "user_1", "pending", "active", "é", "o:a:b", "1", "3", "-1", "1.5",
	"18446744073709551617", "strict", "strict_mfa", "moderate", "lax", "first_factor", "second_factor",
	"multi_factor",
}

var fuzzNumbers = []any{0, -1, 1, 2, 10, 1.5, -2, 1e3, 9007199254740993, 1e300, -1e300}

// pick draws a choice among n.
func (s *claimShape) pick(n int) int {
	if len(s.b) == 0 {
		return 0
	}
	c := int(s.b[0]) % n
	s.b = s.b[1:]
	return c
}

// pickString draws given (the first choice), the fuzzer's word or one of
// options.
func (s *claimShape) pickString(given string, options []string) string {
	switch i := s.pick(len(options) + 2); i {
	case 0:
		return given
	case 1:
		return s.word
	default:
		return options[i-2]
	}
}

// value draws any JSON value, nested at most depth deep: most often a
// word or a list of them, the shapes the claims and checks really carry.
func (s *claimShape) value(depth int) any {
	kinds := 6
	if depth > 0 {
		kinds = 8
	}
	switch s.pick(kinds) {
	case 0, 1:
		return s.pickString(s.word, fuzzWords)
	case 2, 3: // a comma-separated list, as fea and pla carry their entries
		sep := []string{",", ", ", " ,"}[s.pick(3)]
		words := make([]string, 1+s.pick(4))
		for i := range words {
			words[i] = s.pickString(s.word, fuzzWords)
		}
		return strings.Join(words, sep)
	case 4:
		return fuzzNumbers[s.pick(len(fuzzNumbers))]
	case 5:
		return []any{nil, false, true}[s.pick(3)]
	case 6:
		list := make([]any, s.pick(5))
		for i := range list {
			list[i] = s.value(depth - 1)
		}
		return list
	default:
		obj := map[string]any{}
		for range s.pick(4) {
			obj[anyKeys[s.pick(len(anyKeys))]] = s.value(depth - 1)
		}
		return obj
	}
}

// edit returns the claims payload and the check: the JSON objects of
// claims and check (an empty object for text that is not one), edited by
// the rest of the fuzzer's bytes. Each edit removes, or sets to a drawn
// value, one claim the principal carries, one member of the v2 "o" claim
// (making one if there is none) or one field of the check. The check comes
// back as /v1/has reads it, numbers kept exact.
func (s *claimShape) edit(claims, check string) (payload string, query map[string]any) {
	c, q := decodeObject(claims), decodeObject(check)
	for len(s.b) > 0 {
		i := s.pick(len(editKeys))
		obj := c
		switch {
		case i >= len(claimKeys)+len(orgKeys):
			obj = q
		case i >= len(claimKeys):
			o, ok := c["o"].(map[string]any)
			if !ok {
				o = map[string]any{}
				c["o"] = o
			}
			obj = o
		}
		if key := editKeys[i]; s.pick(4) == 0 {
			delete(obj, key)
		} else {
			obj[key] = s.value(2)
		}
	}
	return string(encodeJSON(c)), decodeObject(string(encodeJSON(q)))
}

// resource is the resource of a check, by choice: the session's
// organization (the first choice, so that the decision reaches the
// action's requirements), no resource, or another organization.
func resource(choice int, payload string) *authz.Resource {
	p, _ := authn.Normalize([]byte(payload))
	switch choice {
	case 0:
		return &authz.Resource{OrgID: p.OrgID, OrgSlug: p.OrgSlug}
	case 1:
		return nil
	case 2:
		return &authz.Resource{OrgID: "org_other", OrgSlug: p.OrgSlug}
	default:
		return &authz.Resource{OrgID: p.OrgID, OrgSlug: "other"}
	}
}

// decodeObject reads a JSON object with exact numbers; anything else is
// an empty object.
func decodeObject(text string) map[string]any {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil || obj == nil {
		return map[string]any{}
	}
	return obj
}

func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only JSON values are ever drawn
	}
	return bytes.TrimSpace(buf.Bytes())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	return string(encodeJSON(v))
}
