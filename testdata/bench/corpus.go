package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

// corpusOptions sizes the corpus.
type corpusOptions struct {
	users    int
	requests int
	seed     uint64
	now      time.Time
}

// corpus is the work both servers get: the key material and the requests,
// each with the decision a correct PDP returns.
type corpus struct {
	jwks     []byte
	requests []request
	users    []user
	// tokens counts the users' tokens by kind (valid, forged, expired).
	tokens map[string]int
}

// request is one /v1/check call and its expected answer.
type request struct {
	scenario string
	check    checkBody
	want     decision
}

// checkBody is the /v1/check request body; the OPA server gets the same
// object as its input.
type checkBody struct {
	Token    string   `json:"token,omitempty"`
	Action   string   `json:"action"`
	Resource resource `json:"resource"`
}

// user is one session: who it is, what its token carries, and the token.
type user struct {
	format    string // "v1" or "v2"
	kind      string // "valid", "forged" (bad signature) or "expired"
	org       int    // index into orgs, -1 for no active organization
	forgedSys bool   // a v1 member whose org_permissions lists a system permission
	principal principal
	token     string
}

// customPermissions is the pool users draw their custom permissions from;
// org:posts:publish and org:reports:export are the ones the shipped
// catalog asks for.
var customPermissions = []string{
	"org:posts:publish", "org:posts:edit", "org:reports:export",
	"org:reports:read", "org:tasks:assign", "org:invoices:approve",
}

// forgedSystemPermission is what a forging v1 member lists in
// org_permissions; the rules must ignore it (missing_role).
const forgedSystemPermission = "org:sys_memberships:manage"

// unknownActions are names that are neither permission keys nor, as long
// as data.json does not list them, catalog actions.
var unknownActions = []string{"tasks:delete", "reports:frobnicate", "org:posts", "posts", "org::publish", "admin:acces"}

// orgs is the number of organizations users are spread over.
func orgCount(users int) int { return max(2, users/10) }

func orgID(i int) string   { return fmt.Sprintf("org_%04d", i) }
func orgSlug(i int) string { return fmt.Sprintf("acme-%d", i) }

// buildCorpus mints every user's token with iss and generates the
// requests. forger signs the forged tokens under iss's key id.
func buildCorpus(opts corpusOptions, r *rules, iss, forger *devtoken.Issuer) (*corpus, error) {
	rng := rand.New(rand.NewPCG(opts.seed, opts.seed^0x5eed))
	c := &corpus{jwks: iss.JWKS(), tokens: map[string]int{}}
	for i := range opts.users {
		u := newUser(rng, i, orgCount(opts.users))
		tok, err := mintToken(u, i, iss, forger, opts.now)
		if err != nil {
			return nil, err
		}
		u.token = tok
		c.tokens[u.kind]++
		c.users = append(c.users, u)
	}
	g := generator{rng: rng, rules: r, orgs: orgCount(opts.users), actions: sortedActions(r), unknown: unknownNames(r)}
	order := rng.Perm(opts.users)
	for i := range opts.requests {
		u := &c.users[order[i%opts.users]]
		c.requests = append(c.requests, g.request(u))
	}
	return c, nil
}

// newUser draws user i's session. The proportions are the brief's: about
// a third admins, a few percent without an organization, forging system
// permissions, or presenting a forged or expired token.
func newUser(rng *rand.Rand, i, orgs int) user {
	u := user{format: "v1", kind: "valid", org: rng.IntN(orgs)}
	if i%2 == 1 {
		u.format = "v2"
	}
	switch i % 50 { // exactly 2% each, so that small corpora have some
	case 7:
		u.kind = "forged"
	case 32:
		u.kind = "expired"
	}
	p := principal{perms: map[string]bool{}}
	if rng.Float64() < 0.03 {
		u.org = -1
	} else {
		p.orgID, p.orgSlug, p.role = orgID(u.org), orgSlug(u.org), "org:member"
		if rng.Float64() < 0.35 {
			p.role = "org:admin"
		}
		for _, perm := range customPermissions {
			if rng.Float64() < 0.4 {
				p.perms[perm] = true
			}
		}
		u.forgedSys = u.format == "v1" && p.role == "org:member" && rng.Float64() < 0.15
	}
	p.features = drawFeatures(rng, u.format, p.perms)
	if rng.Float64() < 0.6 {
		ages := []int{-1, 0, 3, 9, 10, 25, 90}
		p.fva = []int{ages[1+rng.IntN(len(ages)-1)], ages[rng.IntN(len(ages))]}
	}
	if u.forgedSys {
		p.perms[forgedSystemPermission] = true
	}
	switch u.kind {
	case "forged":
		p.failure = "token_invalid"
	case "expired":
		p.failure = "token_expired"
	}
	u.principal = p
	return u
}

