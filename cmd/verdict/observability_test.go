package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/verdict-pdp/verdict/internal/httpapi"
	"go.yaml.in/yaml/v3"
)

// The dashboard and the rules, relative to this package.
const (
	dashboardFile = "../../deploy/grafana/verdict.json"
	rulesDir      = "../../deploy/prometheus"
	rulesFile     = rulesDir + "/alerts.yaml"
)

// TestAlertRules runs Prometheus' own checks on the rules: promtool check
// rules, and the unit tests in alerts_test.yaml.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool := lookPromtool(t)
	for _, args := range [][]string{
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts_test.yaml"},
	} {
		cmd := exec.CommandContext(t.Context(), promtool, args...)
		cmd.Dir = rulesDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s (in deploy/prometheus): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDashboardQueriesParse has promtool parse every query of the
// dashboard, its variables replaced by values of the right kind.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	promtool := lookPromtool(t)
	d := readDashboard(t)
	fill := strings.NewReplacer("$__rate_interval", "5m", "${__rate_interval}", "5m",
		"$decision_routes", "/v1/check", "$namespace", ".*", "$job", ".*", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range d.queries() {
		expr, err := json.Marshal(fill.Replace(q.expr)) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&rules, "      - record: dashboard:query%d # %s\n        expr: %s\n", i, q.where, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s\n%s", err, out, rules.String())
	}
}

// lookPromtool finds promtool, failing (not skipping) without it: a
// skipped test would let a broken rule through.
func lookPromtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH (%v): install Debian's prometheus package, which provides /usr/bin/promtool "+
			"(apt-get install prometheus; .ci/run installs it)", err)
	}
	return path
}

// TestDashboard checks the dashboard's shape: every panel has a type, an
// id of its own, a title and queries, and reads from the data source the
// $datasource variable picks; every variable a query uses is defined.
func TestDashboard(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d: want a uid, a title and schemaVersion 36 or later", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]dashboardVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds := vars["datasource"]; ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf(`variable "datasource" = %+v, want type datasource, query prometheus`, ds)
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && !usesDatasourceVariable(v.Datasource) {
			t.Errorf("variable %q reads from %s, want the ${datasource} variable", v.Name, v.Datasource)
		}
	}
	ids := map[int]string{}
	panels := d.allPanels()
	if len(panels) < 10 {
		t.Fatalf("the dashboard has %d panels", len(panels))
	}
	for _, p := range panels {
		if other, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q has id %d, as %q does", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if p.Type == "" || p.Title == "" || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d: type %q, title %q, gridPos %+v: want a type, a title and a place within 24 columns", p.ID, p.Type, p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if !usesDatasourceVariable(p.Datasource) {
			t.Errorf("panel %q reads from %s, want the ${datasource} variable", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: query %s has no expr", p.Title, tg.RefID)
			}
			if !usesDatasourceVariable(tg.Datasource) {
				t.Errorf("panel %q: query %s reads from %s, want the ${datasource} variable", p.Title, tg.RefID, tg.Datasource)
			}
		}
	}
	for _, q := range d.queries() {
		for _, m := range grafanaVariable.FindAllStringSubmatch(q.expr, -1) {
			name := m[1] + m[2]
			if _, ok := vars[name]; !ok && !strings.HasPrefix(name, "__") {
				t.Errorf("%s uses $%s, which the dashboard does not define", q.where, name)
			}
		}
	}
}

var grafanaVariable = regexp.MustCompile(`\$(?:\{(\w+)(?::\w+)?\}|(\w+))`)

func usesDatasourceVariable(raw json.RawMessage) bool {
	var ds struct{ UID string }
	if json.Unmarshal(raw, &ds) != nil {
		return false
	}
	return ds.UID == "${datasource}" || ds.UID == "$datasource"
}

// notExposedHere are the metric families the dashboard and alerts read
// that this test cannot make a Verdict expose, each with the reason. Keep
// it short: every family here goes unchecked.
var notExposedHere = map[string]string{
	"verdict_bundle_requests_total": "only exposed when policies come from a bundle (--bundle-url, --bundle-file)",
}

// scrapeSeries are made by Prometheus for every target, not by Verdict.
var scrapeSeries = map[string]bool{"up": true}

