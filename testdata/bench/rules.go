package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// The policy data the expectations depend on: roles and the action catalog,
// read from the same data.json both servers load.

// term is one {"<kind>": value} of a requirement's any_of.
type term struct {
	kind  string
	value any
}

// requirement is met when any of its terms holds.
type requirement struct {
	anyOf []term
	deny  string
}

// catalogEntry is a usable entry of the action catalog.
type catalogEntry struct {
	requires []requirement
}

// rules is the policy data the expectations depend on, read from the same
// data.json the servers load.
type rules struct {
	systemPermissions []string
	roles             map[string][]string // role → system permissions it holds
	actions           map[string]catalogEntry
	// listed holds every catalog name, usable or not, so that the corpus
	// never picks a listed name as an "unknown action".
	listed map[string]bool
	// skipped names catalog entries the harness cannot model (reported).
	skipped []string
}

// loadRules reads policies/data.json.
func loadRules(path string) (*rules, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy data: %w", err)
	}
	return parseRules(raw)
}

// parseRules decodes the data document the default policies use.
func parseRules(raw []byte) (*rules, error) {
	var doc struct {
		Verdict struct {
			SystemPermissions []string `json:"system_permissions"`
			Roles             map[string]struct {
				SystemPermissions []string `json:"system_permissions"`
			} `json:"roles"`
			Actions map[string]json.RawMessage `json:"actions"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode policy data: %w", err)
	}
	r := &rules{
		systemPermissions: doc.Verdict.SystemPermissions,
		roles:             map[string][]string{},
		actions:           map[string]catalogEntry{},
		listed:            map[string]bool{},
	}
	for name, role := range doc.Verdict.Roles {
		r.roles[name] = role.SystemPermissions
	}
	for name, rawEntry := range doc.Verdict.Actions {
		r.listed[name] = true
		entry, ok := parseEntry(rawEntry)
		if !ok || isPermissionKey(name) {
			r.skipped = append(r.skipped, name)
			continue
		}
		r.actions[name] = entry
	}
	slices.Sort(r.skipped)
	return r, nil
}

// parseEntry accepts the entries whose every term the harness can model;
// anything else is left out of the corpus (the servers would treat a
// malformed one as unknown_action, which the corpus does not rely on).
func parseEntry(raw json.RawMessage) (catalogEntry, bool) {
	var e struct {
		Requires []struct {
			AnyOf []map[string]any `json:"any_of"`
			Deny  *string          `json:"deny"`
		} `json:"requires"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Requires == nil {
		return catalogEntry{}, false
	}
	var entry catalogEntry
	for _, req := range e.Requires {
		if len(req.AnyOf) == 0 {
			return catalogEntry{}, false
		}
		r := requirement{}
		if req.Deny != nil {
			if !slices.Contains(requirementCodes, *req.Deny) {
				return catalogEntry{}, false
			}
			r.deny = *req.Deny
		}
		for _, t := range req.AnyOf {
			if len(t) != 1 {
				return catalogEntry{}, false
			}
			for kind, value := range t {
				if !validTerm(kind, value) {
					return catalogEntry{}, false
				}
				r.anyOf = append(r.anyOf, term{kind: kind, value: value})
			}
		}
		entry.requires = append(entry.requires, r)
	}
	return entry, true
}

func validTerm(kind string, value any) bool {
	s, isString := value.(string)
	switch kind {
	case "role":
		return isString && s != ""
	case "permission":
		return isString && isPermissionKey(s)
	case "feature", "plan":
		return isString && validEntitlementQuery(s)
	case "reverification":
		_, ok := reverificationWindow(value)
		return ok
	case "not_impersonated":
		return value == true
	}
	return false
}
