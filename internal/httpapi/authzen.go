package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// OpenID AuthZEN Authorization API 1.0, over the same decision path as
// /v1/check: a subject carries the Clerk session token in
// subject.properties.token, and each evaluation is a check. AuthZEN asks
// receivers to ignore fields they do not know, so these request types are
// open objects (keys still exact and never repeated), unlike Verdict's own.

// The AuthZEN paths, as the metadata document names them.
const (
	pathEvaluation     = "/access/v1/evaluation"
	pathEvaluations    = "/access/v1/evaluations"
	pathSearchAction   = "/access/v1/search/action"
	pathSearchSubject  = "/access/v1/search/subject"
	pathSearchResource = "/access/v1/search/resource"
	pathAuthZENConfig  = "/.well-known/authzen-configuration"
)

// The resource properties that become the resource's own fields; its
// other properties are its attributes.
const (
	propertyOrgID   = "org_id"
	propertyOrgSlug = "org_slug"
	propertyOwnerID = "owner_id"
	// propertyToken is the subject property that carries the session
	// token; the policies see the subject without it.
	propertyToken = "token"
)

// entity is an AuthZEN subject or resource: type and id are required.
type entity struct {
	Type       *string        `json:"type"`
	ID         *string        `json:"id"`
	Properties map[string]any `json:"properties"`
}

func (*entity) ignoresUnknownFields() {}

// action is an AuthZEN action: name is required. Its properties are not
// part of a Verdict check (the context is where a policy reads such
// things).
type action struct {
	Name       *string        `json:"name"`
	Properties map[string]any `json:"properties"`
}

func (*action) ignoresUnknownFields() {}

// evaluation is AuthZEN's 4-tuple: one access evaluation request, and
// each item of an evaluations request.
type evaluation struct {
	Subject  *entity        `json:"subject"`
	Action   *action        `json:"action"`
	Resource *entity        `json:"resource"`
	Context  map[string]any `json:"context"`
}

func (*evaluation) ignoresUnknownFields() {}

// ask turns an evaluation into a session token and a check; a missing
// required member or a property of the wrong type is a 400, where names
// the item in messages ("" for the request itself).
func (e evaluation) ask(where string) (string, authz.Check, error) {
	if e.Action == nil || e.Action.Name == nil || *e.Action.Name == "" {
		return "", authz.Check{}, badRequest(where + `"action" with a non-empty "name" is required`)
	}
	return about(e.Subject, e.Resource, *e.Action.Name, e.Context, where)
}

// about is the check of action by subject on resource, with the
// subject's session token.
func about(subject, resource *entity, action string, context map[string]any, where string) (string, authz.Check, error) {
	switch {
	case !subject.named():
		return "", authz.Check{}, badRequest(where + `"subject" with a non-empty "type" and "id" is required`)
	case !resource.named():
		return "", authz.Check{}, badRequest(where + `"resource" with a non-empty "type" and "id" is required`)
	}
	token, s, err := subject.requestSubject(where)
	if err != nil {
		return "", authz.Check{}, err
	}
	r, err := resource.resource(where)
	if err != nil {
		return "", authz.Check{}, err
	}
	c := authz.Check{Action: action, Resource: r, Context: context, Subject: s}
	if err := c.Validate(); err != nil {
		return "", authz.Check{}, validationError(where, err)
	}
	return token, c, nil
}

// named reports whether e is given with a non-empty type and id, as
// AuthZEN requires them: an entity of no type or no id names nothing a
// policy could judge.
func (e *entity) named() bool {
	return e != nil && e.Type != nil && e.ID != nil && *e.Type != "" && *e.ID != ""
}

// requestSubject splits the subject into its session token and the
// subject the policies see.
func (e *entity) requestSubject(where string) (string, *authz.RequestSubject, error) {
	s := &authz.RequestSubject{Type: *e.Type, ID: *e.ID}
	var token string
	for k, v := range e.Properties {
		if k != propertyToken {
			if s.Properties == nil {
				s.Properties = make(map[string]any, len(e.Properties))
			}
			s.Properties[k] = v
			continue
		}
		t, ok := v.(string)
		if !ok {
			return "", nil, badRequest(where + `"subject.properties.token" must be a string, the Clerk session token`)
		}
		token = t
	}
	return token, s, nil
}

