package authz

import (
	"context"
	"fmt"
	"time"
)

// Actions lists the actions the serving policies know: what DecideActions
// answers when asked for none in particular.
func (d *Decider) Actions() []string { return d.policies.Actions() }

// ActionDecision is the decision for one action of DecideActions.
type ActionDecision struct {
	Action string
	Decision
}

// DecideActions answers, for one session and one resource, a check per
// action: actions in the order given, or, when actions is nil, every
// action the serving policies know (their catalog and the system
// permission keys). The token was verified once (the session) and the
// policies evaluate every action under one revision, with the resource,
// context and subject built into their input once; each action is still
// decided by the policies on its own, exactly as Decide would decide it.
// Every decision is counted and logged as Decide's are. The decision
// cache is not consulted: this asks many actions at once, and the cache
// keys one. It fails as a whole when any action cannot be decided. The
// revision is the policies' that decided (the serving one when no action
// was asked).
func (d *Decider) DecideActions(ctx context.Context, s Session, c Check, actions []string) (_ []ActionDecision, revision string, _ error) {
	start := d.now()
	names, outs, revision, err := d.actionOutcomes(ctx, s, c, actions)
	if err != nil {
		return nil, "", err
	}
	// The evaluations ran as one: each decision is counted at its share.
	elapsed := d.now().Sub(start) / time.Duration(max(len(names), 1))
	out := make([]ActionDecision, len(names))
	records := make([]DecisionRecord, 0, len(names))
	for i, name := range names {
		dec := Decision{
			DecisionID: newDecisionID(), Allow: outs[i].Allow, Reason: outs[i].Reason,
			Message: outs[i].Message, PolicyRevision: revision,
		}
		out[i] = ActionDecision{Action: name, Decision: dec}
		d.recorder.ObserveDecision(dec.Allow, string(dec.Reason), elapsed)
		if d.log != nil {
			ch := c
			ch.Action = name
			r := DecisionRecord{Time: start, Origin: OriginOf(ctx), Principal: s.Principal, Check: ch, Decision: dec, Elapsed: elapsed}
			if s.Rejected != nil {
				r.TokenReason = s.Rejected.Reason
			}
			records = append(records, r)
		}
	}
	for _, r := range records {
		d.logDecision(s, r)
	}
	return out, revision, nil
}

// actionOutcomes evaluates c for each action (nil: the policies' own),
// or, for a rejected token, answers each with the token's reason.
func (d *Decider) actionOutcomes(ctx context.Context, s Session, c Check, actions []string) ([]string, []Outcome, string, error) {
	if s.Rejected != nil {
		if actions == nil {
			actions = d.policies.Actions()
		}
		outs := make([]Outcome, len(actions))
		for i := range outs {
			outs[i] = Outcome{Reason: s.Rejected.Reason, Message: s.Rejected.Message}
		}
		return actions, outs, d.policies.Revision(), nil
	}
	names, outs, revision, err := d.policies.EvaluateActions(ctx, Input{Subject: s.subject(), Check: c}, actions)
	if err != nil {
		return nil, nil, "", fmt.Errorf("evaluate policies: %w", err)
	}
	for i, o := range outs {
		if o.Reason == "" {
			return nil, nil, "", fmt.Errorf("evaluate policies: the decision for %s has no reason code", names[i])
		}
	}
	return names, outs, revision, nil
}
