package metrics_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/verdict-pdp/verdict/internal/metrics"
)

// TestExposition pins the contract's metric names, types and labels against
// a golden exposition.
func TestExposition(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.BuildInfo{})
	m.ObserveDecision(true, "role", 20*time.Microsecond)
	m.ObserveDecision(false, "tenant_mismatch", 40*time.Microsecond)
	m.ObserveDecision(false, "tenant_mismatch", 3*time.Millisecond)
	m.ObserveDecision(false, "user_2xyz belongs to Org-A", time.Microsecond) // unbounded: folded
	m.ObserveTokenVerification("valid")
	m.ObserveTokenVerification("expired")
	m.ObservePolicyReload(nil)
	m.ObservePolicyReload(errors.New("broken"))
	m.ObservePolicyReload(errors.New("broken again"))

	golden, err := os.Open("testdata/exposition.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer golden.Close()
	err = testutil.GatherAndCompare(m.Gatherer(), golden,
		"verdict_decisions_total", "verdict_decision_duration_seconds",
		"verdict_token_verifications_total", "verdict_policy_reloads_total")
	if err != nil {
		t.Errorf("exposition differs from testdata/exposition.txt:\n%v", err)
	}
}

func TestRuntimeCollectors(t *testing.T) {
	t.Parallel()
	families, err := metrics.New(metrics.BuildInfo{}).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var goSeen, processSeen bool
	histograms := map[string]bool{}
	for _, f := range families {
		goSeen = goSeen || strings.HasPrefix(f.GetName(), "go_")
		processSeen = processSeen || strings.HasPrefix(f.GetName(), "process_")
		histograms[f.GetName()] = f.GetType() == dto.MetricType_HISTOGRAM
	}
	if !goSeen || !processSeen {
		t.Errorf("go collector present = %v, process collector present = %v; want both", goSeen, processSeen)
	}
	// The scheduling latency and GC pause histograms explain a latency
	// tail; the load harness reads the first.
	for _, name := range []string{"go_sched_latencies_seconds", "go_sched_pauses_total_gc_seconds"} {
		if !histograms[name] {
			t.Errorf("%s is not exposed as a histogram", name)
		}
	}
}

// TestReasonLabelsStayBounded: a policy that puts a new code in every
// reason cannot grow the label set past the known codes and a fixed
// number of custom ones, and a known code keeps its own label whatever
// came before it.
func TestReasonLabelsStayBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.BuildInfo{}, "tenant_mismatch")
	for i := range 1000 {
		m.ObserveDecision(false, "custom_"+strconv.Itoa(i), time.Microsecond)
	}
	m.ObserveDecision(false, "tenant_mismatch", time.Microsecond)
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "verdict_decisions_total" {
			continue
		}
		if n := len(f.GetMetric()); n > 34 {
			t.Errorf("verdict_decisions_total has %d series, want at most 34", n)
		}
		known := false
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				known = known || l.GetName() == "reason" && l.GetValue() == "tenant_mismatch"
			}
		}
		if !known {
			t.Error("the known code tenant_mismatch has no series of its own after 1000 custom codes")
		}
	}
}
