package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/boundedmap"
	"github.com/verdict-pdp/verdict/internal/decisionlog"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// errDecisionsChanged is returned by `verdict replay` when a decision would
// change under the candidate policies (exit status 1).
var errDecisionsChanged = errors.New("decisions changed")

// replayConfig is the configuration of `verdict replay`.
type replayConfig struct {
	Policies string
	Log      string // a file, or "-" (and "") for standard input
}

// replaySummary is replay's last line.
type replaySummary struct {
	Total       int `json:"total"`
	Changed     int `json:"changed"`
	AllowToDeny int `json:"allow_to_deny"`
	DenyToAllow int `json:"deny_to_allow"`
	ReasonOnly  int `json:"reason_only"`
	Skipped     int `json:"skipped"`
}

// replayAnswer is a decision's allow and reason, before or after.
type replayAnswer struct {
	Allow  bool         `json:"allow"`
	Reason authz.Reason `json:"reason"`
}

// replayChange is one line of replay's output: a decision that changed.
type replayChange struct {
	DecisionID string       `json:"decision_id"`
	Action     string       `json:"action"`
	Before     replayAnswer `json:"before"`
	After      replayAnswer `json:"after"`
}

// maxReplaySessions bounds the principals replay keeps prepared: a log's
// sessions recur, and their decisions then carry values as served ones do.
const maxReplaySessions = 4096

// runReplay implements `verdict replay`: every decision of a decision log
// evaluated again against candidate policies, the changed ones printed,
// then a summary. It returns errDecisionsChanged when any changed.
func runReplay(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg replayConfig
	fs := flagSet("replay", stdout)
	fs.StringVar(&cfg.Policies, "policies", "", "the candidate policy directory (required)")
	fs.StringVar(&cfg.Log, "log", "-", "the decision log to replay: a file, or - for standard input")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if cfg.Policies == "" {
		return errors.New("--policies is required: the candidate policy directory")
	}
	engine, err := policy.Load(ctx, policy.Dir(cfg.Policies), policy.Options{Dir: cfg.Policies})
	if err != nil {
		return fmt.Errorf("load policies from %s: %w", cfg.Policies, err)
	}
	in := stdin
	if cfg.Log != "-" && cfg.Log != "" {
		f, err := os.Open(cfg.Log)
		if err != nil {
			return fmt.Errorf("open the decision log: %w", err)
		}
		defer f.Close()
		in = f
	}
	summary, err := replay(ctx, engine, decisionlog.NewReader(in), json.NewEncoder(stdout), stderr)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(map[string]replaySummary{"summary": summary}); err != nil {
		return err
	}
	if summary.Changed > 0 {
		return errDecisionsChanged
	}
	return nil
}

// replay evaluates every decision r reads, printing each that changed to
// out and each unreadable line to stderr.
func replay(ctx context.Context, engine *policy.Engine, r *decisionlog.Reader, out *json.Encoder, stderr io.Writer) (replaySummary, error) {
	out.SetEscapeHTML(false)
	sessions := boundedmap.New[string, authz.Subject](maxReplaySessions)
	var s replaySummary
	for {
		e, line, err := r.Next()
		var bad *decisionlog.LineError
		switch {
		case errors.Is(err, io.EOF):
			return s, nil
		case errors.As(err, &bad):
			s.Total++
			s.Skipped++
			fmt.Fprintf(stderr, "verdict replay: %v\n", bad)
			continue
		case err != nil:
			return s, fmt.Errorf("read the decision log at line %d: %w", line, err)
		}
		s.Total++
		if e.TokenReason != "" { // the token decided; the policies never ran
			s.Skipped++
			continue
		}
		after, err := replayOne(ctx, engine, sessions, e)
		if err != nil {
			fmt.Fprintf(stderr, "verdict replay: line %d: decision %s: %v\n", line, e.DecisionID, err)
			after = replayAnswer{Reason: authz.ReasonEvaluationError} // a change, never a skip
		}
		before := replayAnswer{Allow: e.Allow, Reason: e.Reason}
		if after == before {
			continue
		}
		s.Changed++
		switch {
		case before.Allow && !after.Allow:
			s.AllowToDeny++
		case !before.Allow && after.Allow:
			s.DenyToAllow++
		default:
			s.ReasonOnly++
		}
		if err := out.Encode(replayChange{DecisionID: e.DecisionID, Action: e.Check.Action, Before: before, After: after}); err != nil {
			return s, err
		}
	}
}

// replayOne evaluates one logged decision, its principal prepared once per
// distinct principal.
func replayOne(ctx context.Context, engine *policy.Engine, sessions *boundedmap.Map[string, authz.Subject], e decisionlog.Entry) (replayAnswer, error) {
	subject := authz.PrincipalSubject(e.Principal)
	if e.Principal.Authenticated {
		key, err := json.Marshal(e.Principal)
		if err != nil {
			return replayAnswer{}, err
		}
		if s, ok := sessions.Get(string(key)); ok {
			subject = s
		} else if s, err := engine.Prepare(e.Principal); err == nil {
			sessions.Put(string(key), s, nil)
			subject = s
		}
	}
	out, _, err := engine.Evaluate(ctx, authz.Input{Subject: subject, Check: e.Check})
	return replayAnswer{Allow: out.Allow, Reason: out.Reason}, err
}