// targetLabels are added by Prometheus' target discovery: selectors may
// match on them, and no exposition carries them.
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true}

// TestDashboardAndAlertMetricsExist starts a real Verdict with a decision
// log and shadow policies, sends it traffic of every kind, and checks that
// every metric the dashboard and the rules read is on its /metrics, with
// every label they match on (and the label values and histogram buckets
// they match exactly).
func TestDashboardAndAlertMetricsExist(t *testing.T) {
	t.Parallel()
	refs := map[string][]string{}     // metric name -> where it is read
	var checks []selectorUse          // every selector, to check its labels
	recorded := map[string]bool{}     // names the rules record
	add := func(where, expr string) { // parse one query
		sels, err := promqlSelectors(expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, expr)
		}
		for _, s := range sels {
			if !slices.Contains(refs[s.metric], where) {
				refs[s.metric] = append(refs[s.metric], where)
			}
			checks = append(checks, selectorUse{s, where})
		}
	}
	for _, q := range readDashboard(t).queries() {
		add(q.where, q.expr)
	}
	for _, r := range readRules(t) {
		where := "alert " + r.Alert
		if r.Record != "" {
			where = "record " + r.Record
			recorded[r.Record] = true
		}
		add(where, r.Expr)
	}
	for name := range notExposedHere {
		if refs[name] == nil {
			t.Errorf("notExposedHere lists %s, which neither the dashboard nor the rules read: remove it", name)
		}
	}
	for name, where := range refs {
		if strings.Contains(name, ":") && !recorded[name] {
			t.Errorf("%s reads %s, which no rule in alerts.yaml records", strings.Join(where, ", "), name)
		}
	}

	inst := startObservedVerdict(t)
	var m exposition
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The shadow set evaluates off the response's path: poll until
		// everything is there, or the deadline says what is not.
		m, missing = scrape(t, inst.base), nil
		for name := range refs {
			if _, _, ok := m.familyOf(name); !ok && !scrapeSeries[name] && notExposedHere[name] == "" && !recorded[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		var b strings.Builder
		for _, name := range missing {
			fmt.Fprintf(&b, "\n  %s (read by %s)", name, strings.Join(refs[name], "; "))
		}
		t.Errorf("%d metrics the dashboard or alerts read are not on a running Verdict's /metrics:%s", len(missing), b.String())
	}
	for _, c := range checks {
		if f, suffix, ok := m.familyOf(c.metric); ok {
			for _, problem := range c.check(f, suffix) {
				t.Errorf("%s: %s", c.where, problem)
			}
		}
	}
}

// startObservedVerdict runs Verdict with a decision log and a shadow set
// that diverges, and sends it requests of every route and outcome, so
// that its labelled series exist.
func startObservedVerdict(t *testing.T) *instance {
	t.Helper()
	candidate := copyPolicies(t)
	writeTestFile(t, candidate, "lockdown.rego", lockdown)
	inst := startServe(t, "--shadow-policies", candidate, "--decision-log", filepath.Join(t.TempDir(), "decisions.jsonl"))
	sendWorkload(t, inst) // allows, denies; valid, expired, invalid and no tokens; a batch
	admin := inst.mint(t, v1Admin)
	inst.post(t, "/v1/authenticate", map[string]any{"token": admin}, nil)
	inst.post(t, "/v1/has", map[string]any{"token": admin, "check": map[string]any{"role": "org:admin"}}, nil)
	inst.post(t, "/v1/nowhere", map[string]any{}, nil)
	return inst
}

// familyOf finds the family a series name belongs to: the name itself, or
// the histogram (or summary) a _bucket, _sum or _count series is part of.
func (e exposition) familyOf(name string) (*dto.MetricFamily, string, bool) {
	if f, ok := e[name]; ok {
		return f, "", true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		f, ok := e[strings.TrimSuffix(name, suffix)]
		if !ok || !strings.HasSuffix(name, suffix) {
			continue
		}
		if t := f.GetType(); t == dto.MetricType_HISTOGRAM || (t == dto.MetricType_SUMMARY && suffix != "_bucket") {
			return f, suffix, true
		}
	}
	return nil, "", false
}

type selectorUse struct {
	promqlSelector
	where string
}

