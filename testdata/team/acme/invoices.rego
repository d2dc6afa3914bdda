# Acme's invoices: one action of the team's own, in the team's own file.
# Nothing here edits a shipped file: the catalog entry is merged with the
# shipped catalog, and a name the shipped catalog already has would be
# refused at load.
package verdict.rules.invoices

actions["invoices:approve"] := {
	"description": "Approve an invoice: admins, or anyone whose role carries org:invoices:approve.",
	"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:invoices:approve"}], "deny": "missing_permission"}],
}
