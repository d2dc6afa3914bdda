package main

// The manifests under deploy/ as Kubernetes would run them, checked against
// the program they run: every kustomization is rendered with kustomize's Go
// API (as `kubectl kustomize` does, files outside the kustomization refused),
// each object is decoded strictly into its Kubernetes type (an unknown or
// misspelled field fails), the Deployment's invariants are checked, and the
// real binary is started with the Deployment's command line, environment
// and volumes.

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

const (
	deployRepoRoot  = "../.."
	deployDir       = deployRepoRoot + "/deploy"
	deployKustomize = deployDir + "/kustomize"
	// deployDrainTimeout is how long httpapi.Serve lets in-flight requests
	// finish once the shutdown delay is over (its default ShutdownTimeout).
	deployDrainTimeout = 10 * time.Second
	// deployDefaultGrace is Kubernetes' terminationGracePeriodSeconds default.
	deployDefaultGrace = 30 * time.Second
)

// deployTarget is one kustomization to render and check.
type deployTarget struct {
	dir       string // under deploy/kustomize
	monitored bool   // it carries a ServiceMonitor
	// repoPolicies: the ConfigMap mounted at --policies holds the
	// repository's policies/.
	repoPolicies bool
}

func TestDeploy(t *testing.T) {
	targets := []deployTarget{
		{dir: "base"},
		{dir: "overlays/directory", monitored: true, repoPolicies: true},
		{dir: "overlays/bundle", monitored: true},
	}
	checkEveryKustomizationListed(t, targets)
	img := readDockerfile(t, filepath.Join(deployDir, "Dockerfile"))
	t.Run("Dockerfile", func(t *testing.T) { checkDockerfile(t, img) })
	var bin string
	if !testing.Short() {
		bin = buildLikeTheImage(t, img)
		t.Run("version", func(t *testing.T) { checkVersionBaked(t, bin, img) })
	}
	for _, tc := range targets {
		// Rendered one at a time: kustomize's schema cache is global and
		// not safe for concurrent first use (the race detector says so).
		m := renderKustomization(t, filepath.Join(deployKustomize, tc.dir), tc.monitored)
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			cl := deployCommandLineOf(t, img, m)
			t.Run("image", func(t *testing.T) { checkDeployImage(t, m.container().Image) })
			t.Run("command", func(t *testing.T) { checkDeployCommand(t, img, cl) })
			t.Run("flags", func(t *testing.T) { checkDeployFlags(t, cl) })
			t.Run("ports", func(t *testing.T) { checkDeployPorts(t, m, cl) })
			t.Run("probes", func(t *testing.T) { checkDeployProbes(t, m, cl) })
			t.Run("selectors", func(t *testing.T) { checkDeploySelectors(t, m) })
			t.Run("security", func(t *testing.T) { checkDeploySecurity(t, img, m) })
			t.Run("resources", func(t *testing.T) { checkDeployResources(t, m, cl) })
			t.Run("shutdown", func(t *testing.T) { checkDeployShutdown(t, m, cl) })
			if tc.repoPolicies {
				t.Run("policies", func(t *testing.T) { checkDeployPolicies(t, m, cl, tc.dir) })
			}
			t.Run("start", func(t *testing.T) {
				if bin == "" {
					t.Skip("-short: the binary is not built")
				}
				startDeployment(t, bin, img, m, cl)
			})
		})
	}
}

