package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

func testCorpus(t *testing.T, users, requests int) (*corpus, *rules) {
	t.Helper()
	r := testRules(t)
	iss, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	forger, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	c, err := buildCorpus(corpusOptions{users: users, requests: requests, seed: 7, now: time.Now()}, r, iss, forger)
	if err != nil {
		t.Fatalf("buildCorpus() error = %v", err)
	}
	return c, r
}

func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("unmarshal payload: %v", err)
	}
	return claims
}

func TestCorpusTokensCarryThePrincipal(t *testing.T) {
	c, _ := testCorpus(t, 120, 1200)
	uses := map[string]int{}
	for _, req := range c.requests {
		uses[req.check.Token]++
	}
	for i, u := range c.users {
		if got := uses[u.token]; got < 5 || got > 15 {
			t.Errorf("user %d's token used %d times, want about 10", i, got)
		}
		claims := payload(t, u.token)
		p := u.principal
		switch u.format {
		case "v1":
			if p.orgID != "" && claims["org_id"] != p.orgID {
				t.Errorf("user %d: v1 org_id = %v, want %s", i, claims["org_id"], p.orgID)
			}
			listed, _ := claims["org_permissions"].([]any)
			if u.forgedSys && !containsAny(listed, forgedSystemPermission) {
				t.Errorf("user %d forges but org_permissions = %v", i, listed)
			}
		case "v2":
			if claims["v"] != float64(2) {
				t.Errorf("user %d: v2 token has v = %v", i, claims["v"])
			}
			if o, _ := claims["o"].(map[string]any); p.orgID != "" && (o == nil || o["id"] != p.orgID) {
				t.Errorf("user %d: v2 o = %v, want id %s", i, claims["o"], p.orgID)
			}
		}
		exp, _ := claims["exp"].(float64)
		if expired := time.Unix(int64(exp), 0).Before(time.Now()); expired != (u.kind == "expired") {
			t.Errorf("user %d (%s): exp in the past = %v", i, u.kind, expired)
		}
	}
}

func containsAny(xs []any, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func TestCorpusScenariosExpectTheirReason(t *testing.T) {
	c, _ := testCorpus(t, 200, 2000)
	byToken := map[string]user{}
	for _, u := range c.users {
		byToken[u.token] = u
	}
	seen := map[string]int{}
	for i, req := range c.requests {
		seen[req.want.String()]++
		u := byToken[req.check.Token]
		var want string
		switch {
		case req.scenario == "anonymous":
			want = "unauthenticated"
		case u.principal.failure != "":
			want = u.principal.failure
		case req.scenario == "unknown_action":
			want = "unknown_action"
		case u.org < 0:
			want = "no_active_org"
		case req.scenario == "tenant_missing":
			want = "tenant_missing"
		case req.scenario == "cross_tenant", req.scenario == "slug_mismatch":
			want = "tenant_mismatch"
		case req.scenario == "forged_system_permission" && u.forgedSys:
			want = "missing_role"
		default:
			continue
		}
		if req.want != deny(want) {
			t.Errorf("request %d (%s): want = %v, the scenario implies deny/%s", i, req.scenario, req.want, want)
		}
	}
	for _, reason := range []string{"allow/role", "allow/permission", "allow/membership", "deny/missing_role",
		"deny/missing_permission", "deny/missing_feature", "deny/reverification_required", "deny/token_invalid", "deny/token_expired"} {
		if seen[reason] == 0 {
			t.Errorf("corpus has no request expecting %s: %v", reason, seen)
		}
	}
}

// TestBenchRegoAgreesWithTheModel evaluates testdata/bench/opa in-process
// on a small corpus: the Rego given to the OPA server must give the
// expected decision for every request, or the comparison would be unfair.
func TestBenchRegoAgreesWithTheModel(t *testing.T) {
	c, _ := testCorpus(t, 60, 600)
	var data map[string]any
	if err := json.Unmarshal([]byte(testData), &data); err != nil {
		t.Fatal(err)
	}
	data["jwks_json_string"] = string(c.jwks)
	ctx := context.Background()
	opts := []func(*rego.Rego){rego.Query("data.bench.decision"), rego.Store(inmem.NewFromObject(data))}
	files, err := filepath.Glob("opa/*.rego")
	if err != nil || len(files) == 0 {
		t.Fatalf("bench rego files: %v, %v", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, rego.Module(f, string(src)))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		t.Fatalf("prepare bench rego: %v", err)
	}
	for i, req := range c.requests {
		var input map[string]any
		b, _ := json.Marshal(req.check)
		if err := json.Unmarshal(b, &input); err != nil {
			t.Fatal(err)
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err != nil || len(rs) != 1 {
			t.Fatalf("request %d: eval = %v, %v", i, rs, err)
		}
		var got decision
		out, _ := json.Marshal(rs[0].Expressions[0].Value)
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got != req.want {
			t.Errorf("request %d (%s, action %s): bench rego = %v, want %v", i, req.scenario, req.check.Action, got, req.want)
		}
	}
}
