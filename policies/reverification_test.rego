package verdict.reverification_test

import data.verdict.reverification

ok(spec, fva) if reverification.satisfied(spec) with input.principal as {"factor_verification_age": fva}

test_windows if {
	reverification.window("strict") == {"level": "second_factor", "after_minutes": 10}
	reverification.window({"level": "first_factor", "after_minutes": 5}) == {"level": "first_factor", "after_minutes": 5}
	not reverification.window("sometimes")
	not reverification.window({"level": "first_factor", "after_minutes": 0})
	not reverification.window({"level": "third_factor", "after_minutes": 5})
	not reverification.window({"level": "first_factor"})
	not reverification.window(10)
}

test_strict_needs_a_fresh_second_factor if {
	ok("strict", [30, 9])
	not ok("strict", [3, 10]) # the window is strict: age 10 fails 10 minutes
	not ok("strict", [3, 30])
}

test_second_factor_falls_back_to_first_when_not_enabled if {
	ok("strict", [3, -1])
	not ok("strict", [30, -1])
	ok("strict", [-1, 3])
	not ok("strict", [-1, -1])
}

test_multi_factor if {
	ok("strict_mfa", [3, 4])
	not ok("strict_mfa", [30, 4])
	not ok("strict_mfa", [3, 40])
	ok("strict_mfa", [3, -1]) # degrades to the first factor
	not ok("strict_mfa", [-1, 3])
}

test_first_factor if {
	ok({"level": "first_factor", "after_minutes": 5}, [4, 100])
	not ok({"level": "first_factor", "after_minutes": 5}, [-1, 1])
}

test_presets_lax_and_moderate if {
	ok("moderate", [0, 59])
	not ok("moderate", [0, 60])
	ok("lax", [0, 1439])
}

test_missing_or_malformed_fva_never_passes if {
	not reverification.satisfied("lax") with input.principal as {}
	not ok("lax", ["0", "0"])
	not ok("lax", [0])
}

test_unknown_spec_never_passes if {
	not ok("sometimes", [0, 0])
}

test_messages if {
	reverification.describe("strict") == "reverification strict (a second-factor verification within the last 10 minutes)"
	reverification.describe({"level": "first_factor", "after_minutes": 5}) == "a first-factor verification within the last 5 minutes"
	msg := reverification.state with input.principal as {"factor_verification_age": [30, -1]}
	msg == "the session's last first-factor verification was 30 minutes ago and its last second-factor verification was never"
	reverification.state == "the session token shows no verification age (fva)" with input.principal as {}
}