// checkEveryKustomizationListed keeps the table complete: a new overlay is
// checked from the day it is added.
func checkEveryKustomizationListed(t *testing.T, targets []deployTarget) {
	t.Helper()
	listed := map[string]bool{}
	for _, tc := range targets {
		listed[tc.dir] = true
	}
	err := filepath.WalkDir(deployKustomize, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var k struct{ Kind string }
		if err := yaml.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		dir, _ := filepath.Rel(deployKustomize, filepath.Dir(p))
		if k.Kind != "Component" && !listed[filepath.ToSlash(dir)] {
			t.Errorf("deploy/kustomize/%s is not in TestDeploy's table", filepath.ToSlash(dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// --- The image --------------------------------------------------------------

// dockerImage is what the final stage of deploy/Dockerfile makes.
type dockerImage struct {
	entrypoint, cmd []string
	user            string            // USER
	binary          string            // where the built binary is copied (COPY --from)
	copies          map[string]string // image path → build-context path (COPY)
	ldflags         map[string]string // -X main.VAR=${ARG} anywhere: VAR → ARG
	unread          []string          // instructions of the final stage the test cannot model
}

var deployLdflagRE = regexp.MustCompile(`-X\s+main\.(\w+)=\$\{?(\w+)\}?`)

// readDockerfile reads the instructions the checks need; ENTRYPOINT and
// CMD must be in exec form (JSON), as an image without a shell needs.
func readDockerfile(t *testing.T, file string) dockerImage {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	img := dockerImage{ldflags: map[string]string{}}
	for line := range strings.SplitSeq(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM": // a new stage: only the last one's settings make the image
			img = dockerImage{ldflags: img.ldflags, copies: map[string]string{}}
		case "ENTRYPOINT", "CMD":
			var form []string
			if err := json.Unmarshal([]byte(rest), &form); err != nil {
				t.Fatalf("Dockerfile: %s %s is not in exec form (a JSON array); shell form needs /bin/sh, which the image lacks", instr, rest)
			}
			if strings.ToUpper(instr) == "CMD" {
				img.cmd = form
			} else {
				img.entrypoint = form
			}
		case "USER":
			img.user = rest
		case "COPY":
			f := strings.Fields(rest)
			switch {
			case len(f) != 2 && !(len(f) == 3 && strings.HasPrefix(f[0], "--from=")):
				img.unread = append(img.unread, "COPY "+rest)
			case len(f) == 3:
				img.binary = f[2]
			default:
				img.copies[f[1]] = f[0]
			}
		case "RUN":
			for _, m := range deployLdflagRE.FindAllStringSubmatch(rest, -1) {
				img.ldflags[m[1]] = m[2]
			}
		}
	}
	if len(img.unread) > 0 {
		t.Fatalf("Dockerfile: the test reads COPY [--from=STAGE] SRC DST only, not %q", img.unread)
	}
	return img
}

func checkDockerfile(t *testing.T, img dockerImage) {
	if img.binary == "" || !slices.Equal(img.entrypoint, []string{img.binary}) {
		t.Errorf("ENTRYPOINT is %q, want [%q] alone: a command or flag in it is repeated by any args that also name it", img.entrypoint, img.binary)
	}
	if len(img.cmd) == 0 || img.cmd[0] != "serve" {
		t.Errorf("CMD is %q, want serve and its flags", img.cmd)
	} else if _, err := parseServeConfig(img.cmd[1:], deployGetenv(map[string]string{"VERDICT_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json"}), io.Discard); err != nil {
		t.Errorf("`docker run -e VERDICT_JWKS_URL=... IMAGE` would fail: CMD %q: %v", img.cmd, err)
	}
	uid, gid, _ := strings.Cut(img.user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER is %q, want a numeric non-root uid (runAsNonRoot cannot verify a name)", img.user)
	}
	if _, err := strconv.Atoi(gid); gid != "" && err != nil {
		t.Errorf("USER is %q, want a numeric gid", img.user)
	}
	for _, v := range []string{"buildVersion", "buildCommit"} {
		if img.ldflags[v] == "" {
			t.Errorf("no -X main.%s=${ARG} in the build's -ldflags: the image would not know its version", v)
		}
	}
}

// buildLikeTheImage builds ./cmd/verdict with the Dockerfile's -X flags,
// each ARG given a test value.
func buildLikeTheImage(t *testing.T, img dockerImage) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command builds the binary to start: %v", err)
	}
	var x []string
	for v, arg := range img.ldflags {
		x = append(x, "-X", "main."+v+"="+deployBuildValue(arg))
	}
	bin := filepath.Join(t.TempDir(), "verdict")
	cmd := exec.Command(goTool, "build", "-ldflags", strings.Join(x, " "), "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/verdict: %v\n%s", err, out)
	}
	return bin
}

func deployBuildValue(arg string) string { return "deploy-test-" + strings.ToLower(arg) }

// checkVersionBaked: the linker ignores -X for a variable that does not
// exist, so run the binary and read what it says.
func checkVersionBaked(t *testing.T, bin string, img dockerImage) {
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("verdict version: %v\n%s", err, out)
	}
	want := fmt.Sprintf("verdict %s\ncommit %s\n", deployBuildValue(img.ldflags["buildVersion"]), deployBuildValue(img.ldflags["buildCommit"]))
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("verdict version printed %q, want it to start with %q: the Dockerfile's -ldflags do not set the version", out, want)
	}
}

// --- Rendering ---------------------------------------------------------------

// deployManifests is one rendered kustomization, each object decoded
// strictly into its type.
type deployManifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	netpol     *networkingv1.NetworkPolicy
	account    *corev1.ServiceAccount
	monitor    *serviceMonitor
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (m *deployManifests) container() corev1.Container {
	return m.deployment.Spec.Template.Spec.Containers[0]
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the manifests use, so that strict
// decoding refuses anything else: a field added to the manifest is added
// here, as the operator's CRD spells it.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              serviceMonitorSpec `json:"spec"`
}

type serviceMonitorSpec struct {
	Selector  metav1.LabelSelector     `json:"selector"`
	Endpoints []serviceMonitorEndpoint `json:"endpoints"`
}

type serviceMonitorEndpoint struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

func (s *serviceMonitor) DeepCopyObject() runtime.Object {
	c := *s
	s.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	s.Spec.Selector.DeepCopyInto(&c.Spec.Selector)
	c.Spec.Endpoints = slices.Clone(s.Spec.Endpoints)
	return &c
}

// deployDecoder decodes the kinds the manifests may hold, as the API server
// does with strict field validation: unknown, duplicate or miscased fields
// and unregistered kinds or versions are errors.
func deployDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	s.AddKnownTypeWithName(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}, &serviceMonitor{})
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}

