package httpapi_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

// allowedActions is the /v1/allowed-actions answer.
type allowedActions struct {
	Allowed []string `json:"allowed"`
	Denied  []struct {
		Action  string `json:"action"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"denied"`
	PolicyRevision string `json:"policy_revision"`
}

// answers maps each action to "allow", or "deny|reason|message" as
// /v1/check gives it.
func (a allowedActions) answers() map[string]string {
	out := map[string]string{}
	for _, action := range a.Allowed {
		out[action] = "allow"
	}
	for _, d := range a.Denied {
		out[d.Action] = "deny|" + d.Reason + "|" + d.Message
	}
	return out
}

// checkAnswers asks /v1/check for each action and answers as answers does
// (the allow's reason and message are not part of allowed-actions).
func checkAnswers(t *testing.T, s *benchService, token string, resource map[string]any, actions []string) (map[string]string, string) {
	t.Helper()
	out := map[string]string{}
	var revision string
	for _, action := range actions {
		body, _ := json.Marshal(map[string]any{"token": token, "action": action, "resource": resource})
		rec := serveJSON(s.handler, http.MethodPost, "/v1/check", string(body))
		var d struct {
			Allow          bool   `json:"allow"`
			Reason         string `json:"reason"`
			Message        string `json:"message"`
			PolicyRevision string `json:"policy_revision"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
			t.Fatalf("check %s = %d %s", action, rec.Code, rec.Body)
		}
		revision = d.PolicyRevision
		if d.Allow {
			out[action] = "allow"
		} else {
			out[action] = "deny|" + d.Reason + "|" + d.Message
		}
	}
	return out, revision
}

// randomCase is a token (or none) and a resource drawn over the decision
// cases: roles, custom permissions, features, a fresh or stale second
// factor, impersonation, pending sessions, no organization, anonymous and
// expired callers; resources of the session's organization, another, or
// none, with or without a slug.
func randomCase(t *testing.T, rng *rand.Rand, issuer *devtoken.Issuer) (string, map[string]any) {
	t.Helper()
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	resource := map[string]any{"type": "task", "id": fmt.Sprint("t", rng.IntN(1000))}
	if org := pick("org_1", "org_2", ""); org != "" {
		resource["org_id"] = org
	}
	if slug := pick("acme", "other", "", ""); slug != "" {
		resource["org_slug"] = slug
	}
	if rng.IntN(8) == 0 {
		return "", resource // anonymous
	}
	req := devtoken.TokenRequest{UserID: "user_1", SessionID: "sess_1", Format: pick("v1", "v2")}
	if rng.IntN(6) > 0 {
		req.OrgID, req.OrgSlug, req.OrgRole = "org_1", "acme", pick("org:admin", "org:member", "org:viewer")
		for _, p := range []string{"org:posts:publish", "org:reports:export", "org:tasks:delete"} {
			if rng.IntN(2) == 0 {
				req.Permissions = append(req.Permissions, p)
			}
		}
	}
	if rng.IntN(2) == 0 {
		req.Features = append(req.Features, pick("o:reports", "u:beta"))
	}
	now := time.Now()
	claims, err := issuer.Claims(req, now)
	if err != nil {
		t.Fatal(err)
	}
	switch rng.IntN(6) {
	case 0:
		claims["fva"] = []any{rng.IntN(30), []int{2, -1, 30}[rng.IntN(3)]}
	case 1:
		claims["act"] = map[string]any{"sub": "user_support"}
	case 2:
		claims["sts"] = "pending"
	case 3:
		claims["exp"] = now.Add(-time.Minute).Unix()
	}
	token, err := issuer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return token, resource
}

// TestAllowedActionsAgreeWithCheck: for random cases over the decisions,
// /v1/allowed-actions answers every action the policies know, each
// exactly as /v1/check answers it, and so it does for a list of actions
// that includes unknown ones and custom permission keys.
func TestAllowedActionsAgreeWithCheck(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	catalog := catalogActions(t, s)
	listed := []string{"tasks:read", "nope:never", "org:posts:publish", "org:widgets:spin", "org:sys_billing:manage", "tasks:read"}
	for i := range 80 {
		token, resource := randomCase(t, rng, s.issuer)
		for _, actions := range [][]string{nil, listed} {
			body := map[string]any{"token": token, "resource": resource}
			want := catalog
			if actions != nil {
				body["actions"] = actions
				want = slices.Compact(slices.Clone(actions[:5]))
			}
			b, _ := json.Marshal(body)
			rec := serveJSON(s.handler, http.MethodPost, "/v1/allowed-actions", string(b))
			var got allowedActions
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
				t.Fatalf("case %d: allowed-actions = %d %s", i, rec.Code, rec.Body)
			}
			answers := got.answers()
			checks, revision := checkAnswers(t, s, token, resource, want)
			if diff := cmp.Diff(checks, answers); diff != "" {
				t.Fatalf("case %d (resource %v, %d actions): /v1/check (-) and /v1/allowed-actions (+) differ:\n%s", i, resource, len(want), diff)
			}
			if got.PolicyRevision != revision {
				t.Errorf("case %d: policy_revision %q, checks answered under %q", i, got.PolicyRevision, revision)
			}
		}
	}
}

// catalogActions are the actions /v1/allowed-actions answers, allowed or
// denied, when none are listed: every action the policies know.
func catalogActions(t *testing.T, s *benchService) []string {
	t.Helper()
	body := fmt.Sprintf(`{"token":%q,"resource":{"org_id":"org_1"}}`, s.token)
	var got allowedActions
	if rec := serveJSON(s.handler, http.MethodPost, "/v1/allowed-actions", body); rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
		t.Fatalf("allowed-actions = %d %s", rec.Code, rec.Body)
	}
	all := slices.Clone(got.Allowed)
	for _, d := range got.Denied {
		all = append(all, d.Action)
	}
	slices.Sort(all)
	var shipped []string
	for _, a := range all {
		if strings.HasPrefix(a, "org:sys_") {
			shipped = append(shipped, a)
		}
	}
	if len(all) != 18 || len(shipped) != 9 {
		t.Fatalf("the shipped policies know %d actions (%d system permission keys), want 9 catalog entries and 9 keys: %v", len(all), len(shipped), all)
	}
	return all
}

func TestAllowedActionsRefusals(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	long := strings.Repeat("a", 257)
	for _, tt := range []struct{ name, body string }{
		{"an unknown field", `{"token":"","actions":[],"x":1}`},
		{"an empty action", `{"actions":["tasks:read",""]}`},
		{"an action over 256 bytes", `{"actions":["` + long + `"]}`},
		{"more than 100 actions", `{"actions":[` + strings.Repeat(`"a:b",`, 100) + `"a:b"]}`},
		{"actions that are not strings", `{"actions":[1]}`},
		{"a resource field over 256 bytes", `{"resource":{"id":"` + long + `"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if rec := serveJSON(s.handler, http.MethodPost, "/v1/allowed-actions", tt.body); rec.Code != http.StatusBadRequest {
				t.Errorf("= %d %s, want 400", rec.Code, rec.Body)
			}
		})
	}
	t.Run("a context the catalog's actions would repeat past the body limit", func(t *testing.T) {
		body := `{"context":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}`
		if rec := serveJSON(s.handler, http.MethodPost, "/v1/allowed-actions", body); rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("= %d %s, want 413", rec.Code, rec.Body)
		}
		body = `{"context":{"pad":"` + strings.Repeat("x", 40<<10) + `"}}`
		if rec := serveJSON(s.handler, http.MethodPost, "/v1/allowed-actions", body); rec.Code != http.StatusOK {
			t.Errorf("a context within the bound = %d %s, want 200", rec.Code, rec.Body)
		}
	})
	t.Run("no actions asked, none answered", func(t *testing.T) {
		rec := serveJSON(s.handler, http.MethodPost, "/v1/allowed-actions", `{"actions":[]}`)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"allowed":[],"denied":[],"policy_revision":"sha256:`) {
			t.Errorf("= %d %s", rec.Code, rec.Body)
		}
	})
}
