package policy_test

import (
	"context"
	"os"
	"testing"

	"github.com/verdict-pdp/verdict/internal/policy"
)

func BenchmarkTrivial(b *testing.B) {
	for name, src := range map[string]string{
		"const": allowEveryone,
		"sprintf": "package verdict.authz\n\ndecision := {\"allow\": false, \"reason\": \"x\", \"message\": msg} if {\n\tnot input.principal.authenticated\n\tmsg := sprintf(\"action %s needs\", [input.action])\n}\n",
		"nomsg": "package verdict.authz\n\ndecision := {\"allow\": false, \"reason\": \"x\", \"message\": \"m\"} if {\n\tnot input.principal.authenticated\n}\n",
	} {
		dir := b.TempDir()
		os.WriteFile(dir+"/a.rego", []byte(src), 0o644)
		e, err := policy.Load(context.Background(), os.DirFS(dir), policy.Options{})
		if err != nil {
			b.Fatal(err)
		}
		in := benchInputs()["anonymous"]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := e.Evaluate(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