// resource maps an AuthZEN resource onto Verdict's: org_id, org_slug and
// owner_id properties become its fields, the others its attributes.
func (e *entity) resource(where string) (*authz.Resource, error) {
	r := &authz.Resource{Type: *e.Type, ID: *e.ID}
	fields := map[string]*string{propertyOrgID: &r.OrgID, propertyOrgSlug: &r.OrgSlug, propertyOwnerID: &r.OwnerID}
	for k, v := range e.Properties {
		field, named := fields[k]
		if !named {
			if r.Attributes == nil {
				r.Attributes = make(map[string]any, len(e.Properties))
			}
			r.Attributes[k] = v
			continue
		}
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(fmt.Sprintf(`%s"resource.properties.%s" must be a string`, where, k))
		}
		*field = s
	}
	return r, nil
}

// validationError is a check over a size limit, as a 400.
func validationError(where string, err error) error {
	if fe, ok := err.(*authz.FieldError); ok {
		return badRequest(where + fe.Error())
	}
	return err
}

// decisionContext is the context of an AuthZEN decision: Verdict's reason
// code, message, decision id and policy revision.
type decisionContext struct {
	Reason         authz.Reason `json:"reason"`
	Message        string       `json:"message"`
	DecisionID     string       `json:"decision_id"`
	PolicyRevision string       `json:"policy_revision"`
}

// itemError is the context of an evaluations item that could not be
// evaluated, in the specification's shape.
type itemError struct {
	Error itemErrorDetail `json:"error"`
}

type itemErrorDetail struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// authzenDecision is AuthZEN's decision: a boolean, with a context.
type authzenDecision struct {
	Decision bool `json:"decision"`
	Context  any  `json:"context"`
}

func decisionOf(d authz.Decision) authzenDecision {
	return authzenDecision{Decision: d.Allow, Context: decisionContext{
		Reason: d.Reason, Message: d.Message, DecisionID: d.DecisionID, PolicyRevision: d.PolicyRevision,
	}}
}

// session verifies token once and binds it to the subject the request
// names.
func (s *server) session(r *http.Request, token string, c authz.Check) (authz.Session, error) {
	sess, err := s.decider.Authenticate(withOrigin(r), token)
	if err != nil {
		return authz.Session{}, internalError(err)
	}
	return sess.BindSubject(c.Subject.ID), nil
}

// handleEvaluation serves POST /access/v1/evaluation: one decision.
func (s *server) handleEvaluation() http.Handler {
	decode := decoderFor[evaluation]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req evaluation
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		return s.evaluateOne(w, r, req)
	})
}

func (s *server) evaluateOne(w http.ResponseWriter, r *http.Request, e evaluation) error {
	token, c, err := e.ask("")
	if err != nil {
		return err
	}
	c.Caller = callerFrom(r.Context())
	sess, err := s.session(r, token, c)
	if err != nil {
		return err
	}
	d, err := s.decider.Decide(withOrigin(r), sess, c)
	if err != nil {
		return internalError(err)
	}
	s.logDecision(r, c, d)
	return writeJSON(w, http.StatusOK, decisionOf(d))
}

// The values of options.evaluations_semantic.
const (
	semanticExecuteAll          = "execute_all"
	semanticDenyOnFirstDeny     = "deny_on_first_deny"
	semanticPermitOnFirstPermit = "permit_on_first_permit"
)

// stopFor is when a semantic stops: after the first deny, the first
// permit, or never.
func stopFor(semantic string) (func(allow bool) bool, error) {
	switch semantic {
	case "", semanticExecuteAll:
		return nil, nil
	case semanticDenyOnFirstDeny:
		return func(allow bool) bool { return !allow }, nil
	case semanticPermitOnFirstPermit:
		return func(allow bool) bool { return allow }, nil
	}
	return nil, badRequest(fmt.Sprintf(`"options.evaluations_semantic" must be %s, %s or %s, not %q`,
		semanticExecuteAll, semanticDenyOnFirstDeny, semanticPermitOnFirstPermit, semantic))
}

type evaluationsOptions struct {
	Semantic string `json:"evaluations_semantic"`
}

func (*evaluationsOptions) ignoresUnknownFields() {}

