package authn

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzEachMember checks the claim scanner against encoding/json decoding
// into a map, which also matches keys exactly and keeps the last duplicate.
func FuzzEachMember(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"]"}], "d":{"e":"}"} } `, `{"sub":"a","sub":"b"}`, `{"s\u0075b":"x","SUB":"y"}`,
		`{"a":"\"}","b":-1.5e3,"c":true,"d":null}`, `[]`, `null`, `{"a":`, `"x"`, `{"\ud800":1}`, "{\"k\xff\":1}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := map[string]string{}
		err := eachMember(data, func(key, value string) { got[key] = value })
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(data, &want)
		if wantErr == nil && want == nil {
			wantErr = errNotObject // null
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("eachMember(%q) error = %v, encoding/json error = %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("eachMember(%q) found %d keys, want %d", data, len(got), len(want))
		}
		for k, w := range want {
			var gotCompact, wantCompact bytes.Buffer
			g, ok := got[k]
			if !ok || json.Compact(&gotCompact, []byte(g)) != nil || json.Compact(&wantCompact, w) != nil ||
				gotCompact.String() != wantCompact.String() {
				t.Fatalf("eachMember(%q)[%q] = %q, want %q", data, k, g, w)
			}
		}
	})
}