func renderKustomization(t *testing.T, dir string, monitored bool) *deployManifests {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	dec := deployDecoder(t)
	m := &deployManifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, r := range res.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := dec.Decode(y, nil, nil)
		if err != nil {
			t.Errorf("%s %s: %v", r.GetKind(), r.GetName(), err)
			continue
		}
		m.add(t, obj)
	}
	missing := map[string]bool{"Deployment": m.deployment == nil, "Service": m.service == nil, "PodDisruptionBudget": m.pdb == nil,
		"HorizontalPodAutoscaler": m.hpa == nil, "NetworkPolicy": m.netpol == nil, "ServiceAccount": m.account == nil, "ServiceMonitor": monitored && m.monitor == nil}
	for kind, gone := range missing {
		if gone {
			t.Errorf("%s renders no %s", dir, kind)
		}
	}
	if !monitored && m.monitor != nil {
		t.Errorf("%s renders a ServiceMonitor: mark it monitored in TestDeploy", dir)
	}
	if t.Failed() {
		t.FailNow()
	}
	if n := len(m.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the pod has %d containers, want Verdict's alone", n)
	}
	return m
}

func (m *deployManifests) add(t *testing.T, obj runtime.Object) {
	t.Helper()
	once := func(set bool, kind string) {
		if set {
			t.Errorf("more than one %s", kind)
		}
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		once(m.deployment != nil, "Deployment")
		m.deployment = o
	case *corev1.Service:
		once(m.service != nil, "Service")
		m.service = o
	case *policyv1.PodDisruptionBudget:
		once(m.pdb != nil, "PodDisruptionBudget")
		m.pdb = o
	case *autoscalingv2.HorizontalPodAutoscaler:
		once(m.hpa != nil, "HorizontalPodAutoscaler")
		m.hpa = o
	case *networkingv1.NetworkPolicy:
		once(m.netpol != nil, "NetworkPolicy")
		m.netpol = o
	case *corev1.ServiceAccount:
		once(m.account != nil, "ServiceAccount")
		m.account = o
	case *serviceMonitor:
		once(m.monitor != nil, "ServiceMonitor")
		m.monitor = o
	case *corev1.ConfigMap:
		m.configMaps[o.Name] = o
	case *corev1.Secret:
		m.secrets[o.Name] = o
	default:
		t.Errorf("%T: a kind TestDeploy does not check yet", obj)
	}
}

// --- The command line ----------------------------------------------------------

// deployCommandLine is how the container runs: argv as Kubernetes builds it
// from the image and the container, and the environment it resolves.
type deployCommandLine struct {
	argv   []string
	env    map[string]string
	isBool func(name string) bool // serve's boolean flags take no value
}

func deployCommandLineOf(t *testing.T, img dockerImage, m *deployManifests) deployCommandLine {
	t.Helper()
	c := m.container()
	// command replaces ENTRYPOINT (and drops CMD); args replaces CMD.
	entry, args := img.entrypoint, img.cmd
	if len(c.Command) > 0 {
		entry, args = c.Command, nil
	}
	if len(c.Args) > 0 {
		args = c.Args
	}
	var cfg serviceConfig
	fs := serveFlags(&cfg, io.Discard)
	isBool := func(name string) bool {
		f := fs.Lookup(name)
		if f == nil {
			return false // a flag this build lacks: read as taking a value
		}
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return ok && b.IsBoolFlag()
	}
	argv := slices.Concat(entry, args)
	if len(argv) < 2 {
		t.Fatalf("the container runs %q: no command for the binary", argv)
	}
	return deployCommandLine{argv: argv, env: m.containerEnv(t, c), isBool: isBool}
}

// containerEnv resolves the container's environment: envFrom first, env
// over it, references read from the rendered ConfigMaps and Secrets.
func (m *deployManifests) containerEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			for k, v := range m.configMap(t, from.ConfigMapRef.Name).Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			for k, v := range m.secret(t, from.SecretRef.Name).Data {
				env[from.Prefix+k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		switch ref := e.ValueFrom; {
		case ref == nil:
			env[e.Name] = e.Value
		case ref.ConfigMapKeyRef != nil:
			env[e.Name] = m.configMap(t, ref.ConfigMapKeyRef.Name).Data[ref.ConfigMapKeyRef.Key]
		case ref.SecretKeyRef != nil:
			env[e.Name] = string(m.secret(t, ref.SecretKeyRef.Name).Data[ref.SecretKeyRef.Key])
		default:
			t.Errorf("env %s: TestDeploy resolves values, ConfigMap and Secret keys only", e.Name)
		}
	}
	return env
}

func (m *deployManifests) configMap(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	cm, ok := m.configMaps[name]
	if !ok {
		t.Fatalf("the pod needs ConfigMap %s, which the kustomization does not make", name)
	}
	return cm
}

func (m *deployManifests) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	s, ok := m.secrets[name]
	if !ok {
		t.Fatalf("the pod needs Secret %s, which the kustomization does not make", name)
	}
	return s
}

func deployGetenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

// deployFlag is one flag on a command line and where its value is.
type deployFlag struct {
	name   string
	index  int  // of the value in args; -1 for a boolean flag without one
	inline bool // --name=value
}

// scanDeployFlags finds the flags in args as the flag package reads them:
// up to the first argument that is not a flag, or "--".
func scanDeployFlags(args []string, isBool func(string) bool) []deployFlag {
	var out []deployFlag
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			break
		}
		name := strings.TrimLeft(a, "-")
		switch n, _, inline := strings.Cut(name, "="); {
		case inline:
			out = append(out, deployFlag{name: n, index: i, inline: true})
		case isBool(name):
			out = append(out, deployFlag{name: name, index: -1})
		default:
			out = append(out, deployFlag{name: name, index: i + 1})
			i++
		}
	}
	return out
}