// evaluationsRequest is AuthZEN's boxcar: top-level defaults and the
// evaluations.
type evaluationsRequest struct {
	Subject     *entity             `json:"subject"`
	Action      *action             `json:"action"`
	Resource    *entity             `json:"resource"`
	Context     map[string]any      `json:"context"`
	Evaluations []evaluation        `json:"evaluations"`
	Options     *evaluationsOptions `json:"options"`
}

func (*evaluationsRequest) ignoresUnknownFields() {}

// inheritedBytes is what the items take from the defaults, in all: the
// encoded size of each default member, once per item that inherits it.
func (r evaluationsRequest) inheritedBytes() int64 {
	sizes := [3]int64{encodedSize(r.Subject), encodedSize(r.Resource), encodedSize(r.Context)}
	var total int64
	for _, item := range r.Evaluations {
		for i, inherits := range [3]bool{item.Subject == nil, item.Resource == nil, item.Context == nil} {
			if inherits {
				total += sizes[i]
			}
		}
	}
	return total
}

func (r evaluationsRequest) defaults() evaluation {
	return evaluation{Subject: r.Subject, Action: r.Action, Resource: r.Resource, Context: r.Context}
}

// withDefaults is item with the request's defaults: a member the item
// leaves out is the default's, whole; a subject or resource the item
// gives without its type or id takes the default's.
func (item evaluation) withDefaults(d evaluation) evaluation {
	if item.Action == nil {
		item.Action = d.Action
	}
	if item.Context == nil {
		item.Context = d.Context
	}
	item.Subject = item.Subject.withDefault(d.Subject)
	item.Resource = item.Resource.withDefault(d.Resource)
	return item
}

func (e *entity) withDefault(d *entity) *entity {
	if e == nil || d == nil {
		if e == nil {
			return d
		}
		return e
	}
	merged := *e
	if merged.Type == nil {
		merged.Type = d.Type
	}
	if merged.ID == nil {
		merged.ID = d.ID
	}
	return &merged
}

type evaluationsResponse struct {
	Evaluations []authzenDecision `json:"evaluations"`
}

// handleEvaluations serves POST /access/v1/evaluations: many evaluations,
// each token verified once. An item that cannot be evaluated is a deny
// with the error in its context, as the specification has it; without
// items the request is one evaluation.
func (s *server) handleEvaluations() http.Handler {
	decode := decoderFor[evaluationsRequest]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req evaluationsRequest
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		var semantic string
		if req.Options != nil {
			semantic = req.Options.Semantic
		}
		stop, err := stopFor(semantic)
		if err != nil {
			return err
		}
		if len(req.Evaluations) == 0 {
			return s.evaluateOne(w, r, req.defaults())
		}
		if n := len(req.Evaluations); n > s.limits.MaxBatch {
			return badRequest(fmt.Sprintf(`"evaluations" must hold at most %d items, not %d`, s.limits.MaxBatch, n))
		}
		if err := s.checkRepeated(req.inheritedBytes()); err != nil {
			return err
		}
		asks, refusals, err := s.asks(r, req)
		if err != nil {
			return err
		}
		decisions, err := s.decider.DecideAll(withOrigin(r), asks, stop)
		if err != nil {
			return internalError(err)
		}
		resp := evaluationsResponse{Evaluations: make([]authzenDecision, len(decisions))}
		for i, d := range decisions {
			if refusals[i] != nil {
				resp.Evaluations[i] = authzenDecision{Context: itemError{Error: itemErrorDetail{Status: refusals[i].Status, Message: refusals[i].Message}}}
				continue
			}
			s.logDecision(r, asks[i].Check, d)
			resp.Evaluations[i] = decisionOf(d)
		}
		return writeJSON(w, http.StatusOK, resp)
	})
}

// asks are the request's items as checks, each with its session; an item
// that is not a valid evaluation is unanswerable, with its refusal. Each
// distinct token is verified once.
func (s *server) asks(r *http.Request, req evaluationsRequest) ([]authz.Ask, []*Error, error) {
	defaults := req.defaults()
	asks := make([]authz.Ask, len(req.Evaluations))
	refusals := make([]*Error, len(req.Evaluations))
	sessions := make(map[string]authz.Session)
	for i, item := range req.Evaluations {
		token, c, err := item.withDefaults(defaults).ask(fmt.Sprintf("evaluations[%d]: ", i))
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				return nil, nil, err
			}
			asks[i], refusals[i] = authz.Ask{Unanswerable: true}, e
			continue
		}
		c.Caller = callerFrom(r.Context())
		sess, seen := sessions[token]
		if !seen {
			if sess, err = s.decider.Authenticate(withOrigin(r), token); err != nil {
				return nil, nil, internalError(err)
			}
			sessions[token] = sess
		}
		asks[i] = authz.Ask{Session: sess.BindSubject(c.Subject.ID), Check: c}
	}
	return asks, refusals, nil
}

