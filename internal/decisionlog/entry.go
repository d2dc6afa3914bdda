package decisionlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/jsonpointer"
)

// timeLayout is the entry's time: UTC, to the microsecond.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// anonymous is the principal of a decision made without a verified token.
const anonymous = `{"authenticated":false}`

// appendEntry appends r as one JSON line (with its newline), in the
// contract's field order. The fields whose shape is fixed are written
// directly; the principal, resource and context through encoding/json.
func appendEntry(b []byte, r authz.DecisionRecord) ([]byte, error) {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, r.Decision.DecisionID)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","path":`...)
	b = appendString(b, r.Origin.Path)
	if r.Origin.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendString(b, r.Origin.RequestID)
	}
	b = append(b, `,"policy_revision":`...)
	b = appendString(b, r.Decision.PolicyRevision)
	b = append(b, `,"principal":`...)
	if r.Principal.Authenticated {
		p, err := json.Marshal(r.Principal)
		if err != nil {
			return b, fmt.Errorf("principal: %w", err)
		}
		b = append(b, p...)
	} else {
		b = append(b, anonymous...)
	}
	if r.TokenReason != "" {
		b = append(b, `,"token_reason":`...)
		b = appendString(b, string(r.TokenReason))
	}
	b = append(b, `,"action":`...)
	b = appendString(b, r.Check.Action)
	var err error
	if r.Check.Resource != nil {
		if b, err = appendJSON(b, `,"resource":`, r.Check.Resource); err != nil {
			return b, err
		}
	}
	if len(r.Check.Context) > 0 {
		if b, err = appendJSON(b, `,"context":`, r.Check.Context); err != nil {
			return b, err
		}
	}
	b = append(b, `,"allow":`...)
	b = strconv.AppendBool(b, r.Decision.Allow)
	b = append(b, `,"reason":`...)
	b = appendString(b, string(r.Decision.Reason))
	b = append(b, `,"message":`...)
	b = appendString(b, r.Decision.Message)
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, r.Elapsed.Microseconds(), 10)
	if r.Shadow != nil {
		if b, err = appendJSON(b, `,"shadow":`, r.Shadow); err != nil {
			return b, err
		}
	}
	return append(b, "}\n"...), nil
}

func appendJSON(b []byte, key string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("%s: %w", key, err)
	}
	return append(append(b, key...), j...), nil
}

// appendString appends s as a JSON string. Plain printable ASCII, nearly
// every string here, is copied; anything else goes through encoding/json,
// which escapes it (and replaces invalid UTF-8).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// mask removes what the pointers name from a line appendEntry wrote, and
// returns the line written again (its members then in sorted order).
func mask(line []byte, pointers []jsonpointer.Pointer) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var entry any
	if err := d.Decode(&entry); err != nil {
		return nil, fmt.Errorf("read the entry back to mask it: %w", err)
	}
	for _, p := range pointers {
		entry = p.Remove(entry)
	}
	out, err := json.Marshal(entry)
	if err != nil {
		return nil, fmt.Errorf("write the masked entry: %w", err)
	}
	return append(out, '\n'), nil
}