// flag returns the value serve reads for a flag: the command line's (the
// last one given), else its VERDICT_ variable's.
func (cl deployCommandLine) flag(name string) (string, bool) {
	value, found := "", false
	for _, f := range scanDeployFlags(cl.argv[2:], cl.isBool) {
		if f.name == name && f.index >= 0 && f.index < len(cl.argv)-2 {
			value, found = cl.arg(f), true
		}
	}
	if found {
		return value, true
	}
	v := cl.env[envName(name)]
	return v, v != ""
}

func (cl deployCommandLine) arg(f deployFlag) string {
	a := cl.argv[2+f.index]
	if f.inline {
		_, a, _ = strings.Cut(a, "=")
	}
	return a
}

// rewrite changes the value of every flag (and VERDICT_ variable) for
// which change returns true, where serve reads it.
func (cl deployCommandLine) rewrite(change func(name, value string) (string, bool)) {
	for _, f := range scanDeployFlags(cl.argv[2:], cl.isBool) {
		if f.index < 0 || f.index >= len(cl.argv)-2 {
			continue
		}
		if v, ok := change(f.name, cl.arg(f)); ok {
			if f.inline {
				v = "--" + f.name + "=" + v
			}
			cl.argv[2+f.index] = v
		}
	}
	for k, v := range cl.env {
		if name, ok := deployFlagOfEnv(k); ok {
			if nv, ok := change(name, v); ok {
				cl.env[k] = nv
			}
		}
	}
}

// deployFlagOfEnv maps a VERDICT_ variable to the flag it stands for.
func deployFlagOfEnv(env string) (string, bool) {
	name, ok := strings.CutPrefix(env, "VERDICT_")
	return strings.ReplaceAll(strings.ToLower(name), "_", "-"), ok
}

func checkDeployCommand(t *testing.T, img dockerImage, cl deployCommandLine) {
	if cl.argv[0] != img.binary || cl.argv[1] != "serve" {
		t.Fatalf("the container runs %q, want %s serve ...", cl.argv, img.binary)
	}
	for _, a := range append(slices.Clone(img.entrypoint), "serve") {
		n := 0
		for _, arg := range cl.argv {
			if arg == a {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the container runs %q: %q appears %d times (args repeating the image's ENTRYPOINT?)", cl.argv, a, n)
		}
	}
}

func checkDeployFlags(t *testing.T, cl deployCommandLine) {
	var cfg serviceConfig
	fs := serveFlags(&cfg, io.Discard)
	for _, name := range slices.Sorted(maps.Keys(cl.env)) {
		if flagName, ok := deployFlagOfEnv(name); ok && fs.Lookup(flagName) == nil {
			t.Errorf("environment variable %s names no flag of verdict serve (misspelled, or a flag this build lacks), and would be ignored", name)
		}
	}
	if _, err := parseServeConfig(cl.argv[2:], deployGetenv(cl.env), io.Discard); err != nil {
		t.Errorf("verdict serve refuses the container's command line %q with its environment: %v", cl.argv, err)
	}
}

// checkDeployImage: the image is a release, by tag or digest, never latest.
func checkDeployImage(t *testing.T, ref string) {
	if _, digest, ok := strings.Cut(ref, "@"); ok {
		if !strings.HasPrefix(digest, "sha256:") {
			t.Errorf("image %s: want a sha256 digest", ref)
		}
		return
	}
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon < slash || ref[colon+1:] == "latest" {
		t.Errorf("image %s: pin a release tag or digest, not latest", ref)
	}
}

// --- Invariants ------------------------------------------------------------------

// deployServePort is the container port serve listens on: the one --addr names.
func deployServePort(t *testing.T, c corev1.Container, cl deployCommandLine) corev1.ContainerPort {
	t.Helper()
	addr, ok := cl.flag("addr")
	if !ok {
		addr = defaultAddr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--addr %q: %v", addr, err)
	}
	for _, p := range c.Ports {
		if strconv.Itoa(int(p.ContainerPort)) == port {
			if p.Name == "" {
				t.Errorf("container port %d has no name for the Service and probes to use", p.ContainerPort)
			}
			return p
		}
	}
	t.Fatalf("serve listens on %s, and the container declares no port %s", addr, port)
	return corev1.ContainerPort{}
}

// deployPortIs reports whether a port reference (name or number) means p.
func deployPortIs(ref intstr.IntOrString, p corev1.ContainerPort) bool {
	if ref.Type == intstr.String {
		return ref.StrVal == p.Name
	}
	return ref.IntVal == p.ContainerPort
}

func checkDeployPorts(t *testing.T, m *deployManifests, cl deployCommandLine) {
	c := m.container()
	p := deployServePort(t, c, cl)
	svcPorts := map[string]corev1.ServicePort{}
	for _, sp := range m.service.Spec.Ports {
		svcPorts[sp.Name] = sp
		if !deployPortIs(sp.TargetPort, p) {
			t.Errorf("Service port %s targets %s, not serve's port %s (%d)", sp.Name, sp.TargetPort.String(), p.Name, p.ContainerPort)
		}
	}
	if len(m.netpol.Spec.Ingress) == 0 {
		t.Error("the NetworkPolicy admits nothing")
	}
	for i, rule := range m.netpol.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Errorf("NetworkPolicy ingress rule %d opens every port", i)
		}
		for _, np := range rule.Ports {
			if np.Port == nil || !deployPortIs(*np.Port, p) {
				t.Errorf("NetworkPolicy ingress rule %d opens %v, not serve's port %s (%d)", i, np.Port, p.Name, p.ContainerPort)
			}
		}
	}
	if port := m.deployment.Spec.Template.Annotations["prometheus.io/port"]; port != "" && port != strconv.Itoa(int(p.ContainerPort)) {
		t.Errorf("annotation prometheus.io/port is %s, serve listens on %d", port, p.ContainerPort)
	}
	if m.monitor == nil {
		return
	}
	for _, e := range m.monitor.Spec.Endpoints {
		sp, ok := svcPorts[e.Port]
		if !ok || !deployPortIs(sp.TargetPort, p) {
			t.Errorf("ServiceMonitor scrapes port %q, which is no Service port leading to serve's port", e.Port)
		}
		if e.Path != "/metrics" {
			t.Errorf("ServiceMonitor scrapes %q, want /metrics", e.Path)
		}
		interval, err1 := time.ParseDuration(e.Interval)
		timeout, err2 := time.ParseDuration(e.ScrapeTimeout)
		if err1 != nil || err2 != nil || timeout > interval {
			t.Errorf("ServiceMonitor interval %q and scrapeTimeout %q: want durations, the timeout no longer than the interval", e.Interval, e.ScrapeTimeout)
		}
	}
}

