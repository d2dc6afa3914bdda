# Features (fea) and plans (pla), matched the way Clerk's has() matches them,
# so a catalog entry that says {"feature": "o:posts"} means what a Clerk
# developer expects:
#   - a bare name ("posts") matches an entry of any scope;
#   - "o:posts" (also "org:", "organization:") matches o, ou and uo entries;
#   - "u:posts" (also "user:") matches u, ou and uo entries;
#   - extra segments in the query are ignored ("o:posts:x" checks posts);
#   - any other query scope matches nothing, and so does a token entry
#     with an unknown scope (Clerk drops it).
# Features and plans do not need an active organization.
package verdict.billing

import data.verdict.session

has_feature(query) if _claim_has(session.features, query)

has_plan(query) if _claim_has(session.plans, query)

# A query a catalog entry may use: a non-empty name, optionally behind a scope
# Clerk knows. An unknown scope would silently never match, so the catalog
# refuses it instead.
valid_query(query) if {
	is_string(query)
	query != ""
	not contains(query, ":")
}

valid_query(query) if {
	is_string(query)
	parts := split(query, ":")
	_query_scopes[parts[0]]
	parts[1] != ""
}

_query_scopes := {"o": "o", "org": "o", "organization": "o", "u": "u", "user": "u"}

_entry_scopes := {"o": {"o"}, "u": {"u"}, "ou": {"o", "u"}, "uo": {"o", "u"}}

_claim_has(entries, query) if {
	valid_query(query)
	not contains(query, ":")
	some entry in entries
	[entry_scope, name] := _split_entry(entry)
	name == query
	_entry_scopes[entry_scope]
}

_claim_has(entries, query) if {
	valid_query(query)
	parts := split(query, ":")
	scope := _query_scopes[parts[0]]
	some entry in entries
	[entry_scope, name] := _split_entry(entry)
	name == parts[1]
	scope in _entry_scopes[entry_scope]
}

# "ou:support-chat" -> ["ou", "support-chat"]: the scope is what comes before
# the first colon and the name everything after it.
_split_entry(entry) := [substring(entry, 0, i), substring(entry, i + 1, -1)] if {
	i := indexof(entry, ":")
	i > 0
}

# For messages: "the session has features o:posts, o:tasks".
state(what, entries) := sprintf("the session has no %s", [what]) if count(entries) == 0

else := sprintf("the session has %s %s", [what, concat(", ", sort(entries))])