// check reports the matchers of a selector that f's series cannot meet: a
// label none of them has, an exact value none of them carries, a bucket
// bound the histogram does not have.
func (s selectorUse) check(f *dto.MetricFamily, suffix string) []string {
	var problems []string
	for _, mt := range s.matchers {
		switch {
		case targetLabels[mt.label] || mt.label == "__name__":
		case mt.label == "le" && suffix == "_bucket":
			if mt.op == "=" && !hasBucket(f, mt.value) {
				problems = append(problems, fmt.Sprintf("%s{le=%q}: %s has no such bucket", s.metric, mt.value, f.GetName()))
			}
		case !anySeries(f, func(lp *dto.LabelPair) bool { return lp.GetName() == mt.label }):
			problems = append(problems, fmt.Sprintf("%s: no series of %s has a label %q", s.metric, f.GetName(), mt.label))
		case mt.op == "=" && mt.value != "" && !strings.Contains(mt.value, "$") &&
			!anySeries(f, func(lp *dto.LabelPair) bool { return lp.GetName() == mt.label && lp.GetValue() == mt.value }):
			problems = append(problems, fmt.Sprintf("%s{%s=%q}: no series of %s has that value", s.metric, mt.label, mt.value, f.GetName()))
		}
	}
	return problems
}

func anySeries(f *dto.MetricFamily, match func(*dto.LabelPair) bool) bool {
	for _, m := range f.GetMetric() {
		if slices.ContainsFunc(m.GetLabel(), match) {
			return true
		}
	}
	return false
}

func hasBucket(f *dto.MetricFamily, le string) bool {
	bound, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return false
	}
	for _, m := range f.GetMetric() {
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetUpperBound() == bound {
				return true
			}
		}
	}
	return false
}

// The dashboard, as much of Grafana's JSON model as the tests read.
type dashboard struct {
	UID           string
	Title         string
	SchemaVersion int
	Templating    struct{ List []dashboardVariable }
	Panels        []dashboardPanel
}

type dashboardVariable struct {
	Name, Type string
	Datasource json.RawMessage
	Query      any // a string, or {"query": "..."} in newer Grafanas
	Definition string
}

type dashboardPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource json.RawMessage
	GridPos    struct{ X, Y, W, H int }
	Targets    []struct {
		RefID      string
		Expr       string
		Datasource json.RawMessage
	}
	Panels []dashboardPanel // a collapsed row's
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens the panels, a collapsed row's included.
func (d dashboard) allPanels() []dashboardPanel {
	var out []dashboardPanel
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

type dashboardQuery struct{ where, expr string }

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`)

// queries are every PromQL query of the dashboard: the panels', and the
// series its variables take their values from.
func (d dashboard) queries() []dashboardQuery {
	var out []dashboardQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			out = append(out, dashboardQuery{fmt.Sprintf("dashboard panel %q", p.Title), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.Definition
		if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		out = append(out, dashboardQuery{fmt.Sprintf("dashboard variable %q", v.Name), q})
	}
	return out
}

type alertRule struct{ Alert, Record, Expr string }

func readRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Groups []struct{ Rules []alertRule } }
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []alertRule
	for _, g := range file.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return out
}

// TestDecisionRoutesWatched: the dashboard's and the alerts' "decision
// routes" are exactly the routes that answer for a token, so that a route
// Verdict adds is under the latency SLO and the 5xx alerts from the start.
func TestDecisionRoutesWatched(t *testing.T) {
	t.Parallel()
	want := strings.Join(httpapi.DecisionPaths(), "|")
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	routeSets := regexp.MustCompile(`route=~\\?"([^"$\\]+)\\?"`)
	for name, text := range map[string]string{rulesFile: string(rules), dashboardFile: string(dashboard)} {
		found := routeSets.FindAllStringSubmatch(text, -1)
		if name == dashboardFile {
			// The dashboard names the set once, as a variable.
			found = regexp.MustCompile(`"query": "(/[^"]+)"`).FindAllStringSubmatch(text, -1)
		}
		if len(found) == 0 {
			t.Errorf("%s names no decision routes", name)
		}
		for _, m := range found {
			if m[1] != want {
				t.Errorf("%s watches routes %q, want %q", name, m[1], want)
			}
		}
	}
}