func checkDeployProbes(t *testing.T, m *deployManifests, cl deployCommandLine) {
	c := m.container()
	p := deployServePort(t, c, cl)
	scheme := corev1.URISchemeHTTP
	if _, tls := cl.flag("tls-cert-file"); tls {
		scheme = corev1.URISchemeHTTPS
	}
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
		paths []string // that Verdict serves for it
	}{
		{"liveness", c.LivenessProbe, []string{"/healthz"}},
		{"readiness", c.ReadinessProbe, []string{"/readyz"}},
		{"startup", c.StartupProbe, []string{"/healthz", "/readyz"}},
	} {
		switch {
		case probe.probe == nil || probe.probe.HTTPGet == nil:
			t.Errorf("no %s probe over HTTP", probe.name)
		case !slices.Contains(probe.paths, probe.probe.HTTPGet.Path):
			t.Errorf("%s probe asks %q, want one of %q", probe.name, probe.probe.HTTPGet.Path, probe.paths)
		case !deployPortIs(probe.probe.HTTPGet.Port, p):
			t.Errorf("%s probe asks port %s, not serve's %s (%d)", probe.name, probe.probe.HTTPGet.Port.String(), p.Name, p.ContainerPort)
		case cmp.Or(probe.probe.HTTPGet.Scheme, corev1.URISchemeHTTP) != scheme:
			t.Errorf("%s probe uses %s, serve speaks %s", probe.name, probe.probe.HTTPGet.Scheme, scheme)
		}
	}
}

func checkDeploySelectors(t *testing.T, m *deployManifests) {
	pod := labels.Set(m.deployment.Spec.Template.Labels)
	selects := func(what string, sel *metav1.LabelSelector) {
		s, err := metav1.LabelSelectorAsSelector(sel)
		switch {
		case err != nil:
			t.Errorf("%s: %v", what, err)
		case sel == nil || s.Empty():
			t.Errorf("%s selects every pod", what)
		case !s.Matches(pod):
			t.Errorf("%s (%s) does not select the pod template's labels %s", what, s, pod)
		}
	}
	selects("the Deployment's selector", m.deployment.Spec.Selector)
	selects("the PodDisruptionBudget's selector", m.pdb.Spec.Selector)
	selects("the NetworkPolicy's podSelector", &m.netpol.Spec.PodSelector)
	selects("the Service's selector", metav1.SetAsLabelSelector(m.service.Spec.Selector))
	for _, c := range m.deployment.Spec.Template.Spec.TopologySpreadConstraints {
		selects("topology spread over "+c.TopologyKey, c.LabelSelector)
	}
	if m.monitor != nil {
		s, err := metav1.LabelSelectorAsSelector(&m.monitor.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(labels.Set(m.service.Labels)) {
			t.Errorf("the ServiceMonitor's selector does not select the Service (labels %v)", m.service.Labels)
		}
	}
	ref := m.hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("the HorizontalPodAutoscaler scales %s %s, not the Deployment %s", ref.Kind, ref.Name, m.deployment.Name)
	}
	if m.deployment.Spec.Replicas != nil {
		t.Error("the Deployment sets replicas: every apply would reset what the HorizontalPodAutoscaler chose")
	}
	minReplicas := int(*cmp.Or(m.hpa.Spec.MinReplicas, new(int32(1))))
	if minReplicas < 2 {
		t.Errorf("the HorizontalPodAutoscaler may go down to %d replica: no replica to spare for a disruption", minReplicas)
	}
	if !disruptionAllowed(m.pdb.Spec, minReplicas) {
		t.Errorf("the PodDisruptionBudget allows no eviction at %d replicas: node drains would hang", minReplicas)
	}
	if name := m.deployment.Spec.Template.Spec.ServiceAccountName; name != m.account.Name {
		t.Errorf("the pod runs as ServiceAccount %q, the kustomization makes %q", name, m.account.Name)
	}
}

