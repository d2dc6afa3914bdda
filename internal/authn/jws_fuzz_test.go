package authn

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseCompact checks the JWS parser against encoding/base64 and
// encoding/json: it accepts a segment only in its one canonical spelling
// (unpadded base64url that re-encodes to itself), returns exactly the
// decoded bytes, and no header with crit passes checkHeader.
func FuzzParseCompact(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"RS256","typ":"JWT"}`))
	for _, seed := range []string{
		header + ".e30.AA", // canonical; the one-byte signature "AA" has four unused bits
		header + ".e30.AB", header + ".e30.A_", header + ".e30.AA==", header + ".e30=.AA",
		setLowBit(enc([]byte(`{"alg":"RS256"}  `))) + ".e30.AA", // two unused bits
		setLowBit(enc([]byte(`{"alg":"RS256"} `))) + ".e30.AA",  // four unused bits
		enc([]byte(`{"alg":"RS256","zzz":1,"crit":["zzz"]}`)) + ".e30.AA",
		enc([]byte(`{"alg":"RS256","b64":false,"crit":["b64"]}`)) + ".e30.AA",
		enc([]byte(`{"alg":"RS256","crit":[]}`)) + ".e30.AA",
		enc([]byte(`{"alg":"RS256","crit":null}`)) + ".e30.AA",
		enc([]byte(`{"alg":"RS256","crit":"b64"}`)) + ".e30.AA",
		enc([]byte(`{"alg":"RS256","crit":["alg"]}`)) + ".e30.AA",
		enc([]byte(`{"alg":"RS256","crit":["zzz"],"crit":null}`)) + ".e30.AA",
		header + ".e30.A\nA", header + ".e30.A+", "..", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := parseCompact(token)
		if err != nil {
			return
		}
		segs := strings.Split(token, ".")
		for i, got := range [][]byte{nil, c.payload, c.signature} {
			want, err := base64.RawURLEncoding.DecodeString(segs[i])
			if err != nil || base64.RawURLEncoding.EncodeToString(want) != segs[i] {
				t.Fatalf("parseCompact(%q) accepted segment %d, which is not canonical base64url", token, i)
			}
			if i > 0 && string(got) != string(want) {
				t.Fatalf("parseCompact(%q) segment %d = %x, want %x", token, i, got, want)
			}
		}
		if c.checkHeader() != nil {
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(segs[0])
		var h map[string]json.RawMessage
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("parseCompact(%q) accepted a header encoding/json cannot read: %v", token, err)
		}
		if _, ok := h["crit"]; ok {
			t.Fatalf("checkHeader passed header %s with crit", raw)
		}
	})
}

// setLowBit respells a base64url segment whose last character has unused
// bits by setting the lowest of them.
func setLowBit(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}
