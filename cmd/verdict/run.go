package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: verdict <command> [flags]

commands:
  serve     run the decision service
  dev       run the service with an ephemeral key, its JWKS and a token minter
  check     one decision from the command line, offline
  test      run the Rego tests of a policy directory with Verdict's built-in layer
  validate  check a policy directory as serve would load it, listing every problem
  fmt       format Rego files as OPA's formatter does (-w write, -l list, --fail)
  replay    evaluate a decision log again against candidate policies, print what changes
  lib       write the built-in Rego library into a policy directory, for opa build and opa test
  version   print version, commit and OPA version

Run 'verdict <command> -h' for a command's flags.`

// run is the whole program: main only maps its error to an exit status.
// Every outside dependency (arguments, environment, output) is a parameter,
// so tests drive the real program in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if len(args) < 2 {
		return fmt.Errorf("no command given\n%s", usage)
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout)
	case "dev":
		return runDev(ctx, rest, getenv, stdout)
	case "check":
		return runCheck(ctx, rest, getenv, stdout)
	case "validate":
		return runValidate(ctx, rest, getenv, stdout)
	case "test":
		return runTest(ctx, rest, getenv, stdout)
	case "fmt":
		return runFmt(ctx, rest, os.Stdin, stdout)
	case "replay":
		return runReplay(ctx, rest, getenv, os.Stdin, stdout, os.Stderr)
	case "lib":
		return runLib(rest, stdout)
	case "version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
