// Package sonorun drives a certified-conformance run through sonobuoy's
// pkg/client library: it builds the sonobuoy configuration for one CPU
// architecture, checks the cluster first, starts the run, watches the
// aggregator's progress, retrieves the results and cleans up.
package sonorun

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/client"
	"github.com/vmware-tanzu/sonobuoy/pkg/config"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/manifest"
	corev1 "k8s.io/api/core/v1"

	"github.com/confrun/confrun/internal/arch"
)

// Mode names the test selection, as sonobuoy names it.
type Mode string

const (
	// ModeCertifiedConformance runs every [Conformance] test, nothing skipped:
	// the only mode whose results k8s-conformance accepts.
	ModeCertifiedConformance Mode = "certified-conformance"
	// ModeCustom runs the given --focus/--skip.
	ModeCustom Mode = "custom"
)

// ConformanceFocus is the focus of a certification run.
const ConformanceFocus = `\[Conformance\]`

const (
	// DefaultNamespace is where sonobuoy's aggregator runs.
	DefaultNamespace = config.DefaultNamespace
	e2ePlugin        = "e2e"
	archLabel        = "kubernetes.io/arch"
	osLabel          = "kubernetes.io/os"
	repoListFileName = "repo-list.yaml"
	repoListMount    = "/tmp/sonobuoy/config/" + repoListFileName
)

// Spec is what one run is to do.
type Spec struct {
	Arch arch.Arch
	// KubeVersion is the cluster's version (v1.34.4); it names the e2e
	// plugin's SONOBUOY_K8S_VERSION.
	KubeVersion string
	Namespace   string
	Focus, Skip string
	Parallel    bool
	// ConformanceImage and SonobuoyImage are the arch images to run.
	ConformanceImage string
	SonobuoyImage    string
	// RepoList is the content of a KUBE_TEST_REPO_LIST file, if any.
	RepoList []byte
	// Timeout bounds the e2e plugin inside the aggregator.
	Timeout time.Duration
}

// Mode reports whether the spec is a certification run.
func (s Spec) Mode() Mode {
	if s.Focus == ConformanceFocus && s.Skip == "" {
		return ModeCertifiedConformance
	}
	return ModeCustom
}

// Validate checks a spec before anything is created.
func (s Spec) Validate() error {
	if s.Arch.GOARCH == "" {
		return fmt.Errorf("no architecture given: pass --arch (e.g. --arch mips64el)")
	}
	if s.ConformanceImage == "" {
		return fmt.Errorf("no conformance image for %s: pass --conformance-image or an --imagemap that maps registry.k8s.io/conformance", s.Arch)
	}
	if s.SonobuoyImage == "" {
		return fmt.Errorf("no sonobuoy image for %s: pass --sonobuoy-image or an --imagemap that maps the sonobuoy image", s.Arch)
	}
	if s.Focus == "" {
		return fmt.Errorf("empty focus: a run needs a focus regular expression (certification uses %s)", ConformanceFocus)
	}
	for name, re := range map[string]string{"focus": s.Focus, "skip": s.Skip} {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("--%s %q is not a regular expression: %w", name, re, err)
		}
	}
	return nil
}

// GenConfig turns the spec into sonobuoy's generator configuration:
//   - only the e2e plugin (systemd-logs would need one more image per arch);
//   - the aggregator, worker sidecar and e2e pod use the arch images with
//     imagePullPolicy IfNotPresent, so pre-pulled images are used as they are;
//   - every pod is pinned to nodes of the spec's architecture;
//   - the aggregator is advertised by its Service's DNS name, never as a
//     bracketed IP: sonobuoy workers built with Go >= 1.24.8/1.25.2 reject
//     "https://[10.x.y.z]:8080" (net/url's stricter IP-literal parsing);
//   - ginkgo runs verbosely (-v) so that e2e.log names every spec, which
//     `confrun junit` needs when the JUnit is lost.
func (s Spec) GenConfig() *client.GenConfig {
	ns := s.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	cfg := config.New()
	cfg.Namespace = ns
	cfg.WorkerImage = s.SonobuoyImage
	cfg.ImagePullPolicy = string(corev1.PullIfNotPresent)
	cfg.ForceImagePullPolicy = true
	cfg.Aggregation.AdvertiseAddress = fmt.Sprintf("sonobuoy-aggregator.%s.svc:%d", ns, cfg.Aggregation.BindPort)
	if s.Timeout > 0 {
		cfg.Aggregation.TimeoutSeconds = int(s.Timeout.Seconds())
	}
	parallel := "false"
	if s.Parallel {
		parallel = "true"
	}
	transforms := []func(*manifest.Manifest) error{
		func(m *manifest.Manifest) error {
			m.Spec.Image = s.ConformanceImage
			m.Spec.ImagePullPolicy = corev1.PullIfNotPresent
			if m.PodSpec != nil {
				if m.PodSpec.NodeSelector == nil {
					m.PodSpec.NodeSelector = map[string]string{}
				}
				m.PodSpec.NodeSelector[archLabel] = s.Arch.GOARCH
				m.PodSpec.NodeSelector[osLabel] = "linux"
			}
			return nil
		},
	}
	if len(s.RepoList) > 0 {
		transforms = append(transforms, func(m *manifest.Manifest) error {
			if m.ConfigMap == nil {
				m.ConfigMap = map[string]string{}
			}
			m.ConfigMap[repoListFileName] = string(s.RepoList)
			m.Spec.Env = append(m.Spec.Env, corev1.EnvVar{Name: "KUBE_TEST_REPO_LIST", Value: repoListMount})
			return nil
		})
	}
	return &client.GenConfig{
		Config:          cfg,
		EnableRBAC:      true,
		ImagePullPolicy: string(corev1.PullIfNotPresent),
		DynamicPlugins:  []string{e2ePlugin},
		PluginEnvOverrides: map[string]map[string]string{e2ePlugin: {
			"E2E_FOCUS":             s.Focus,
			"E2E_SKIP":              s.Skip,
			"E2E_PARALLEL":          parallel,
			"E2E_EXTRA_GINKGO_ARGS": "-v",
		}},
		NodeSelectors:    map[string]string{archLabel: s.Arch.GOARCH, osLabel: "linux"},
		KubeVersion:      s.KubeVersion,
		PluginTransforms: map[string][]func(*manifest.Manifest) error{e2ePlugin: transforms},
	}
}

// ReadRepoList reads a KUBE_TEST_REPO_LIST file.
func ReadRepoList(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, fmt.Errorf("reading e2e repo list: %w", err)
	}
	return b, nil
}
