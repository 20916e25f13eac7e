// Package deploy_test checks what deploy/ would run: the Kubernetes overlays
// as kustomize renders them (the pinned kustomize of tools/go.mod), the
// compose file and the Dockerfile. .ci/run validates the same renders
// against the Kubernetes schemas; these tests check what a schema cannot:
// that the probes reach endpoints the real server serves, that every setting
// is one the server knows and accepts, that the embedded store never runs on
// more than one replica, that images are pinned and --dev appears nowhere.
package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/callverify/callverify/internal/app"
	"github.com/callverify/callverify/internal/testbin"
	"github.com/callverify/callverify/internal/testenv"
)

// overlays are every kustomization deploy/k8s can be applied as: each
// overlay alone and with each component. Kept in step with the directories
// by TestEveryOverlayIsChecked.
var (
	overlays   = []string{"embedded", "redis-cluster", "redis-standalone"}
	components = []string{"auth-hmac-secret"}
)

type obj = map[string]any

// rendering is one kustomization as rendered, by kind and name.
type rendering struct {
	name    string
	objects []obj
}

func (r rendering) all(kind string) []obj {
	var out []obj
	for _, o := range r.objects {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendering) get(kind, name string) obj {
	for _, o := range r.all(kind) {
		if str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

// workloads are the Deployments and StatefulSets.
func (r rendering) workloads() []obj {
	return append(r.all("Deployment"), r.all("StatefulSet")...)
}

var renderings = sync.OnceValues(renderAll)

// renderAll renders every overlay, alone and with each component (from a
// kustomization written next to the overlays, as kustomize takes relative
// paths inside the tree only).
func renderAll() ([]rendering, error) {
	kustomize, err := kustomizeBinary()
	if err != nil {
		return nil, err
	}
	var out []rendering
	for _, o := range overlays {
		r, err := render(kustomize, o, filepath.Join("k8s", "overlays", o))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	dir, err := os.MkdirTemp(filepath.Join("k8s", "overlays"), ".test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, c := range components {
		for _, o := range overlays {
			k := "resources: [../" + o + "]\ncomponents: [../../components/" + c + "]\n"
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
				return nil, err
			}
			r, err := render(kustomize, o+"+"+c, dir)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// kustomizeBinary returns the path of the pinned kustomize (tools/go.mod),
// built once for the whole test run (internal/testbin). The renders run it
// directly: each `go tool` would load the tools module's graph again,
// which costs several times what a render does.
func kustomizeBinary() (string, error) {
	dir, err := testbin.Build("-modfile=tools/go.mod", "sigs.k8s.io/kustomize/kustomize/v5")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "kustomize"), nil
}

func render(kustomize, name, dir string) (rendering, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return rendering{}, err
	}
	cmd := exec.Command(kustomize, "build", abs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return rendering{}, errors.New("kustomize build " + dir + ": " + err.Error() + ": " + stderr.String())
	}
	r := rendering{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o obj
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return rendering{}, errors.New(name + ": " + err.Error())
		}
		r.objects = append(r.objects, o)
	}
	return r, nil
}

func mustRender(t *testing.T) []rendering {
	t.Helper()
	rs, err := renderings()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// at walks maps by key; nil when a step is missing.
func at(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string { s, _ := at(v, path...).(string); return s }

func list(v any, path ...string) []any { l, _ := at(v, path...).([]any); return l }

func labels(v any, path ...string) map[string]string {
	out := map[string]string{}
	m, _ := at(v, path...).(obj)
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// selects says whether selector (non-empty) matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// isServer says whether a workload runs callverifyd (not Redis).
func isServer(w obj) bool {
	for _, c := range list(w, "spec", "template", "spec", "containers") {
		if str(c, "name") == "callverifyd" {
			return true
		}
	}
	return false
}

func server(t *testing.T, r rendering) obj {
	t.Helper()
	var found []obj
	for _, w := range r.workloads() {
		if isServer(w) {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d workloads run callverifyd, want 1", r.name, len(found))
	}
	return found[0]
}

func serverContainer(w obj) obj {
	for _, c := range list(w, "spec", "template", "spec", "containers") {
		if str(c, "name") == "callverifyd" {
			return c.(obj)
		}
	}
	return nil
}

// environment is what callverifyd's container sees: the ConfigMaps it
// takes whole, then its own env (which wins).
func environment(t *testing.T, r rendering, w obj) map[string]string {
	t.Helper()
	env := map[string]string{}
	c := serverContainer(w)
	for _, from := range list(c, "envFrom") {
		name := str(from, "configMapRef", "name")
		cm := r.get("ConfigMap", name)
		if cm == nil {
			t.Fatalf("%s: envFrom names ConfigMap %q, which is not rendered", r.name, name)
		}
		for k, v := range labels(cm, "data") {
			env[k] = v
		}
	}
	for _, e := range list(c, "env") {
		env[str(e, "name")] = str(e, "value")
	}
	return env
}

func TestEveryOverlayIsChecked(t *testing.T) {
	t.Parallel()
	for dir, want := range map[string][]string{"k8s/overlays": overlays, "k8s/components": components} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				got = append(got, e.Name())
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %v, the tests check %v", dir, got, want)
		}
	}
}

// devMode matches the development issuer's flag or variable.
var devMode = regexp.MustCompile(`--dev\b|CALLVERIFY_DEV\b`)

func TestNoDevModeAnywhere(t *testing.T) {
	t.Parallel()
	// The files as written, comments aside (they may say not to use it).
	files := []string{"Dockerfile", "compose.yaml"}
	err := filepath.WalkDir("k8s", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line, _, _ := strings.Cut(sc.Text(), "#")
			if devMode.MatchString(line) {
				t.Errorf("%s:%d runs the development issuer: %s", f, n, sc.Text())
			}
		}
	}
	// And every string of every rendering.
	for _, r := range mustRender(t) {
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				if devMode.MatchString(v) {
					t.Errorf("%s renders %q", r.name, v)
				}
			case obj:
				for k, e := range v {
					walk(k)
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		for _, o := range r.objects {
			walk(o)
		}
	}
}

// TestProbesReachTheRealEndpoints starts the real server and asks it, on
// each probe's path, what the kubelet would ask: liveness and startup on
// /healthz, readiness on /readyz, on the port the server listens on.
func TestProbesReachTheRealEndpoints(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	// A path the server does not serve is not 200: the check below tells.
	if got, want := env.Do(http.MethodGet, "/health", "", nil).Status, http.StatusNotFound; got != want {
		t.Fatalf("GET /health = %d, want %d", got, want)
	}
	wantPath := map[string]string{"livenessProbe": "/healthz", "startupProbe": "/healthz", "readinessProbe": "/readyz"}
	for _, r := range mustRender(t) {
		w := server(t, r)
		c := serverContainer(w)
		cfg := config(t, r, w)
		_, httpPort, err := net.SplitHostPort(cfg.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		ports := map[string]string{}
		for _, p := range list(c, "ports") {
			ports[str(p, "name")] = strconv.Itoa(at(p, "containerPort").(int))
		}
		for probe, path := range wantPath {
			p := at(c, probe)
			if p == nil {
				t.Errorf("%s: callverifyd has no %s", r.name, probe)
				continue
			}
			if got := str(p, "httpGet", "path"); got != path {
				t.Errorf("%s: %s path = %q, want %q", r.name, probe, got, path)
			}
			if got := ports[str(p, "httpGet", "port")]; got != httpPort {
				t.Errorf("%s: %s port %v is container port %q, the server listens for HTTP on %q",
					r.name, probe, at(p, "httpGet", "port"), got, httpPort)
			}
			if got, want := env.Do(http.MethodGet, str(p, "httpGet", "path"), "", nil).Status, http.StatusOK; got != want {
				t.Errorf("%s: %s: GET %s on the real server = %d, want %d", r.name, probe, str(p, "httpGet", "path"), got, want)
			}
		}
		// The Service sends gRPC and HTTP to the ports the server listens on.
		_, grpcPort, _ := net.SplitHostPort(cfg.GRPCAddr)
		svc := r.get("Service", "callverify")
		for _, p := range list(svc, "spec", "ports") {
			want := map[string]string{"http": httpPort, "grpc": grpcPort}[str(p, "name")]
			if got := ports[str(p, "targetPort")]; got != want || want == "" {
				t.Errorf("%s: Service port %s targets container port %q, want %q", r.name, str(p, "name"), got, want)
			}
		}
	}
}

// config is the server's configuration as the rendered container would
// parse it, with the server's own parser and checks.
func config(t *testing.T, r rendering, w obj) app.Config {
	t.Helper()
	env := environment(t, r, w)
	var args []string
	for _, a := range list(serverContainer(w), "args") {
		args = append(args, a.(string))
	}
	cfg, err := app.ParseFlags("callverifyd", args, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%s: callverifyd would refuse its configuration: %v", r.name, err)
	}
	return cfg
}

var knownVar = regexp.MustCompile(`\(env (CALLVERIFY_[A-Z0-9_]+)\)`)

// TestSettingsAreTheServers: every CALLVERIFY_ variable deploy/ sets is one
// of callverifyd's (a misspelt one would be ignored without a word), and
// every rendering's configuration passes the server's checks.
func TestSettingsAreTheServers(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, m := range knownVar.FindAllStringSubmatch(app.Usage("callverifyd"), -1) {
		known[m[1]] = true
	}
	if len(known) < 10 {
		t.Fatalf("found %d variables in callverifyd's usage; the pattern is stale", len(known))
	}
	check := func(where, name string) {
		if strings.HasPrefix(name, "CALLVERIFY_") && !known[name] {
			t.Errorf("%s sets %s, which is no setting of callverifyd", where, name)
		}
	}
	for _, r := range mustRender(t) {
		w := server(t, r)
		for name := range environment(t, r, w) {
			check(r.name, name)
		}
		cfg := config(t, r, w)
		// Replicas share Redis; the embedded store is a file of one process.
		if replicas := at(w, "spec", "replicas"); len(cfg.RedisAddrs) == 0 && replicas != 1 {
			t.Errorf("%s: the embedded store with %v replicas", r.name, replicas)
		}
		if len(cfg.RedisAddrs) > 0 && cfg.KEKFile == "" {
			t.Errorf("%s: Redis without a shared KEK file", r.name)
		}
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string
		}
	}
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	for svc, s := range compose.Services {
		for name := range s.Environment {
			check("compose.yaml service "+svc, name)
		}
	}
	if got := compose.Services["callverify"].Environment["CALLVERIFY_REDIS_ADDRS"]; got != "redis:6379" {
		t.Errorf("compose.yaml: callverify's CALLVERIFY_REDIS_ADDRS = %q, want redis:6379", got)
	}
	// Each callverifyd service's environment, with what compose asks the
	// user for (${VAR:?message}) filled in, passes the server's checks: an
	// identity provider, not the development issuer, and a KEK from a file.
	for _, svc := range []string{"callverify", "callverify-embedded"} {
		env := compose.Services[svc].Environment
		if env == nil {
			t.Fatalf("compose.yaml has no service %s", svc)
		}
		cfg, err := app.ParseFlags("callverifyd", nil, func(k string) string {
			if strings.HasPrefix(env[k], "${") {
				return map[string]string{
					"CALLVERIFY_AUTH_JWKS_URL": "https://idp.example.com/.well-known/jwks.json",
					"CALLVERIFY_AUTH_ISSUER":   "https://idp.example.com/", "CALLVERIFY_AUTH_AUDIENCE": "callverify",
				}[k]
			}
			return env[k]
		})
		if err != nil {
			t.Errorf("compose.yaml: callverifyd would refuse the configuration of service %s: %v", svc, err)
			continue
		}
		if cfg.Dev || cfg.AuthJWKSURL == "" || cfg.AuthIssuer == "" || cfg.AuthAudience == "" {
			t.Errorf("compose.yaml: service %s does not take its identity provider from the environment", svc)
		}
		if cfg.KEKFile != "/run/secrets/kek" {
			t.Errorf("compose.yaml: service %s reads its KEK from %q, want the secret /run/secrets/kek", svc, cfg.KEKFile)
		}
	}
}

// TestEmbeddedOverlayIsOneStatefulReplica: bbolt is one file on one
// volume, locked by one process.
func TestEmbeddedOverlayIsOneStatefulReplica(t *testing.T) {
	t.Parallel()
	for _, r := range mustRender(t) {
		if !strings.HasPrefix(r.name, "embedded") {
			continue
		}
		w := server(t, r)
		if got, want := w["kind"], "StatefulSet"; got != want {
			t.Errorf("%s: callverifyd runs as a %v, want a %s", r.name, got, want)
		}
		if got, want := at(w, "spec", "replicas"), 1; got != want {
			t.Errorf("%s: replicas = %v, want %d", r.name, got, want)
		}
		if n := len(list(w, "spec", "volumeClaimTemplates")); n != 1 {
			t.Errorf("%s: %d volume claims, want 1 (the store)", r.name, n)
		}
		for _, kind := range []string{"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
			if n := len(r.all(kind)); n != 0 {
				t.Errorf("%s: %d %s, want none", r.name, n, kind)
			}
		}
	}
}

// TestScaledOutOverlays: the Redis overlays run 2+ replicas of a
// Deployment, scaled on CPU and kept available through node drains.
func TestScaledOutOverlays(t *testing.T) {
	t.Parallel()
	for _, r := range mustRender(t) {
		if !strings.HasPrefix(r.name, "redis-") {
			continue
		}
		w := server(t, r)
		if w["kind"] != "Deployment" {
			t.Fatalf("%s: callverifyd runs as a %v, want a Deployment", r.name, w["kind"])
		}
		if n, _ := at(w, "spec", "replicas").(int); n < 2 {
			t.Errorf("%s: replicas = %v, want 2 or more", r.name, at(w, "spec", "replicas"))
		}
		hpas := r.all("HorizontalPodAutoscaler")
		if len(hpas) != 1 {
			t.Fatalf("%s: %d HorizontalPodAutoscalers, want 1", r.name, len(hpas))
		}
		h := hpas[0]
		if got, want := str(h, "spec", "scaleTargetRef", "kind")+"/"+str(h, "spec", "scaleTargetRef", "name"), "Deployment/"+str(w, "metadata", "name"); got != want {
			t.Errorf("%s: the HPA scales %s, want %s", r.name, got, want)
		}
		if n, _ := at(h, "spec", "minReplicas").(int); n < 2 {
			t.Errorf("%s: HPA minReplicas = %v, want 2 or more", r.name, at(h, "spec", "minReplicas"))
		}
		if got := str(list(h, "spec", "metrics")[0], "resource", "name"); got != "cpu" {
			t.Errorf("%s: the HPA scales on %q, want cpu", r.name, got)
		}
		pdbs := r.all("PodDisruptionBudget")
		if len(pdbs) != 1 || !selects(labels(pdbs[0], "spec", "selector", "matchLabels"), labels(w, "spec", "template", "metadata", "labels")) {
			t.Errorf("%s: want one PodDisruptionBudget selecting callverifyd's pods", r.name)
		}
	}
}

// TestSelectorsAndLabels: every resource carries app.kubernetes.io/name and
// part-of; each Service selects the pods of exactly one workload, each
// workload's selector matches its own pods, and callverify's Service never
// reaches Redis.
func TestSelectorsAndLabels(t *testing.T) {
	t.Parallel()
	for _, r := range mustRender(t) {
		for _, o := range r.objects {
			l := labels(o, "metadata", "labels")
			if l["app.kubernetes.io/name"] == "" || l["app.kubernetes.io/part-of"] != "callverify" {
				t.Errorf("%s: %v %s has labels %v, want app.kubernetes.io/name and part-of=callverify",
					r.name, o["kind"], str(o, "metadata", "name"), l)
			}
		}
		for _, w := range r.workloads() {
			if !selects(labels(w, "spec", "selector", "matchLabels"), labels(w, "spec", "template", "metadata", "labels")) {
				t.Errorf("%s: %s's selector does not match its own pods", r.name, str(w, "metadata", "name"))
			}
		}
		for _, svc := range r.all("Service") {
			var matched []string
			for _, w := range r.workloads() {
				if selects(labels(svc, "spec", "selector"), labels(w, "spec", "template", "metadata", "labels")) {
					matched = append(matched, str(w, "metadata", "name"))
				}
			}
			if len(matched) != 1 || matched[0] != str(svc, "metadata", "name") {
				t.Errorf("%s: Service %s selects the pods of %v, want exactly [%s]", r.name, str(svc, "metadata", "name"), matched, str(svc, "metadata", "name"))
			}
		}
	}
}

// TestPodsAreHardened: non-root, read-only root filesystem, no privilege
// escalation, no capabilities, resources requested and memory limited.
func TestPodsAreHardened(t *testing.T) {
	t.Parallel()
	for _, r := range mustRender(t) {
		for _, w := range r.workloads() {
			name := r.name + ": " + str(w, "metadata", "name")
			pod := at(w, "spec", "template", "spec")
			if at(pod, "securityContext", "runAsNonRoot") != true {
				t.Errorf("%s: pod may run as root", name)
			}
			for _, c := range list(pod, "containers") {
				sc := at(c, "securityContext")
				if at(sc, "allowPrivilegeEscalation") != false || at(sc, "readOnlyRootFilesystem") != true ||
					!slices.Equal(list(sc, "capabilities", "drop"), []any{"ALL"}) {
					t.Errorf("%s/%s: securityContext %v, want no privilege escalation, a read-only root and drop [ALL]", name, str(c, "name"), sc)
				}
				for _, q := range [][]string{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"}} {
					if at(c, append([]string{"resources"}, q...)...) == nil {
						t.Errorf("%s/%s: no resources.%s", name, str(c, "name"), strings.Join(q, "."))
					}
				}
			}
		}
	}
}

// TestSecretsAreReferencedNeverCommitted: no Secret is rendered (its values
// would be in the repository), and every key file callverifyd is told to
// read is on a mounted Secret volume.
func TestSecretsAreReferencedNeverCommitted(t *testing.T) {
	t.Parallel()
	for _, r := range mustRender(t) {
		if n := len(r.all("Secret")); n != 0 {
			t.Errorf("%s renders %d Secrets; reference Secrets created outside the repository", r.name, n)
		}
		w := server(t, r)
		c := serverContainer(w)
		secretVolumes := map[string]string{}
		for _, v := range list(w, "spec", "template", "spec", "volumes") {
			if s := str(v, "secret", "secretName"); s != "" {
				secretVolumes[str(v, "name")] = s
			}
		}
		onSecret := func(path string) bool {
			for _, m := range list(c, "volumeMounts") {
				if _, ok := secretVolumes[str(m, "name")]; ok && strings.HasPrefix(path, str(m, "mountPath")+"/") {
					return true
				}
			}
			return false
		}
		cfg := config(t, r, w)
		files := map[string]string{"kek-file": cfg.KEKFile, "hmac-keys-file": cfg.HMACKeysFile, "auth-hmac-secret-file": cfg.AuthHMACSecretFile}
		if cfg.KEKFile == "" {
			t.Errorf("%s: no --kek-file: the key-encryption key would be created in the data directory", r.name)
		}
		for flag, path := range files {
			if path != "" && !onSecret(path) {
				t.Errorf("%s: --%s %s is not on a mounted Secret", r.name, flag, path)
			}
		}
	}
}

// pinned says whether an image reference names a tag other than latest, or
// a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest"
}

func TestImagesArePinned(t *testing.T) {
	t.Parallel()
	for _, image := range []string{"redis", "redis:latest", "ghcr.io:443/x/y", "ghcr.io:443/x/y:latest"} {
		if pinned(image) {
			t.Fatalf("pinned(%q) = true", image)
		}
	}
	for _, image := range []string{"redis:7.4.2", "ghcr.io:443/x/y:v1", "x@sha256:0123"} {
		if !pinned(image) {
			t.Fatalf("pinned(%q) = false", image)
		}
	}
	for _, r := range mustRender(t) {
		for _, w := range r.workloads() {
			for _, c := range list(w, "spec", "template", "spec", "containers") {
				if image := str(c, "image"); !pinned(image) {
					t.Errorf("%s: container %s runs image %q, not pinned by tag or digest", r.name, str(c, "name"), image)
				}
			}
		}
	}
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	from := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			from++
			if !pinned(f[1]) {
				t.Errorf("Dockerfile: FROM %s is not pinned by tag or digest", f[1])
			}
		}
	}
	if from != 2 {
		t.Errorf("Dockerfile has %d FROM lines, want 2 (build, then distroless)", from)
	}
	var compose struct {
		Services map[string]struct{ Image string }
	}
	b, err = os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	for name, s := range compose.Services {
		if !pinned(s.Image) {
			t.Errorf("compose.yaml: service %s runs image %q, not pinned by tag or digest", name, s.Image)
		}
	}
}