// searchRequest is AuthZEN's action search: which actions may the subject
// take on the resource. Pagination is accepted and not needed: the
// answer is never longer than the policies' catalog, and comes whole.
type searchRequest struct {
	Subject  *entity        `json:"subject"`
	Resource *entity        `json:"resource"`
	Context  map[string]any `json:"context"`
}

func (*searchRequest) ignoresUnknownFields() {}

type actionName struct {
	Name string `json:"name"`
}

type searchResponse struct {
	Results []actionName `json:"results"`
}

// handleActionSearch serves POST /access/v1/search/action: the actions
// the policies know (the catalog and the system permission keys) that
// the subject may take on the resource.
func (s *server) handleActionSearch() http.Handler {
	decode := decoderFor[searchRequest]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req searchRequest
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		token, c, err := about(req.Subject, req.Resource, "", req.Context, "")
		if err != nil {
			return err
		}
		c.Caller = callerFrom(r.Context())
		if err := s.checkRepeats(len(s.decider.Actions()), encodedSize(req.Subject)+encodedSize(req.Resource)+encodedSize(req.Context)); err != nil {
			return err
		}
		sess, err := s.session(r, token, c)
		if err != nil {
			return err
		}
		decisions, _, err := s.decider.DecideActions(withOrigin(r), sess, c, nil)
		if err != nil {
			return internalError(err)
		}
		resp := searchResponse{Results: []actionName{}}
		for _, d := range decisions {
			if d.Allow {
				resp.Results = append(resp.Results, actionName{Name: d.Action})
			}
		}
		return writeJSON(w, http.StatusOK, resp)
	})
}

// handleSearchUnsupported answers subject and resource search, which need
// a directory of subjects or resources that Verdict does not keep: the
// metadata leaves them out, and the path is not found.
func (s *server) handleSearchUnsupported(what string) http.Handler {
	return s.endpoint(func(http.ResponseWriter, *http.Request) error {
		return &Error{Status: http.StatusNotFound, Code: codeNotFound, Message: fmt.Sprintf(
			"%s search is not offered: it needs a directory of %ss, which Verdict does not keep (see %s)", what, what, pathAuthZENConfig)}
	})
}

// authzenConfigPaths are where the metadata document is served: the
// well-known path and, for a public URL with a path (a PDP behind a proxy
// at https://host/tenant1), the well-known path with that path after it,
// as AuthZEN builds the document's URL.
func authzenConfigPaths(publicURL string) []string {
	paths := []string{pathAuthZENConfig}
	if u, err := url.Parse(publicURL); err == nil {
		if p := strings.TrimSuffix(u.Path, "/"); p != "" {
			paths = append(paths, pathAuthZENConfig+p)
		}
	}
	return paths
}

// authzenConfiguration is the PDP metadata document.
type authzenConfiguration struct {
	PolicyDecisionPoint       string `json:"policy_decision_point"`
	AccessEvaluationEndpoint  string `json:"access_evaluation_endpoint"`
	AccessEvaluationsEndpoint string `json:"access_evaluations_endpoint"`
	SearchActionEndpoint      string `json:"search_action_endpoint"`
}

// handleAuthZENConfiguration serves the metadata document. Its URLs start
// with the service's public URL: publicURL when configured, else the
// scheme and Host of the request (which a proxy may have rewritten).
func (s *server) handleAuthZENConfiguration(publicURL string) http.Handler {
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		base := strings.TrimSuffix(publicURL, "/")
		if base == "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			base = scheme + "://" + r.Host
		}
		return writeJSON(w, http.StatusOK, authzenConfiguration{
			PolicyDecisionPoint:       base,
			AccessEvaluationEndpoint:  base + pathEvaluation,
			AccessEvaluationsEndpoint: base + pathEvaluations,
			SearchActionEndpoint:      base + pathSearchAction,
		})
	})
}