// drawFeatures returns the fea entries of a token. A v2 token lists an
// "o:<feature>" entry for each feature its permissions belong to (that is
// how v2 encodes them); both formats may carry a reports plan feature of
// either scope and a user-scoped beta feature.
func drawFeatures(rng *rand.Rand, format string, perms map[string]bool) []string {
	var fea []string
	if format == "v2" {
		for _, perm := range customPermissions {
			if perms[perm] {
				fea = append(fea, "o:"+strings.Split(perm, ":")[1])
			}
		}
	}
	switch x := rng.Float64(); {
	case x < 0.45:
		fea = append(fea, "o:reports")
	case x < 0.55:
		fea = append(fea, "u:reports")
	}
	if rng.Float64() < 0.3 {
		fea = append(fea, "u:beta")
	}
	return dedupe(fea)
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// mintToken signs u's session token: with the real key, with the forger's
// key under the real key id, or already expired.
func mintToken(u user, i int, iss, forger *devtoken.Issuer, now time.Time) (string, error) {
	req := devtoken.TokenRequest{
		UserID:     fmt.Sprintf("user_%05d", i),
		SessionID:  fmt.Sprintf("sess_%05d", i),
		Format:     u.format,
		TTLSeconds: int((2 * time.Hour).Seconds()),
	}
	var extra []string
	for _, f := range u.principal.features {
		if u.format == "v1" || !strings.HasPrefix(f, "o:") || f == "o:reports" {
			extra = append(extra, f)
		}
	}
	req.Features = extra
	if u.org >= 0 {
		req.OrgID, req.OrgSlug, req.OrgRole = u.principal.orgID, u.principal.orgSlug, u.principal.role
		for _, perm := range customPermissions { // a stable order
			if u.principal.perms[perm] {
				req.Permissions = append(req.Permissions, perm)
			}
		}
		if u.forgedSys {
			req.Permissions = append(req.Permissions, forgedSystemPermission)
		}
	}
	issued := now
	if u.kind == "expired" {
		issued = now.Add(-3 * time.Hour)
	}
	claims, err := iss.Claims(req, issued)
	if err != nil {
		return "", fmt.Errorf("build claims for user %d: %w", i, err)
	}
	if u.principal.fva != nil {
		claims["fva"] = u.principal.fva
	}
	var tok string
	if u.kind == "forged" {
		header := map[string]any{"alg": "RS256", "kid": iss.KeyID(), "typ": "JWT"}
		tok, err = forger.SignWithHeader(header, claims)
	} else {
		tok, err = iss.Sign(claims)
	}
	if err != nil {
		return "", fmt.Errorf("sign token for user %d: %w", i, err)
	}
	return tok, nil
}

// generator draws requests for users.
type generator struct {
	rng     *rand.Rand
	rules   *rules
	orgs    int
	actions []string // usable catalog actions, sorted
	unknown []string
}

// scenarioWeights is the request mix, in percent.
var scenarioWeights = []struct {
	name   string
	weight int
}{
	{"system_permission", 20},
	{"custom_permission", 16},
	{"catalog", 32},
	{"forged_system_permission", 5},
	{"cross_tenant", 9},
	{"slug_mismatch", 6},
	{"tenant_missing", 5},
	{"unknown_action", 5},
	{"anonymous", 2},
}

func (g *generator) scenario() string {
	x := g.rng.IntN(100)
	for _, s := range scenarioWeights {
		if x < s.weight {
			return s.name
		}
		x -= s.weight
	}
	return scenarioWeights[0].name
}

// request draws one check for u and derives its expected decision from
// the principal the generator put in u's token.
func (g *generator) request(u *user) request {
	name := g.scenario()
	p := u.principal
	own := resource{Type: "task", ID: fmt.Sprintf("r_%d", g.rng.IntN(1e6)), OrgID: p.orgID}
	if p.orgID == "" {
		own.OrgID = orgID(g.rng.IntN(g.orgs))
	}
	if g.rng.IntN(2) == 0 {
		own.OrgSlug = p.orgSlug
	}
	b := checkBody{Token: u.token, Resource: own}
	switch name {
	case "system_permission":
		b.Action = g.pick(g.rules.systemPermissions)
	case "custom_permission":
		b.Action = g.customPermission(p)
	case "catalog", "anonymous":
		b.Action = g.knownAction()
	case "forged_system_permission":
		b.Action = forgedSystemPermission
	case "cross_tenant":
		b.Action = g.knownAction()
		b.Resource.OrgID = orgID((u.org + 1 + g.rng.IntN(g.orgs-1)) % g.orgs)
		b.Resource.OrgSlug = ""
	case "slug_mismatch":
		b.Action = g.knownAction()
		b.Resource.OrgSlug = orgSlug((u.org + 1) % g.orgs)
		if p.orgID == "" {
			b.Resource.OrgSlug = "acme-none"
		}
	case "tenant_missing":
		b.Action = g.knownAction()
		b.Resource.OrgID, b.Resource.OrgSlug = "", ""
	case "unknown_action":
		b.Action = g.pick(g.unknown)
	}
	if name == "anonymous" {
		b.Token = ""
		p = principal{anonymous: true}
	}
	return request{scenario: name, check: b, want: g.rules.expect(p, b.Action, b.Resource)}
}

// customPermission returns one the token carries half the time (when it
// carries any), otherwise one from the pool, held or not.
func (g *generator) customPermission(p principal) string {
	var held []string
	for _, perm := range customPermissions {
		if p.perms[perm] {
			held = append(held, perm)
		}
	}
	if len(held) > 0 && g.rng.IntN(2) == 0 {
		return g.pick(held)
	}
	return g.pick(customPermissions)
}

// knownAction is a catalog action or a permission key.
func (g *generator) knownAction() string {
	if len(g.actions) > 0 && g.rng.IntN(4) != 0 {
		return g.pick(g.actions)
	}
	if g.rng.IntN(2) == 0 {
		return g.pick(g.rules.systemPermissions)
	}
	return g.pick(customPermissions)
}

func (g *generator) pick(from []string) string { return from[g.rng.IntN(len(from))] }

func sortedActions(r *rules) []string {
	var names []string
	for name := range r.actions {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func unknownNames(r *rules) []string {
	var names []string
	for _, n := range unknownActions {
		if !r.listed[n] {
			names = append(names, n)
		}
	}
	return names
}

// writeKeys writes the JWKS Verdict reads and the data document that hands
// the same JWKS to the OPA server as data.jwks_json_string.
func (c *corpus) writeKeys(dir string) (jwksPath, opaDataPath string, err error) {
	jwksPath = filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, c.jwks, 0o600); err != nil {
		return "", "", fmt.Errorf("write jwks: %w", err)
	}
	doc, err := json.Marshal(map[string]string{"jwks_json_string": string(c.jwks)})
	if err != nil {
		return "", "", fmt.Errorf("encode opa key data: %w", err)
	}
	opaDataPath = filepath.Join(dir, "opa-keys.json")
	if err := os.WriteFile(opaDataPath, doc, 0o600); err != nil {
		return "", "", fmt.Errorf("write opa key data: %w", err)
	}
	return jwksPath, opaDataPath, nil
}
