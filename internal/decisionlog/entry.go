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
// contract's field order. The fields whose shape is fixed, the principal
// and the resource's are written directly (the writer runs beside the
// decisions, on the same cores); free-form values (context, attributes,
// actor) through encoding/json.
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
	var err error
	if r.Principal.Authenticated {
		if b, err = appendPrincipal(b, r.Principal); err != nil {
			return b, err
		}
	} else {
		b = append(b, anonymous...)
	}
	if r.TokenReason != "" {
		b = append(b, `,"token_reason":`...)
		b = appendString(b, string(r.TokenReason))
	}
	b = append(b, `,"action":`...)
	b = appendString(b, r.Check.Action)
	if r.Check.Resource != nil {
		if b, err = appendResource(append(b, `,"resource":`...), r.Check.Resource); err != nil {
			return b, err
		}
	}
	if len(r.Check.Context) > 0 {
		if b, err = appendJSON(b, `,"context":`, r.Check.Context); err != nil {
			return b, err
		}
	}
	if r.Check.Caller != "" {
		b = append(b, `,"caller":`...)
		b = appendString(b, r.Check.Caller)
	}
	if r.Check.Subject != nil { // an AuthZEN subject, as the policies saw it (no token)
		if b, err = appendJSON(b, `,"subject":`, r.Check.Subject); err != nil {
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

// appendPrincipal appends p as encoding/json writes an authz.Principal
// (its tags: /v1/authenticate's shape).
func appendPrincipal(b []byte, p authz.Principal) ([]byte, error) {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(append(append(b, '"'), name...), `":`...)
	}
	optional := func(name, v string) {
		if v != "" {
			field(name)
			b = appendString(b, v)
		}
	}
	optional("user_id", p.UserID)
	optional("session_id", p.SessionID)
	optional("org_id", p.OrgID)
	optional("org_role", p.OrgRole)
	optional("org_slug", p.OrgSlug)
	field("org_permissions")
	b = appendStrings(b, p.OrgPermissions)
	if len(p.Features) > 0 {
		field("features")
		b = appendStrings(b, p.Features)
	}
	if len(p.Plans) > 0 {
		field("plans")
		b = appendStrings(b, p.Plans)
	}
	if fva := p.FactorVerificationAge; fva != nil {
		field("factor_verification_age")
		b = strconv.AppendInt(append(b, '['), int64(fva[0]), 10)
		b = strconv.AppendInt(append(b, ','), int64(fva[1]), 10)
		b = append(b, ']')
	}
	optional("session_status", p.SessionStatus)
	if len(p.Actor) > 0 {
		field("actor")
		actor, err := json.Marshal(p.Actor)
		if err != nil {
			return b, fmt.Errorf("principal actor: %w", err)
		}
		b = append(b, actor...)
	}
	field("token_version")
	b = strconv.AppendInt(b, int64(p.TokenVersion), 10)
	field("expires_at")
	expires, err := p.ExpiresAt.MarshalJSON()
	if err != nil {
		return b, fmt.Errorf("principal expires_at: %w", err)
	}
	return append(append(b, expires...), '}'), nil
}

// appendResource appends r as encoding/json writes an authz.Resource.
func appendResource(b []byte, r *authz.Resource) ([]byte, error) {
	b = append(b, '{')
	n := len(b)
	for _, f := range [...]struct{ name, v string }{
		{"type", r.Type}, {"id", r.ID}, {"org_id", r.OrgID}, {"org_slug", r.OrgSlug}, {"owner_id", r.OwnerID},
	} {
		if f.v == "" {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = appendString(append(append(append(b, '"'), f.name...), `":`...), f.v)
	}
	if len(r.Attributes) > 0 {
		if len(b) > n {
			b = append(b, ',')
		}
		attrs, err := json.Marshal(r.Attributes)
		if err != nil {
			return b, fmt.Errorf("resource attributes: %w", err)
		}
		b = append(append(b, `"attributes":`...), attrs...)
	}
	return append(b, '}'), nil
}

// appendStrings appends ss as a JSON array; nil is null, as encoding/json
// writes it.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
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
