# Recent verification (Clerk's fva claim and has({reverification})), with
# Clerk's semantics so a preset means here what it means in the SDK:
#   - an age is fresh when it is not -1 and strictly below the window
#     (age 10 fails a 10-minute window);
#   - first_factor looks at the first factor only;
#   - second_factor uses the first factor when the second is not enabled
#     (-1), else the second factor;
#   - multi_factor degrades to the first factor when the second is not
#     enabled, fails when the first is -1, and otherwise needs both fresh;
#   - a token without fva (or with a malformed one) never passes.
package verdict.reverification

import data.verdict.session

# Clerk's presets.
presets := {
	"strict_mfa": {"level": "multi_factor", "after_minutes": 10},
	"strict": {"level": "second_factor", "after_minutes": 10},
	"moderate": {"level": "second_factor", "after_minutes": 60},
	"lax": {"level": "second_factor", "after_minutes": 1440},
}

_level_words := {
	"first_factor": "a first-factor verification",
	"second_factor": "a second-factor verification",
	"multi_factor": "a multi-factor verification",
}

# The window a catalog term names: a preset, or {"level", "after_minutes"}.
# Undefined for anything else, which makes the catalog entry unusable.
window(name) := presets[name] if is_string(name)

window(spec) := {"level": spec.level, "after_minutes": spec.after_minutes} if {
	is_object(spec)
	object.keys(spec) == {"level", "after_minutes"}
	_level_words[spec.level]
	is_number(spec.after_minutes)
	spec.after_minutes > 0
}

satisfied(spec) if _verified(window(spec))

_verified(w) if {
	w.level == "first_factor"
	[first, _] := session.verification_age
	_fresh(first, w.after_minutes)
}

_verified(w) if {
	w.level == "second_factor"
	[first, second] := session.verification_age
	_fresh(_second_factor_age(first, second), w.after_minutes)
}

_verified(w) if {
	w.level == "multi_factor"
	[first, second] := session.verification_age
	second == -1
	_fresh(first, w.after_minutes)
}

_verified(w) if {
	w.level == "multi_factor"
	[first, second] := session.verification_age
	first != -1
	second != -1
	_fresh(first, w.after_minutes)
	_fresh(second, w.after_minutes)
}

_fresh(age, minutes) if {
	age != -1
	minutes > age
}

_second_factor_age(first, -1) := first

_second_factor_age(_, second) := second if second != -1

# For messages.
describe(spec) := msg if {
	is_string(spec)
	w := window(spec)
	msg := sprintf("reverification %s (%s within the last %v minutes)", [spec, _level_words[w.level], w.after_minutes])
}

describe(spec) := msg if {
	is_object(spec)
	w := window(spec)
	msg := sprintf("%s within the last %v minutes", [_level_words[w.level], w.after_minutes])
}

state := msg if {
	[first, second] := session.verification_age
	msg := sprintf("the session's last first-factor verification was %s and its last second-factor verification was %s", [_ago(first), _ago(second)])
} else := "the session token shows no verification age (fva)"

_ago(-1) := "never"

_ago(age) := sprintf("%v minutes ago", [age]) if age != -1
