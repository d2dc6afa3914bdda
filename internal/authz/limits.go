package authz

import "fmt"

// Size limits on a check's fields. A deny message names the action, and
// decisions, logs and caches carry it, so an unbounded action lets a caller
// make Verdict hold whatever it sends; resource names are bounded alike.
// Real action names and resource identifiers are far shorter. Every front
// end (the HTTP API, verdict check) refuses a check over a limit through
// Check.Validate; api/openapi.yaml documents the same numbers.
const (
	// MaxActionBytes bounds Check.Action.
	MaxActionBytes = 256
	// MaxResourceFieldBytes bounds each of Resource's Type, ID, OrgID,
	// OrgSlug and OwnerID, and RequestSubject's Type and ID.
	MaxResourceFieldBytes = 256
	// MaxTokenBytes bounds a session token. Clerk's are one to two KiB;
	// an authenticator refuses anything longer before looking inside it,
	// and the Decider does not even hash it.
	MaxTokenBytes = 16 << 10
)

// FieldError reports a check field over its size limit.
type FieldError struct {
	Field string // the field's path in a request: "action", "resource.id"
	Size  int    // its length in bytes
	Limit int    // the most bytes allowed
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%q must be at most %d bytes, not %d", e.Field, e.Limit, e.Size)
}

// Validate reports the first field of c over its size limit as a
// *FieldError. It does not require an action: each front end says that in
// its own words.
func (c Check) Validate() error {
	if err := checkSize("action", c.Action, MaxActionBytes); err != nil {
		return err
	}
	if s := c.Subject; s != nil {
		if err := checkNames(namedField{"subject.type", s.Type}, namedField{"subject.id", s.ID}); err != nil {
			return err
		}
	}
	if r := c.Resource; r != nil {
		return checkNames(
			namedField{"resource.type", r.Type},
			namedField{"resource.id", r.ID},
			namedField{"resource.org_id", r.OrgID},
			namedField{"resource.org_slug", r.OrgSlug},
			namedField{"resource.owner_id", r.OwnerID},
		)
	}
	return nil
}

// namedField is a name field of a check, with its path in a request.
type namedField struct{ path, value string }

// checkNames checks each name field against MaxResourceFieldBytes.
func checkNames(fields ...namedField) error {
	for _, f := range fields {
		if err := checkSize(f.path, f.value, MaxResourceFieldBytes); err != nil {
			return err
		}
	}
	return nil
}

func checkSize(path, value string, limit int) error {
	if len(value) > limit {
		return &FieldError{Field: path, Size: len(value), Limit: limit}
	}
	return nil
}
