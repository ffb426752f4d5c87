package sonorun

import (
	"strings"
	"testing"

	"github.com/vmware-tanzu/sonobuoy/pkg/client"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/manifest"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/confrun/confrun/internal/arch"
)

func testSpec() Spec {
	return Spec{
		Arch:             arch.MustParse("mips64el"),
		KubeVersion:      "v1.34.4",
		Namespace:        "conf",
		Focus:            ConformanceFocus,
		ConformanceImage: "127.0.0.1:5000/cke/kubernetes/conformance-mips64el:v1.34.4",
		SonobuoyImage:    "127.0.0.1:5000/cke/sonobuoy-mips64el:v0.57.3",
		RepoList:         []byte("promoterE2eRegistry: 127.0.0.1:5000/mirror\n"),
	}
}

// generated renders the spec with sonobuoy's own generator and returns the
// aggregator pod and the e2e plugin manifest it would create.
func generated(t *testing.T, s Spec) (*corev1.Pod, *manifest.Manifest, string) {
	t.Helper()
	sc := &client.SonobuoyClient{}
	b, plugins, err := sc.GenerateManifestAndPlugins(s.GenConfig())
	if err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(b)), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		if obj["kind"] == "Pod" {
			raw, _ := yaml.ToJSON([]byte(mustYAML(t, obj)))
			pod = &corev1.Pod{}
			if err := yaml.Unmarshal(raw, pod); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pod == nil {
		t.Fatalf("no aggregator pod in manifest:\n%s", b)
	}
	var e2e *manifest.Manifest
	for _, p := range plugins {
		if p.SonobuoyConfig.PluginName == "e2e" {
			e2e = p
		}
	}
	if e2e == nil || len(plugins) != 1 {
		t.Fatalf("want exactly the e2e plugin, got %d plugins", len(plugins))
	}
	return pod, e2e, string(b)
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := sigsyaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGenConfigUsesArchImagesAndIfNotPresent(t *testing.T) {
	s := testSpec()
	pod, e2e, all := generated(t, s)
	c := pod.Spec.Containers[0]
	if c.Image != s.SonobuoyImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("aggregator image %s policy %s", c.Image, c.ImagePullPolicy)
	}
	if pod.Spec.NodeSelector["kubernetes.io/arch"] != "mips64le" {
		t.Errorf("aggregator node selector %v", pod.Spec.NodeSelector)
	}
	if e2e.Spec.Image != s.ConformanceImage || e2e.Spec.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("e2e image %s policy %s", e2e.Spec.Image, e2e.Spec.ImagePullPolicy)
	}
	if e2e.PodSpec.NodeSelector["kubernetes.io/arch"] != "mips64le" {
		t.Errorf("e2e node selector %v", e2e.PodSpec.NodeSelector)
	}
	env := map[string]string{}
	for _, e := range e2e.Spec.Env {
		env[e.Name] = e.Value
	}
	for k, want := range map[string]string{
		"E2E_FOCUS": `\[Conformance\]`, "E2E_SKIP": "", "E2E_PARALLEL": "false", "E2E_EXTRA_GINKGO_ARGS": "-v",
		"KUBE_TEST_REPO_LIST": "/tmp/sonobuoy/config/repo-list.yaml", "SONOBUOY_K8S_VERSION": "v1.34.4",
	} {
		if env[k] != want {
			t.Errorf("e2e env %s = %q, want %q", k, env[k], want)
		}
	}
	if e2e.ConfigMap["repo-list.yaml"] == "" {
		t.Error("repo list not mounted into the e2e plugin")
	}
	// The worker sidecar and the advertised aggregator address live in the
	// sonobuoy config the aggregator reads.
	if !strings.Contains(all, `"WorkerImage":"`+s.SonobuoyImage+`"`) {
		t.Error("worker image not in sonobuoy config")
	}
	if !strings.Contains(all, `"advertiseaddress":"sonobuoy-aggregator.conf.svc:8080"`) {
		t.Errorf("advertise address not set to the service name:\n%s", all)
	}
	if strings.Contains(all, "registry.k8s.io/conformance") || strings.Contains(all, "systemd-logs") {
		t.Error("manifest still references upstream images")
	}
}

func TestSpecValidateAndMode(t *testing.T) {
	s := testSpec()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Mode() != ModeCertifiedConformance {
		t.Fatal("conformance focus without skip is certified-conformance")
	}
	s.Skip = "Serial"
	if s.Mode() != ModeCustom {
		t.Fatal("skip makes a custom run")
	}
	for _, mut := range []func(*Spec){
		func(s *Spec) { s.Arch = arch.Arch{} },
		func(s *Spec) { s.ConformanceImage = "" },
		func(s *Spec) { s.SonobuoyImage = "" },
		func(s *Spec) { s.Focus = "" },
		func(s *Spec) { s.Focus = "[" },
	} {
		bad := testSpec()
		mut(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
