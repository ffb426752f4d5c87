package sonorun

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/release"
)

// Severity of a preflight finding.
type Severity string

const (
	// SeverityError stops the run.
	SeverityError Severity = "error"
	// SeverityWarning is printed; the run goes on.
	SeverityWarning Severity = "warning"
)

// Finding is one preflight result: one line saying what is wrong and what
// to do.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.Severity, f.Check, f.Message) }

// Cluster is what preflight learned about the cluster.
type Cluster struct {
	ServerVersion string
	Release       release.Release
	// Nodes are the Ready, schedulable nodes of the run's architecture.
	Nodes []string
}

// PrepullStatus tells preflight whether the run's images were pre-pulled on
// the given nodes; nil means no prepull report was found.
type PrepullStatus interface {
	// Missing lists "node: image" pairs that the report does not show as
	// present on the nodes.
	Missing(nodes []string) []string
}

// PreflightOptions configure Preflight.
type PreflightOptions struct {
	Arch           arch.Arch
	Namespace      string
	Prepull        PrepullStatus
	RequirePrepull bool
	// Resuming skips the "earlier run exists" check.
	Resuming bool
}

// Preflight checks the cluster before anything is created. It returns what
// it learned and every finding; callers stop when any finding is an error.
func Preflight(ctx context.Context, cs kubernetes.Interface, o PreflightOptions) (Cluster, []Finding) {
	var c Cluster
	var fs []Finding
	add := func(check string, sev Severity, format string, args ...any) {
		fs = append(fs, Finding{Check: check, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}

	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		add("cluster-reachable", SeverityError, "cannot reach the API server: %v (check --kubeconfig/--context and that the cluster is up)", err)
		return c, fs
	}
	c.ServerVersion = v.GitVersion
	r, err := release.Parse(v.GitVersion)
	if err != nil {
		add("server-version", SeverityError, "the API server reports version %q, which is not a Kubernetes release: build it with version ldflags (-X k8s.io/component-base/version.gitVersion=v1.X.Y)", v.GitVersion)
	} else {
		c.Release = r
		if err := release.Check(r); err != nil {
			add("server-version", SeverityWarning, "%v; coverage will not be checked", err)
		}
	}

	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		add("nodes", SeverityError, "listing nodes: %v", err)
		return c, fs
	}
	var notReady, otherArch []string
	for _, n := range nodes.Items {
		a := n.Labels["kubernetes.io/arch"]
		if a != o.Arch.GOARCH {
			otherArch = append(otherArch, n.Name+"="+a)
			continue
		}
		switch {
		case !nodeReady(&n):
			notReady = append(notReady, n.Name+" (not Ready)")
		case n.Spec.Unschedulable:
			notReady = append(notReady, n.Name+" (cordoned)")
		case hasNoScheduleTaint(&n):
			notReady = append(notReady, n.Name+" (NoSchedule taint)")
		default:
			c.Nodes = append(c.Nodes, n.Name)
		}
	}
	sort.Strings(c.Nodes)
	if len(c.Nodes) == 0 {
		msg := fmt.Sprintf("no Ready, schedulable node has kubernetes.io/arch=%s", o.Arch.GOARCH)
		if len(notReady) > 0 {
			msg += "; unusable: " + strings.Join(notReady, ", ")
		}
		if len(otherArch) > 0 {
			msg += "; other nodes: " + strings.Join(otherArch, ", ")
		}
		add("nodes", SeverityError, "%s (run `confrun doctor` to see why, or pass the architecture your nodes report)", msg)
	} else if len(notReady) > 0 {
		add("nodes", SeverityWarning, "%d %s node(s) cannot run tests: %s", len(notReady), o.Arch.GOARCH, strings.Join(notReady, ", "))
	}

	if len(c.Nodes) > 0 {
		switch {
		case o.Prepull == nil && o.RequirePrepull:
			add("prepull", SeverityError, "no prepull report found; run `confrun prepull --arch %s` first", o.Arch.Debian)
		case o.Prepull == nil:
			add("prepull", SeverityWarning, "no prepull report found: images will be pulled during the run (run `confrun prepull --arch %s` to avoid pull timeouts deep in the run)", o.Arch.Debian)
		default:
			if missing := o.Prepull.Missing(c.Nodes); len(missing) > 0 {
				sev := SeverityWarning
				if o.RequirePrepull {
					sev = SeverityError
				}
				add("prepull", sev, "the prepull report does not show %d image(s) on the run's nodes (%s); run `confrun prepull --arch %s` again", len(missing), truncateList(missing, 3), o.Arch.Debian)
			}
		}
	}

	if !o.Resuming {
		pods, err := cs.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: aggregatorSelector})
		switch {
		case err != nil && !apierrors.IsNotFound(err):
			add("earlier-run", SeverityError, "checking namespace %s for an earlier run: %v", o.Namespace, err)
		case err == nil && len(pods.Items) > 0:
			add("earlier-run", SeverityError, "a sonobuoy run already exists in namespace %s (pod %s): reattach with `confrun run --resume`, or delete it with `confrun run --cleanup`", o.Namespace, pods.Items[0].Name)
		}
	}
	return c, fs
}

// HasErrors reports whether any finding stops the run.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasNoScheduleTaint(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && !strings.HasPrefix(t.Key, "node-role.kubernetes.io/") {
			return true
		}
	}
	return false
}

func truncateList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(", and %d more", len(s)-n)
}
