package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// Fixed keys of the policy input, built once: OPA compares terms by value,
// so sharing them across evaluations is safe and saves allocations.
var (
	keyPrincipal      = ast.StringTerm("principal")
	keyAction         = ast.StringTerm("action")
	keyResource       = ast.StringTerm("resource")
	keyContext        = ast.StringTerm("context")
	keyCheck          = ast.StringTerm("check")
	keyAuthenticated  = ast.StringTerm("authenticated")
	keyUserID         = ast.StringTerm("user_id")
	keySessionID      = ast.StringTerm("session_id")
	keyOrgID          = ast.StringTerm("org_id")
	keyOrgRole        = ast.StringTerm("org_role")
	keyOrgSlug        = ast.StringTerm("org_slug")
	keyOrgPermissions = ast.StringTerm("org_permissions")
	keyFeatures       = ast.StringTerm("features")
	keyPlans          = ast.StringTerm("plans")
	keyFVA            = ast.StringTerm("factor_verification_age")
	keySessionStatus  = ast.StringTerm("session_status")
	keyActor          = ast.StringTerm("actor")
	keyTokenVersion   = ast.StringTerm("token_version")
	keyType           = ast.StringTerm("type")
	keyID             = ast.StringTerm("id")
	keyOwnerID        = ast.StringTerm("owner_id")
	keyAttributes     = ast.StringTerm("attributes")
	keySubject        = ast.StringTerm("subject")
	keyCaller         = ast.StringTerm("caller")
	keyProperties     = ast.StringTerm("properties")

	// The members of an answer (engine.go).
	keyAllow   = ast.StringTerm("allow")
	keyResult  = ast.StringTerm("result")
	keyReason  = ast.StringTerm("reason")
	keyMessage = ast.StringTerm("message")
)

// emptyObject stands for an absent resource or context. Evaluations only
// read their input, so one is shared by all.
var emptyObject = ast.NewObject()

// decisionInput returns in's policy input, and its subject's state with
// whether that lasts beyond this evaluation (stateOf).
func decisionInput(in authz.Input) (st *principalState, lasting bool, input ast.Value, err error) {
	st, lasting, err = stateOf(in.Subject)
	if err == nil {
		input, err = inputValue(st.obj, in)
	}
	if err != nil {
		return nil, false, nil, fmt.Errorf("build policy input: %w", err)
	}
	return st, lasting, input, nil
}

// inputValue builds the policy input directly as an OPA value, skipping a
// JSON round trip. Empty strings are left out, so policies test presence
// with a plain reference. The shape is documented in policies/README.md.
func inputValue(principal ast.Object, in authz.Input) (ast.Value, error) {
	parts, err := checkParts(in.Check)
	if err != nil {
		return nil, err
	}
	return parts.input(principal, in.Check.Action), nil
}

// inputParts are the members of a policy input that do not depend on the
// action, built once for all the actions asked about one resource.
type inputParts struct {
	resource, context *ast.Term
	subject, caller   *ast.Term // nil when absent
}

func checkParts(c authz.Check) (inputParts, error) {
	resource, err := resourceObject(c.Resource)
	if err != nil {
		return inputParts{}, err
	}
	context, err := anyObject(c.Context)
	if err != nil {
		return inputParts{}, fmt.Errorf("context: %w", err)
	}
	parts := inputParts{resource: ast.NewTerm(resource), context: ast.NewTerm(context)}
	if c.Caller != "" {
		parts.caller = ast.StringTerm(c.Caller)
	}
	if c.Subject != nil {
		subject, err := subjectObject(c.Subject)
		if err != nil {
			return inputParts{}, err
		}
		parts.subject = ast.NewTerm(subject)
	}
	return parts, nil
}

// input is the policy input for principal and action.
func (p inputParts) input(principal ast.Object, action string) ast.Object {
	members := [6][2]*ast.Term{
		{keyPrincipal, ast.NewTerm(principal)},
		{keyAction, ast.StringTerm(action)},
		{keyResource, p.resource},
		{keyContext, p.context},
	}
	n := 4
	for _, m := range [...][2]*ast.Term{{keySubject, p.subject}, {keyCaller, p.caller}} {
		if m[1] != nil {
			members[n] = m
			n++
		}
	}
	return ast.NewObject(members[:n]...)
}

// setAction makes input, built by inputParts.input, the input for action:
// the actions of one resource share one input object, whose action alone
// changes between their evaluations (building an object costs a map and
// three allocations). Nothing kept beyond an evaluation holds the object:
// the values carried or shared between evaluations are those of rules
// that do not read input as a whole (reuse.go).
func setAction(input ast.Object, action string) {
	input.Insert(keyAction, ast.StringTerm(action))
}

// subjectObject is an AuthZEN subject as the policies see it: type, id
// and, when there are any, properties (the token already taken out).
func subjectObject(s *authz.RequestSubject) (ast.Object, error) {
	obj := ast.NewObject(
		[2]*ast.Term{keyType, ast.StringTerm(s.Type)},
		[2]*ast.Term{keyID, ast.StringTerm(s.ID)},
	)
	if len(s.Properties) > 0 {
		props, err := anyObject(s.Properties)
		if err != nil {
			return nil, fmt.Errorf("subject properties: %w", err)
		}
		obj.Insert(keyProperties, ast.NewTerm(props))
	}
	return obj, nil
}

