package authn_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authn"
)

// benchClaims are a member's v2 session claims with two org features.
func benchClaims(m map[string]any) {
	m["v"] = 2
	m["fea"] = "o:posts,o:reports,u:beta"
	m["o"] = map[string]any{"id": "org_1", "slg": "acme", "rol": "member", "per": "publish,export,read", "fpm": "5,3"}
}

// BenchmarkVerify verifies a token from scratch, and finds it in the
// Decider's session cache.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	token := f.sign(b, nil, benchClaims)
	v := verifier(f.jwks, nil)
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		s := newSessions(v, 16, &lookupCounter{}, testNow)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	v1 := claims(func(m map[string]any) {
		m["org_id"], m["org_role"], m["org_slug"] = "org_1", "org:member", "acme"
		m["org_permissions"] = []string{"org:posts:publish", "org:reports:export"}
	})
	v2 := claims(benchClaims)
	for name, c := range map[string]map[string]any{"v1": v1, "v2": v2} {
		payload, err := json.Marshal(c)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := authn.Normalize(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
