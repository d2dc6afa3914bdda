// Package verdictclient is the Go client of Verdict, the policy decision
// point for Clerk session tokens, and a net/http middleware that asks
// Verdict before a handler runs.
//
// client.gen.go is generated from api/openapi.yaml by oapi-codegen, the
// version pinned as a tool in go.mod: Client and ClientWithResponses call
// the endpoints of a deployed Verdict (the /dev/* routes of `verdict dev`
// are left out), and the models are the wire types. After a change to the
// spec, regenerate it with
//
//	go generate ./api/verdictclient
//
// (a test fails while the committed file is stale).
//
// The hand-written layer is Authorizer. Its Middleware, in the
// func(http.Handler) http.Handler shape that chi and net/http use, reads the
// end user's Clerk session token from the request, asks POST /v1/check about
// the action and resource that a CheckFunc derives from the request, and
// calls the next handler only when Verdict allows, with the Decision in the
// request's context (DecisionFrom). It fails closed: when Verdict cannot be
// reached, is too slow, or answers anything but a decision, the request is
// refused and the next handler never runs.
package verdictclient

//go:generate go tool oapi-codegen -config ../oapi-codegen.yaml ../openapi.yaml
