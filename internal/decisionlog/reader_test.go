package decisionlog

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestReaderReadsWhatTheWriterWrites: a line read back gives the decision
// its record was made of.
func TestReaderReadsWhatTheWriterWrites(t *testing.T) {
	t.Parallel()
	authenticated := record(1)
	authenticated.Check.Resource.Attributes["limit"] = json.Number("12.50")
	anonymous := record(2)
	anonymous.Principal = authz.Principal{}
	anonymous.Check.Resource, anonymous.Check.Context = nil, nil
	refused := record(3)
	refused.Principal, refused.TokenReason = authz.Principal{}, authz.ReasonTokenExpired
	var log []byte
	for _, r := range []authz.DecisionRecord{authenticated, anonymous, refused} {
		var err error
		if log, err = appendEntry(log, r); err != nil {
			t.Fatal(err)
		}
	}
	rd := NewReader(strings.NewReader(string(log)))
	for i, want := range []authz.DecisionRecord{authenticated, anonymous, refused} {
		got, line, err := rd.Next()
		if err != nil || line != i+1 {
			t.Fatalf("entry %d: line %d, %v", i, line, err)
		}
		wantEntry := Entry{
			DecisionID: want.Decision.DecisionID, Principal: want.Principal, TokenReason: want.TokenReason,
			Check: want.Check, Allow: want.Decision.Allow, Reason: want.Decision.Reason,
		}
		if diff := cmp.Diff(wantEntry, got); diff != "" {
			t.Errorf("entry %d (-want +got):\n%s", i, diff)
		}
	}
	if _, _, err := rd.Next(); err != io.EOF {
		t.Errorf("after the last line: %v, want EOF", err)
	}
}

// TestReaderSkipsWhatIsNotADecision: each malformed line is reported with
// its number and the reader goes on.
func TestReaderSkipsWhatIsNotADecision(t *testing.T) {
	t.Parallel()
	good, err := appendEntry(nil, record(9))
	if err != nil {
		t.Fatal(err)
	}
	input := strings.Join([]string{
		"not json",
		`{}`,
		`{"decision_id":"x","principal":{"authenticated":false},"allow":true,"reason":"r"}`,
		`{"decision_id":"x","principal":{"org_id":"o"},"action":"a","allow":true,"reason":"r"}`,
		"",
		`{"decision_id":"x"} {"decision_id":"y"}`,
		`{"decision_id":"` + strings.Repeat("x", 1200) + `"}`,
		strings.TrimSuffix(string(good), "\n"),
		strings.TrimSuffix(string(good), "\n"), // the last line, without its newline
	}, "\n")
	rd := NewReader(strings.NewReader(input))
	rd.max = 1000
	var bad []int
	var read []int
	for {
		_, line, err := rd.Next()
		var le *LineError
		switch {
		case errors.Is(err, io.EOF):
			if want := []int{1, 2, 3, 4, 6, 7}; !cmp.Equal(bad, want) {
				t.Errorf("bad lines %v, want %v", bad, want)
			}
			if want := []int{8, 9}; !cmp.Equal(read, want) {
				t.Errorf("read lines %v, want %v", read, want)
			}
			return
		case errors.As(err, &le):
			if le.Line != line {
				t.Errorf("error names line %d at line %d", le.Line, line)
			}
			bad = append(bad, line)
		case err != nil:
			t.Fatal(err)
		default:
			read = append(read, line)
		}
	}
}

// FuzzReader: whatever the input, the reader ends, numbers lines in
// order, and never returns more entries and errors than there are lines.
func FuzzReader(f *testing.F) {
	good, _ := appendEntry(nil, record(1))
	f.Add(string(good) + "garbage\n\n" + string(good))
	f.Add("{\"decision_id\":\"d\",\"principal\":{\"user_id\":\"u\"},\"action\":\"a\",\"allow\":false,\"reason\":\"r\"}")
	f.Add(strings.Repeat("x", 300) + "\n{}")
	f.Fuzz(func(t *testing.T, input string) {
		rd := NewReader(strings.NewReader(input))
		rd.max = 256
		last, results := 0, 0
		for {
			e, line, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("line %d: %v", line, err)
			}
			if line <= last {
				t.Fatalf("line %d after line %d", line, last)
			}
			if err == nil && (e.DecisionID == "" || e.Reason == "" || e.Principal.Authenticated && e.Principal.UserID == "") {
				t.Fatalf("line %d read as an incomplete entry %+v", line, e)
			}
			last = line
			results++
		}
		if lines := strings.Count(input, "\n") + 1; results > lines {
			t.Fatalf("%d results from %d lines", results, lines)
		}
	})
}