// disruptionAllowed reports whether the budget lets one of n ready pods go.
func disruptionAllowed(spec policyv1.PodDisruptionBudgetSpec, n int) bool {
	if spec.MaxUnavailable != nil {
		v, err := intstr.GetScaledValueFromIntOrPercent(spec.MaxUnavailable, n, true)
		return err == nil && v >= 1
	}
	if spec.MinAvailable != nil {
		v, err := intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, n, true)
		return err == nil && v < n
	}
	return true
}

func checkDeploySecurity(t *testing.T, img dockerImage, m *deployManifests) {
	pod := m.deployment.Spec.Template.Spec
	psc := cmp.Or(pod.SecurityContext, &corev1.PodSecurityContext{})
	csc := cmp.Or(m.container().SecurityContext, &corev1.SecurityContext{})
	is := func(what string, got *bool, want bool) {
		if got == nil || *got != want {
			t.Errorf("%s is %s, want %t", what, deployShow(got), want)
		}
	}
	is("runAsNonRoot", cmp.Or(csc.RunAsNonRoot, psc.RunAsNonRoot), true)
	is("allowPrivilegeEscalation", csc.AllowPrivilegeEscalation, false)
	is("readOnlyRootFilesystem", csc.ReadOnlyRootFilesystem, true)
	is("privileged", cmp.Or(csc.Privileged, new(false)), false)
	is("automountServiceAccountToken", pod.AutomountServiceAccountToken, false)
	is("the ServiceAccount's automountServiceAccountToken", m.account.AutomountServiceAccountToken, false)
	// The Service is named verdict: its links would be VERDICT_* variables.
	is("enableServiceLinks", pod.EnableServiceLinks, false)
	is("hostNetwork, hostPID or hostIPC", new(pod.HostNetwork || pod.HostPID || pod.HostIPC), false)
	uid, gid, _ := strings.Cut(img.user, ":")
	for _, id := range []struct {
		what  string
		got   *int64
		image string // "" when the image names none
	}{{"runAsUser", cmp.Or(csc.RunAsUser, psc.RunAsUser), uid}, {"runAsGroup", cmp.Or(csc.RunAsGroup, psc.RunAsGroup), gid}} {
		if id.got == nil || *id.got == 0 || id.image != "" && strconv.FormatInt(*id.got, 10) != id.image {
			t.Errorf("%s is %s, want the image's USER (%s), not root", id.what, deployShow(id.got), img.user)
		}
	}
	if sp := cmp.Or(csc.SeccompProfile, psc.SeccompProfile); sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile is %s, want RuntimeDefault", deployShow(sp))
	}
	if c := csc.Capabilities; c == nil || !slices.Equal(c.Drop, []corev1.Capability{"ALL"}) || len(c.Add) > 0 {
		t.Errorf("capabilities are %s, want drop [ALL] and no add", deployShow(c))
	}
}

// deployShow prints a pointer field's value, or "unset".
func deployShow[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprintf("%+v", *p)
}

func checkDeployResources(t *testing.T, m *deployManifests, cl deployCommandLine) {
	r := m.container().Resources
	for _, q := range []struct {
		what string
		list corev1.ResourceList
		name corev1.ResourceName
	}{{"requests", r.Requests, corev1.ResourceCPU}, {"requests", r.Requests, corev1.ResourceMemory}, {"limits", r.Limits, corev1.ResourceMemory}} {
		if v, ok := q.list[q.name]; !ok || v.IsZero() {
			t.Errorf("resources.%s.%s is not set", q.what, q.name)
		}
	}
	if req, limit := r.Requests[corev1.ResourceMemory], r.Limits[corev1.ResourceMemory]; req.Cmp(limit) > 0 {
		t.Errorf("memory request %s is above the limit %s", req.String(), limit.String())
	}
	if v, ok := cl.env["GOMEMLIMIT"]; ok {
		limit := r.Limits[corev1.ResourceMemory]
		t.Errorf("GOMEMLIMIT=%s: Verdict sets the soft limit to 90%% of the memory limit (%s) itself when GOMEMLIMIT is unset", v, limit.String())
	}
}

func checkDeployShutdown(t *testing.T, m *deployManifests, cl deployCommandLine) {
	pod := m.deployment.Spec.Template.Spec
	grace := deployDefaultGrace
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	delay := deployShutdownDelay(t, cl)
	if delay <= 0 {
		t.Error("no --shutdown-delay: serve stops accepting while endpoints and load balancers still send it requests")
	}
	var preStop time.Duration
	if h := m.container().Lifecycle; h != nil && h.PreStop != nil {
		switch {
		case h.PreStop.Sleep != nil:
			preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
		default:
			t.Error("a preStop hook other than sleep: the image has no shell or binaries but /verdict, and Verdict no endpoint for it")
		}
	}
	if need := preStop + delay + deployDrainTimeout; need > grace {
		t.Errorf("preStop %s + --shutdown-delay %s + drain %s = %s, beyond terminationGracePeriodSeconds (%s): the kubelet kills serve mid-drain", preStop, delay, deployDrainTimeout, need, grace)
	}
}