// hasInputValue builds the input of the has() query: the principal, as for
// decisions, and the check exactly as the caller sent it.
func hasInputValue(principal ast.Object, check any) (ast.Value, error) {
	c, err := ast.InterfaceToValue(check)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	return ast.NewObject(
		[2]*ast.Term{keyPrincipal, ast.NewTerm(principal)},
		[2]*ast.Term{keyCheck, ast.NewTerm(c)},
	), nil
}

// principalState is the Subject the engine prepares for a principal: its
// policy input, built once per session and shared, read-only, by every
// evaluation for it. Its address identifies the session for the values
// carried between its evaluations (reuse.go).
type principalState struct {
	principal authz.Principal
	obj       ast.Object
}

// Principal implements authz.Subject.
func (s *principalState) Principal() authz.Principal { return s.principal }

func newPrincipalState(p authz.Principal) (*principalState, error) {
	obj, err := principalObject(p)
	if err != nil {
		return nil, err
	}
	return &principalState{principal: p, obj: obj}, nil
}

// stateOf returns the engine's state for s: s itself when this engine
// prepared it (a session's), else one prepared for this evaluation only.
// The second result says whether it lasts beyond the evaluation.
func stateOf(s authz.Subject) (*principalState, bool, error) {
	var p authz.Principal // none: the anonymous principal
	switch s := s.(type) {
	case *principalState:
		return s, true, nil
	case authz.Subject:
		p = s.Principal()
	}
	st, err := newPrincipalState(p)
	return st, false, err
}

func principalObject(p authz.Principal) (ast.Object, error) {
	obj := ast.NewObject([2]*ast.Term{keyAuthenticated, ast.BooleanTerm(p.Authenticated)})
	if !p.Authenticated {
		return obj, nil
	}
	putString(obj, keyUserID, p.UserID)
	putString(obj, keySessionID, p.SessionID)
	putString(obj, keyOrgID, p.OrgID)
	putString(obj, keyOrgRole, p.OrgRole)
	putString(obj, keyOrgSlug, p.OrgSlug)
	obj.Insert(keyOrgPermissions, stringArray(p.OrgPermissions))
	obj.Insert(keyFeatures, stringArray(p.Features))
	obj.Insert(keyPlans, stringArray(p.Plans))
	if fva := p.FactorVerificationAge; fva != nil {
		obj.Insert(keyFVA, ast.ArrayTerm(ast.IntNumberTerm(fva[0]), ast.IntNumberTerm(fva[1])))
	}
	putString(obj, keySessionStatus, p.SessionStatus)
	if p.Actor != nil {
		actor, err := anyObject(p.Actor)
		if err != nil {
			return nil, fmt.Errorf("actor: %w", err)
		}
		obj.Insert(keyActor, ast.NewTerm(actor))
	}
	obj.Insert(keyTokenVersion, ast.IntNumberTerm(p.TokenVersion))
	return obj, nil
}

func resourceObject(r *authz.Resource) (ast.Object, error) {
	if r == nil {
		return emptyObject, nil
	}
	// Gathered first, so that the object is allocated once at its size,
	// and its strings' terms at once.
	var pairs pairList
	pairs.terms = make([]ast.Term, 0, 5)
	pairs.addString(keyType, r.Type)
	pairs.addString(keyID, r.ID)
	pairs.addString(keyOrgID, r.OrgID)
	pairs.addString(keyOrgSlug, r.OrgSlug)
	pairs.addString(keyOwnerID, r.OwnerID)
	// Empty attributes are left out, as in the resource's JSON form, which
	// keys the decision cache: equal keys must mean equal inputs.
	if len(r.Attributes) > 0 {
		attrs, err := anyObject(r.Attributes)
		if err != nil {
			return nil, fmt.Errorf("resource attributes: %w", err)
		}
		pairs.add(keyAttributes, ast.NewTerm(attrs))
	}
	return ast.NewObject(pairs.list[:pairs.n]...), nil
}

// pairList gathers the members of a small object.
type pairList struct {
	list  [6][2]*ast.Term
	n     int
	terms []ast.Term // room for the string members' terms
}

func (p *pairList) add(key, value *ast.Term) {
	p.list[p.n] = [2]*ast.Term{key, value}
	p.n++
}

// addString adds a string member, unless it is empty.
func (p *pairList) addString(key *ast.Term, s string) {
	if s != "" {
		p.terms = append(p.terms, ast.Term{Value: ast.String(s)})
		p.add(key, &p.terms[len(p.terms)-1])
	}
}

func putString(obj ast.Object, key *ast.Term, s string) {
	if s != "" {
		obj.Insert(key, ast.StringTerm(s))
	}
}

func stringArray(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

// anyObject converts a decoded JSON object (numbers as json.Number or
// float64) into an OPA object. A nil map becomes an empty object.
func anyObject(m map[string]any) (ast.Object, error) {
	if len(m) == 0 {
		return emptyObject, nil
	}
	v, err := ast.InterfaceToValue(m)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return obj, nil
}
