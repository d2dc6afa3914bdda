// Command verdict is a policy decision point for applications that sign
// users in with Clerk: it verifies session tokens, evaluates Rego policies
// and answers allow or deny with a stable reason code.
//
// Usage:
//
//	verdict serve --jwks-url https://<frontend-api>/.well-known/jwks.json
//	verdict dev
//	verdict check --claims claims.json --action tasks:read --resource '{"org_id":"org_1"}'
//	verdict version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	err := run(context.Background(), os.Args, os.Getenv, os.Stdout)
	if err != nil && !alreadyReported(err) {
		fmt.Fprintln(os.Stderr, "verdict:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps run's error to the process exit status: 0 success, 1 a
// `check` that denied, a failing `test`, policies `validate` would refuse,
// a `fmt --fail` that found unformatted Rego or a `replay` whose decisions
// changed, 2 anything else (usage, configuration, start-up).
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if alreadyReported(err) || errors.Is(err, errFormatDiffers) {
		return 1
	}
	return 2
}

// alreadyReported: the command printed its answer (the decision, the test
// results, the problems, the usage asked for) and the error only sets the
// exit status.
func alreadyReported(err error) bool {
	return errors.Is(err, flag.ErrHelp) || errors.Is(err, errDenied) || errors.Is(err, errTestsFailed) || errors.Is(err, errInvalidPolicies) ||
		errors.Is(err, errDecisionsChanged)
}

// errDenied is returned by `verdict check` when the decision is a deny.
var errDenied = errors.New("denied")
