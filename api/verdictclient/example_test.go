package verdictclient_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/verdict-pdp/verdict/api/verdictclient"
)

// Wiring the middleware into a chi router: each route derives its action
// and resource from the request, and a handler runs only when Verdict
// allows. (The Verdict asked here is the `verdict serve` that the tests
// start, with its API key; a service passes its own Verdict's.)
func ExampleAuthorizer_Middleware() {
	authz, err := verdictclient.NewAuthorizer(keyedVerdict.url, verdictclient.Options{
		APIKey: testAPIKey,
		// Answer a denial with its reason code, as plain text.
		DenyHandler: func(w http.ResponseWriter, _ *http.Request, d *verdictclient.Decision) {
			http.Error(w, d.Reason, verdictclient.DenyStatus(d.Reason))
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The organization that owns a task comes from the task's own record,
	// never from the URL: a URL is the caller's to write.
	taskOrgs := map[string]string{"t1": "org_acme", "t2": "org_other"}
	readTask := authz.Middleware(func(r *http.Request) (verdictclient.CheckRequest, error) {
		id := chi.URLParam(r, "task")
		return verdictclient.CheckRequest{
			Action:   "tasks:read",
			Resource: verdictclient.Resource{Type: "task", Id: id, OrgId: taskOrgs[id]},
		}, nil
	})
	router := chi.NewRouter()
	router.With(readTask).Get("/tasks/{task}", func(w http.ResponseWriter, r *http.Request) {
		d, _ := verdictclient.DecisionFrom(r.Context())
		fmt.Fprintf(w, "task %s (allowed: %s)\n", chi.URLParam(r, "task"), d.Reason)
	})

	// A member of org_acme, signed in: Clerk's __session cookie.
	token, _, err := mintToken(tokenRequest{UserID: "user_1", OrgID: "org_acme", OrgRole: "org:member"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{"/tasks/t1", "/tasks/t2"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(&http.Cookie{Name: "__session", Value: token})
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	// Signed out: no token at all.
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/tasks/t1", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	// Output:
	// 200 task t1 (allowed: membership)
	// 403 tenant_mismatch
	// 401 unauthenticated
}