func deployShutdownDelay(t *testing.T, cl deployCommandLine) time.Duration {
	t.Helper()
	v, ok := cl.flag("shutdown-delay")
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("--shutdown-delay %q: %v", v, err)
	}
	return d
}

// volumeAt returns the volume mounted at dir.
func (m *deployManifests) volumeAt(dir string) (corev1.Volume, bool) {
	for _, vm := range m.container().VolumeMounts {
		if path.Clean(vm.MountPath) == path.Clean(dir) {
			for _, v := range m.deployment.Spec.Template.Spec.Volumes {
				if v.Name == vm.Name {
					return v, true
				}
			}
		}
	}
	return corev1.Volume{}, false
}

// checkDeployPolicies: the ConfigMap mounted at --policies holds exactly the
// files serve would load from the repository's policies/.
func checkDeployPolicies(t *testing.T, m *deployManifests, cl deployCommandLine, dir string) {
	policies, _ := cl.flag("policies")
	v, ok := m.volumeAt(policies)
	if !ok || v.ConfigMap == nil {
		t.Fatalf("no ConfigMap is mounted at --policies %s", policies)
	}
	got := m.configMap(t, v.ConfigMap.Name).Data
	entries, err := os.ReadDir(filepath.Join(deployRepoRoot, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			t.Errorf("policies/%s/ is not in the ConfigMap: a ConfigMap holds one flat directory; mount another at %s/%s", name, policies, name)
		case deployServedPolicyFile(name):
			want[name] = true
			b, err := os.ReadFile(filepath.Join(deployRepoRoot, "policies", name))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != got[name] {
				t.Errorf("the ConfigMap's %s differs from policies/%s: cp policies/%s deploy/kustomize/%s/policies/ (and list it in the configMapGenerator)", name, name, name, dir)
			}
		}
	}
	for name := range got {
		if !want[name] {
			t.Errorf("the ConfigMap holds %s, which policies/ does not serve", name)
		}
	}
}

// deployServedPolicyFile: the files serve loads from a policy directory (see
// internal/policy isPolicyFile).
func deployServedPolicyFile(name string) bool {
	switch path.Ext(name) {
	case ".rego":
		return !strings.HasSuffix(name, "_test.rego") && !strings.HasPrefix(name, ".")
	case ".json", ".yaml", ".yml":
		return !strings.HasPrefix(name, ".")
	}
	return false
}

// --- Starting it ---------------------------------------------------------------

// startDeployment runs the binary as the container would, in a directory
// standing for the container's file system (the image's files and the
// pod's volumes), with local stand-ins for what it fetches, and checks that
// the probes answer 200 and that SIGTERM ends it within the grace period.
func startDeployment(t *testing.T, bin string, img dockerImage, m *deployManifests, cl deployCommandLine) {
	root := t.TempDir()
	materializeContainerFS(t, root, img, m)
	cl.argv, cl.env = slices.Clone(cl.argv), maps.Clone(cl.env)
	cl.rewrite(func(_, v string) (string, bool) { // absolute paths lie under root
		return filepath.Join(root, v), strings.HasPrefix(v, "/")
	})
	deployStandIns(t, cl)
	p := startDeployProcess(t, root, bin, append(cl.argv[1:], "--addr=127.0.0.1:0"), cl.env)
	base := "http://" + p.listeningAddr(t)
	c := m.container()
	for _, probe := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if probe != nil && probe.HTTPGet != nil {
			p.waitForStatus(t, base+probe.HTTPGet.Path, http.StatusOK, 15*time.Second)
		}
	}
	if _, ok := cl.flag("api-keys-file"); ok {
		if code := deployRequest(t, http.MethodPost, base+"/v1/check"); code != http.StatusUnauthorized {
			t.Errorf("with --api-keys-file, /v1/check without a key answered %d, want 401", code)
		}
	}
	p.checkTermination(t, m, cl, base)
}

// deployProcess is the binary running as the container's process.
type deployProcess struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{} // closed when the process has ended
	err    error         // its exit, once exited is closed
}

