# Placeholder until the library lands.
package verdict.clerk

response := {"result": false, "reason": "empty_check", "message": "not implemented"}
