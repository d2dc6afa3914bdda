package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/conformance"
)

// FuzzClaimsOverHTTP signs any claims payload into a real RS256 token and
// sends it to POST /v1/has with any check and to POST /v1/check with any
// action: neither may answer 5xx. A 400 is the request's own fault (a
// check that is not an object, a number out of range, an empty action);
// a 200 carries a reason code. The seeds are the known troublesome shapes
// and every case of the Clerk conformance suite; the policy package's
// FuzzHasClaims and FuzzDecideClaims explore claim shapes faster, without
// signing.
func FuzzClaimsOverHTTP(f *testing.F) {
	s := newBenchService(f)
	// Several unscoped entries in one claim: /v1/has answered 500.
	f.Add(`{"sub":"user_1","pla":"free_user,trial"}`, `{"plan":"pro"}`, "tasks:read")
	f.Add(`{"sub":"user_1","org_id":"org_1","org_role":"admin","fea":"beta,reports"}`, `{"feature":"reports"}`, "reports:export")
	f.Add(`{"sub":"user_1","v":2,"fea":"o:a,b","o":{"id":"org_1","rol":"admin","per":"x","fpm":"1"}}`, `{"permission":"org:a:x"}`, "org:a:x")
	cases, err := conformance.Load("../../testdata/clerk")
	if err != nil {
		f.Fatal(err)
	}
	actions := []string{"tasks:read", "reports:export", "posts:publish", "organization:delete",
		"org:sys_memberships:manage", "org:posts:publish", "nope:nothing"}
	for i, c := range cases {
		claims, err := json.Marshal(c.Claims)
		if err != nil {
			f.Fatal(err)
		}
		check := []byte("{}")
		if len(c.Has) > 0 {
			if check, err = json.Marshal(c.Has[0].Check); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(string(claims), string(check), actions[i%len(actions)])
	}
	f.Fuzz(func(t *testing.T, claims, check, action string) {
		payload, ok := tokenPayload(claims, time.Now())
		if !ok {
			return
		}
		token, err := s.issuer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(check)) {
			check = "{}"
		}
		for _, check := range append([]string{check}, everyDimension...) {
			has := serveJSON(s.handler, http.MethodPost, "/v1/has", `{"token":`+quote(t, token)+`,"check":`+check+`}`)
			var answer struct {
				Result *bool  `json:"result"`
				Reason string `json:"reason"`
			}
			if has.Code >= 500 || has.Code == 200 && (json.Unmarshal(has.Body.Bytes(), &answer) != nil ||
				answer.Result == nil || answer.Reason == "" || *answer.Result != (answer.Reason == "granted")) {
				t.Fatalf("POST /v1/has with claims %s, check %s = %d %s", claims, check, has.Code, has.Body)
			}
		}
		p, _ := authn.Normalize(mustMarshal(t, payload))
		body := mustMarshal(t, map[string]any{"token": token, "action": action,
			"resource": map[string]string{"org_id": p.OrgID, "org_slug": p.OrgSlug}})
		dec := serveJSON(s.handler, http.MethodPost, "/v1/check", string(body))
		var decision struct {
			Allow  *bool  `json:"allow"`
			Reason string `json:"reason"`
		}
		if dec.Code >= 500 || dec.Code == 200 && (json.Unmarshal(dec.Body.Bytes(), &decision) != nil ||
			decision.Allow == nil || decision.Reason == "") {
			t.Fatalf("POST /v1/check with claims %s, action %q = %d %s", claims, action, dec.Code, dec.Body)
		}
	})
}

// everyDimension are the checks asked of every token besides the fuzzed
// one, so that a claim shape that breaks one dimension is found whatever
// check came with it.
var everyDimension = []string{`{"role":"org:admin"}`, `{"permission":"org:posts:publish"}`,
	`{"feature":"reports"}`, `{"plan":"o:pro"}`, `{"reverification":"strict"}`}

// tokenPayload reads claims (a JSON object, numbers kept exact) as the
// conformance suite writes them: exp, nbf and iat are offsets from now,
// and exp defaults to five minutes from now.
func tokenPayload(claims string, now time.Time) (map[string]any, bool) {
	dec := json.NewDecoder(strings.NewReader(claims))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil || obj == nil {
		return nil, false
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if n, ok := obj[k].(json.Number); ok {
			if off, err := n.Float64(); err == nil {
				obj[k] = off
			}
		}
	}
	return conformance.ResolveTimes(obj, now), true
}

func quote(t *testing.T, s string) string {
	t.Helper()
	return string(mustMarshal(t, s))
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