// startDeployProcess runs bin with args and exactly env (nothing inherited) in
// dir, killing it when the test ends.
func startDeployProcess(t *testing.T, dir, bin string, args []string, env map[string]string) *deployProcess {
	t.Helper()
	p := &deployProcess{cmd: exec.Command(bin, args...), out: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Dir = dir // the image's WORKDIR is /
	p.cmd.Env = []string{}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		p.cmd.Env = append(p.cmd.Env, k+"="+env[k])
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// listeningAddr reads the address from serve's "listening" log record.
func (p *deployProcess) listeningAddr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, rec := range p.out.logLines() {
			if addr, ok := rec["addr"].(string); ok && rec["msg"] == "listening" {
				return addr
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited before listening (%v):\n%s", p.err, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not listen within 20s:\n%s", p.out)
	return ""
}

func (p *deployProcess) waitForStatus(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	got := 0
	for time.Now().Before(deadline) {
		if got = deployRequest(t, http.MethodGet, url); got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s: %d, want %d within %s\n%s", url, got, want, within, p.out)
}

// checkTermination sends SIGTERM as the kubelet does: readiness turns 503
// at once, the process keeps serving through --shutdown-delay, and exits 0
// before the grace period ends.
func (p *deployProcess) checkTermination(t *testing.T, m *deployManifests, cl deployCommandLine, base string) {
	t.Helper()
	c := m.container()
	delay := deployShutdownDelay(t, cl)
	grace := deployDefaultGrace
	if s := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; s != nil {
		grace = time.Duration(*s) * time.Second
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if delay > time.Second {
		p.waitForStatus(t, base+c.ReadinessProbe.HTTPGet.Path, http.StatusServiceUnavailable, delay/2)
		if code := deployRequest(t, http.MethodGet, base+c.LivenessProbe.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("during --shutdown-delay the liveness probe got %d, want 200", code)
		}
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want status 0\n%s", p.err, p.out)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("serve exited %s after SIGTERM, before its --shutdown-delay %s", took, delay)
		}
	case <-time.After(grace):
		t.Errorf("serve still ran %s after SIGTERM: the kubelet would kill it\n%s", grace, p.out)
	}
}

// materialize copies into root what the container sees: the image's COPYed
// files, then each volume over its mount path.
func materializeContainerFS(t *testing.T, root string, img dockerImage, m *deployManifests) {
	t.Helper()
	for dst, src := range img.copies {
		if err := os.CopyFS(filepath.Join(root, dst), os.DirFS(filepath.Join(deployRepoRoot, src))); err != nil {
			t.Fatalf("COPY %s %s: %v", src, dst, err)
		}
	}
	for _, vm := range m.container().VolumeMounts {
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			t.Fatalf("volume mount %s uses subPath: the kubelet never updates it (and TestDeploy does not model it)", vm.Name)
		}
		dir := filepath.Join(root, vm.MountPath)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		v, _ := m.volumeAt(vm.MountPath)
		files := map[string][]byte{}
		switch {
		case v.ConfigMap != nil && len(v.ConfigMap.Items) == 0:
			for k, s := range m.configMap(t, v.ConfigMap.Name).Data {
				files[k] = []byte(s)
			}
		case v.Secret != nil && len(v.Secret.Items) == 0:
			files = m.secret(t, v.Secret.SecretName).Data
		case v.EmptyDir != nil:
		default:
			t.Fatalf("volume %s: TestDeploy models whole ConfigMaps and Secrets and emptyDir only", vm.Name)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// deployStandIns point what serve fetches or verifies at local stand-ins: a
// JWKS of a test issuer, and a bundle server with a bundle signed by a test
// key.
func deployStandIns(t *testing.T, cl deployCommandLine) {
	t.Helper()
	issuer, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(issuer.JWKS())
	}))
	t.Cleanup(jwks.Close)
	var bundleKey []byte
	cl.rewrite(func(name, v string) (string, bool) {
		switch name {
		case "jwks-url":
			return jwks.URL, true
		case "jwks-file":
			writeDeployFile(t, v, issuer.JWKS())
		case "jwt-key-file":
			writeDeployFile(t, v, issuer.PublicKeyPEM())
		case "clerk-secret-key":
			t.Fatal("no stand-in for --clerk-secret-key: use --jwks-url in the manifests, or teach TestDeploy")
		case "bundle-url":
			var url string
			url, bundleKey = deployBundleServer(t)
			return url, true
		}
		return "", false
	})
	if key, ok := cl.flag("bundle-verification-key"); ok {
		if bundleKey == nil {
			t.Fatal("--bundle-verification-key without --bundle-url: TestDeploy has no stand-in for --bundle-file")
		}
		writeDeployFile(t, key, bundleKey)
	}
}

func writeDeployFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// deployBundleServer serves the repository's policies as an OPA bundle,
// signed (RS256) as `opa build --signing-key` signs it, and returns its URL
// and the PEM public key that verifies it.
func deployBundleServer(t *testing.T) (string, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := opabundle.Bundle{Data: map[string]any{}, Manifest: opabundle.Manifest{Revision: "deploy-test"}}
	dir := filepath.Join(deployRepoRoot, "policies")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !deployServedPolicyFile(e.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		switch {
		case err != nil:
			t.Fatal(err)
		case e.Name() == "data.json":
			if err := json.Unmarshal(raw, &b.Data); err != nil {
				t.Fatal(err)
			}
		case path.Ext(e.Name()) == ".rego":
			b.Modules = append(b.Modules, opabundle.ModuleFile{URL: "/" + e.Name(), Path: "/" + e.Name(), Raw: raw})
		default:
			t.Fatalf("policies/%s: the bundle stand-in packs data.json and .rego files only", e.Name())
		}
	}
	private := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := b.GenerateSignature(opabundle.NewSigningConfig(string(private), "RS256", ""), "default", false); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := opabundle.NewWriter(&archive).Write(b); err != nil {
		t.Fatal(err)
	}
	public, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(archive.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/bundle.tar.gz", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: public})
}

func deployRequest(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
