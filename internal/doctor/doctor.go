// Package doctor runs nodecheck on every node of a cluster: one short-lived
// pod per node, running the confrun helper image (which holds confrun for
// the node's architecture) with the node's /proc, /sys, /boot and /lib
// (for /lib/modules) mounted read-only. Each pod prints its report as JSON;
// doctor collects it from the pod's log, deletes the pod, and adds what only
// the API knows (runtime version, kubelet configuration, architecture labels,
// image storage).
//
// The pods are not privileged: they run as nobody with every capability
// dropped. They use the host network (so /proc/net, the hostname and the
// resolv.conf they see are the node's) and hostPath volumes, which the
// privileged Pod Security level allows; doctor labels a namespace it
// creates accordingly.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/nodecheck"
	"github.com/confrun/confrun/internal/release"
)

// Labels doctor puts on its pods.
const (
	LabelApp   = "app.kubernetes.io/name"
	AppName    = "confrun-doctor"
	LabelNode  = "confrun.io/node"
	container  = "doctor"
	hostRoot   = "/host"
	archLabel  = "kubernetes.io/arch"
	nobody     = 65534
	defaultTTL = 5 * time.Minute
)

// Options say which cluster to check and how.
type Options struct {
	Client kubernetes.Interface
	// Namespace the pods run in; created (Pod Security level privileged)
	// when missing.
	Namespace string
	// Helper is the confrun helper image (see internal/helperimage),
	// pinned to each architecture's image by helperimage.Pin: every node
	// runs the checker built for it, whatever platform its runtime would
	// pick out of the index. When the helper is an index, a second
	// container runs the index itself to learn that platform.
	Helper helperimage.Pinned
	// ImageMap, when set, is the run's image map: doctor checks that its
	// images hold the architecture of the nodes that will pull them, and
	// that those nodes have room for them (unless ImageBytes says how much).
	ImageMap *imagemap.Map
	// ImageMapPath names the map in the evidence.
	ImageMapPath string
	// Registry reads the map's registries; required with ImageMap.
	Registry *registry.Client
	// CNI is "calico", "flannel", "cilium", "none", or "" to detect it
	// from the cluster's DaemonSets.
	CNI string
	// Release is checked against; zero means the server's version.
	Release release.Release
	// Nodes limits the check to these node names; empty means all.
	Nodes []string
	// Timeout bounds each node's pod, from creation to its report.
	Timeout time.Duration
	// APIServer is the URL node pods compare their clock with; default
	// the endpoint of the default/kubernetes Service, else FallbackAPIServer.
	APIServer         string
	FallbackAPIServer string
	MaxClockSkew      time.Duration
	// ImageBytes is the image data every node must hold (0: thresholds only).
	ImageBytes uint64
	// OnNode is called when a node's report is in (for progress), never
	// concurrently; may be nil.
	OnNode func(node string, r *nodecheck.Report)
	// Log receives lines about what doctor does; may be nil.
	Log io.Writer

	// proxy reaches kubelets; default through the apiserver (tests fake it).
	proxy proxyFunc
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// SelectNodes returns the cluster's nodes, limited to names when given.
func SelectNodes(ctx context.Context, c kubernetes.Interface, names []string) ([]corev1.Node, error) {
	list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	nodes := list.Items
	if len(names) > 0 {
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		nodes = nil
		for _, n := range list.Items {
			if want[n.Name] {
				nodes = append(nodes, n)
				delete(want, n.Name)
			}
		}
		if len(want) > 0 {
			var missing []string
			for n := range want {
				missing = append(missing, n)
			}
			sort.Strings(missing)
			return nil, fmt.Errorf("no such node: %s", strings.Join(missing, ", "))
		}
	}
	if len(nodes) == 0 {
		return nil, errors.New("the cluster has no nodes")
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes, nil
}

// NodeArches returns the distinct architectures of the nodes (their
// kubernetes.io/arch label, else the kubelet's reported architecture).
func NodeArches(nodes []corev1.Node) ([]arch.Arch, error) {
	var out []arch.Arch
	seen := map[string]bool{}
	for i := range nodes {
		a, err := nodeArch(&nodes[i])
		if err != nil {
			return nil, err
		}
		if !seen[a.Platform()] {
			seen[a.Platform()] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// Run checks every selected node and returns one report per node. A node
// whose pod fails gets a report with Error set; Run itself fails only when
// the cluster cannot be used at all.
func Run(ctx context.Context, o Options) (*nodecheck.Result, error) {
	if o.Helper.Image == "" {
		return nil, errors.New("no helper image given")
	}
	if o.ImageMap != nil && o.Registry == nil {
		return nil, errors.New("an image map needs a registry client")
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTTL
	}
	if o.proxy == nil {
		o.proxy = apiProxy(o.Client)
	}
	nodes, err := SelectNodes(ctx, o.Client, o.Nodes)
	if err != nil {
		return nil, err
	}
	if o.Release.IsZero() {
		if o.Release, err = serverRelease(o.Client); err != nil {
			return nil, err
		}
	}
	cniCheck := o.detectCNI(ctx)
	var mapped *mappedImages
	if o.ImageMap != nil {
		all := nodes
		if len(o.Nodes) > 0 {
			if all, err = SelectNodes(ctx, o.Client, nil); err != nil {
				return nil, err
			}
		}
		if mapped, err = o.checkImageMap(ctx, all); err != nil {
			return nil, err
		}
	}
	if err := ensureNamespace(ctx, o.Client, o.Namespace); err != nil {
		return nil, err
	}
	if o.APIServer == "" {
		o.APIServer = apiserverEndpoint(ctx, o.Client)
		if o.APIServer == "" {
			o.APIServer = o.FallbackAPIServer
		}
	}
	o.logf("checking %d nodes with %s in namespace %s (Kubernetes %s, CNI %s)", len(nodes), o.Helper.Image, o.Namespace, o.Release, cniName(o.CNI))

	res := &nodecheck.Result{Nodes: make([]nodecheck.Report, len(nodes))}
	var wg sync.WaitGroup
	var mu sync.Mutex // serialises OnNode
	for i := range nodes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n := &nodes[i]
			r, probe, err := o.runNode(ctx, n)
			if err != nil {
				r = &nodecheck.Report{Node: n.Name, Time: time.Now().UTC(), Error: err.Error()}
			}
			r.Node = n.Name
			r.Add(cniCheck)
			need, needWhy := o.ImageBytes, ""
			if need == 0 && mapped != nil && mapped.forNode(n) {
				need, needWhy = mapped.need(n)
			}
			for _, c := range clusterChecks(ctx, o.proxy, n, r, o.Release, need) {
				if c.Name == "image storage" && needWhy != "" {
					c.Evidence += " (" + needWhy + ")"
				}
				r.Add(c)
			}
			if probe != nil {
				r.Add(probe.check(n))
			}
			if mapped != nil {
				r.Add(mapped.check(n))
			}
			res.Nodes[i] = *r
			if o.OnNode != nil {
				mu.Lock()
				o.OnNode(n.Name, r)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

func cniName(c string) string {
	if c == "" {
		return "none"
	}
	return c
}

func serverRelease(c kubernetes.Interface) (release.Release, error) {
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		return release.Release{}, fmt.Errorf("asking the apiserver for its version: %w", err)
	}
	r, err := release.Parse(v.GitVersion)
	if err != nil {
		return release.Release{}, fmt.Errorf("the apiserver reports version %q: %w (pass --kubernetes-version)", v.GitVersion, err)
	}
	return r, nil
}

// detectCNI fills o.CNI from the cluster when it is empty and returns the
// check that says what was used.
func (o *Options) detectCNI(ctx context.Context) nodecheck.Check {
	c := nodecheck.Check{Area: nodecheck.AreaCNI, Name: "CNI", Status: nodecheck.StatusOK}
	switch o.CNI {
	case "none":
		o.CNI = ""
		c.Evidence = "--cni none: only the Kubernetes and kube-proxy kernel options are checked"
		return c
	case "":
	default:
		c.Evidence = "--cni " + o.CNI
		return c
	}
	ds, err := o.Client.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		c.Status = nodecheck.StatusWarn
		c.Evidence = "cannot list DaemonSets to detect the CNI: " + err.Error()
		c.Fix = "pass --cni calico|flannel|cilium"
		return c
	}
	for _, d := range ds.Items {
		text := d.Name
		for _, ct := range d.Spec.Template.Spec.Containers {
			text += " " + ct.Image
		}
		for _, name := range nodecheck.CNINames() {
			if strings.Contains(strings.ToLower(text), name) {
				o.CNI = name
				c.Evidence = fmt.Sprintf("detected %s from DaemonSet %s/%s", name, d.Namespace, d.Name)
				return c
			}
		}
	}
	c.Evidence = fmt.Sprintf("no Calico, Flannel or Cilium DaemonSet found (%d DaemonSets): only the Kubernetes and kube-proxy kernel options are checked", len(ds.Items))
	c.Fix = "pass --cni calico|flannel|cilium to check a CNI you are about to install"
	return c
}

func ensureNamespace(ctx context.Context, c kubernetes.Interface, ns string) error {
	_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("looking up namespace %s: %w", ns, err)
	}
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns,
		Labels: map[string]string{
			// hostPath volumes and the host network need the privileged
			// level; the pods themselves are not privileged.
			"pod-security.kubernetes.io/enforce": "privileged",
			"app.kubernetes.io/managed-by":       "confrun",
		},
	}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return nil
}

// apiserverEndpoint returns https://<ip>:<port> of the default/kubernetes
// Service's endpoint: the address nodes reach the apiserver at.
func apiserverEndpoint(ctx context.Context, c kubernetes.Interface) string {
	list, err := c.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil {
		return ""
	}
	for _, s := range list.Items {
		port := int32(0)
		for _, p := range s.Ports {
			if p.Port != nil && (p.Name == nil || *p.Name == "https") {
				port = *p.Port
			}
		}
		for _, e := range s.Endpoints {
			if port != 0 && len(e.Addresses) > 0 {
				return "https://" + net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port)))
			}
		}
	}
	return ""
}

// PodSpec returns the pod that checks node, of architecture a: the helper
// image pinned to a, plus the probe container when the helper is an index.
// It is exported so that its shape can be reviewed and tested without a
// cluster.
func (o *Options) PodSpec(node string, a arch.Arch) *corev1.Pod {
	hostPath := func(name, path string) (corev1.Volume, corev1.VolumeMount) {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}},
			corev1.VolumeMount{Name: name, MountPath: hostRoot + path, ReadOnly: true}
	}
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	// /lib rather than /lib/modules: a hostPath that does not exist is
	// created by the runtime, and doctor must not change a node that has no
	// module tree. /lib exists everywhere (on merged-/usr systems as a link
	// to usr/lib, which the runtime resolves).
	for _, p := range [][2]string{{"proc", "/proc"}, {"sys", "/sys"}, {"boot", "/boot"}, {"lib", "/lib"}} {
		v, m := hostPath(p[0], p[1])
		vols, mounts = append(vols, v), append(mounts, m)
	}
	args := []string{"doctor", "--local", "--root", hostRoot, "-o", "json",
		"--node-name", node, "--pod-uid", "$(POD_UID)", "--resolv-conf", "/etc/resolv.conf",
		"--kubernetes-version", o.Release.String(), "--cni", cniName(o.CNI)}
	if o.APIServer != "" {
		args = append(args, "--apiserver", o.APIServer)
	}
	if o.MaxClockSkew > 0 {
		args = append(args, "--max-clock-skew", o.MaxClockSkew.String())
	}
	if o.ImageBytes > 0 {
		args = append(args, "--image-bytes", strconv.FormatUint(o.ImageBytes, 10))
	}
	no, id := false, int64(nobody)
	deadline := int64(o.Timeout / time.Second)
	locked := func() *corev1.SecurityContext {
		return &corev1.SecurityContext{
			RunAsUser:                &id,
			RunAsGroup:               &id,
			AllowPrivilegeEscalation: &no,
			ReadOnlyRootFilesystem:   func() *bool { t := true; return &t }(),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
	}
	containers := []corev1.Container{{
		Name:            container,
		Image:           o.Helper.For(a),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            args,
		Env: []corev1.EnvVar{{Name: "POD_UID", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}}},
		VolumeMounts:    mounts,
		SecurityContext: locked(),
	}}
	if o.probes(a) {
		containers = append(containers, corev1.Container{
			Name:            probeContainer,
			Image:           o.Helper.Image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            []string{"version", "-o", "json"},
			SecurityContext: locked(),
		})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: AppName + "-",
			Namespace:    o.Namespace,
			Labels:       map[string]string{LabelApp: AppName, LabelNode: labelValue(node)},
		},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			RestartPolicy:                corev1.RestartPolicyNever,
			HostNetwork:                  true,
			DNSPolicy:                    corev1.DNSDefault,
			AutomountServiceAccountToken: &no,
			ActiveDeadlineSeconds:        &deadline,
			Tolerations:                  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Volumes:                      vols,
			Containers:                   containers,
		},
	}
}

// probes reports whether pods for nodes of architecture a get the probe
// container: when the helper is an index and a runs a pinned image.
func (o *Options) probes(a arch.Arch) bool {
	return o.Helper.Index && o.Helper.For(a) != o.Helper.Image
}

// labelValue makes a node name usable as a label value (63 characters).
func labelValue(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

// runNode runs the doctor pod on n and returns its report and, when the
// pod had one, the probe container's outcome.
func (o *Options) runNode(ctx context.Context, n *corev1.Node) (*nodecheck.Report, *platformProbe, error) {
	a, err := nodeArch(n)
	if err != nil {
		return nil, nil, err
	}
	pods := o.Client.CoreV1().Pods(o.Namespace)
	pod, err := pods.Create(ctx, o.PodSpec(n.Name, a), metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the doctor pod: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		zero := int64(0)
		if err := pods.Delete(dctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			o.logf("deleting pod %s/%s: %v", o.Namespace, pod.Name, err)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	final, err := waitDone(wctx, o.Client, o.Namespace, pod.Name)
	// On its deadline the wait says "timed out waiting for the condition"
	// (wait.ErrWaitTimeout), not context.DeadlineExceeded.
	late := err != nil && (wctx.Err() != nil || errors.Is(err, watchtools.ErrWatchClosed))
	switch {
	case late && ctx.Err() == nil && doctorDone(final):
		// Only the probe is late: the report is there.
	case late:
		return nil, nil, fmt.Errorf("pod %s/%s did not finish within %s (%s)", o.Namespace, pod.Name, o.Timeout, podState(final))
	case err != nil:
		return nil, nil, err
	}
	var probe *platformProbe
	if o.probes(a) {
		probe = readProbe(ctx, o.Client, final, o.Helper.Image, o.Helper.Platforms)
	}
	logs, err := pods.GetLogs(pod.Name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return nil, probe, fmt.Errorf("reading the report from pod %s/%s's log: %w (%s)", o.Namespace, pod.Name, err, podState(final))
	}
	r, err := parseReport(logs, final)
	return r, probe, err
}

// parseReport reads the JSON report a doctor pod printed.
func parseReport(logs []byte, pod *corev1.Pod) (*nodecheck.Report, error) {
	var res nodecheck.Result
	start := strings.IndexByte(string(logs), '{')
	if start < 0 || json.Unmarshal(logs[start:], &res) != nil || len(res.Nodes) != 1 {
		tail := strings.TrimSpace(string(logs))
		if len(tail) > 600 {
			tail = "..." + tail[len(tail)-600:]
		}
		return nil, fmt.Errorf("the doctor pod printed no report (%s): %s", podState(pod), tail)
	}
	return &res.Nodes[0], nil
}

func podState(p *corev1.Pod) string {
	if p == nil {
		return "pod state unknown"
	}
	s := "phase " + string(p.Status.Phase)
	if cs := containerStatus(p, container); cs != nil {
		switch {
		case cs.State.Waiting != nil:
			s += fmt.Sprintf(", container waiting: %s %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			s += fmt.Sprintf(", container exited %d (%s)", cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
		}
	}
	return s
}

// doctorDone reports whether the doctor container of pod p has ended.
func doctorDone(p *corev1.Pod) bool {
	cs := containerStatus(p, container)
	return cs != nil && cs.State.Terminated != nil
}

// fatalWaiting are container waiting reasons that will not resolve alone.
func fatalWaiting(reason string) bool {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return true
	}
	return false
}

// waitDone waits until the doctor container has terminated and the probe
// container, if any, has terminated or cannot start; it returns the last
// pod seen. A doctor container that cannot start is an error.
func waitDone(ctx context.Context, c kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListFunc: func(opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = sel
			return c.CoreV1().Pods(ns).List(ctx, opts)
		},
		WatchFunc: func(opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = sel
			return c.CoreV1().Pods(ns).Watch(ctx, opts)
		},
	}
	var last *corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("pod %s/%s was deleted before it finished", ns, name)
		}
		last = p
		switch p.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return true, nil
		}
		if len(p.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		for _, cs := range p.Status.ContainerStatuses {
			w := cs.State.Waiting
			switch {
			case cs.State.Terminated != nil:
			case w != nil && fatalWaiting(w.Reason) && cs.Name == probeContainer:
			case w != nil && fatalWaiting(w.Reason):
				return false, fmt.Errorf("pod %s/%s cannot start: %s: %s", ns, name, w.Reason, w.Message)
			default:
				return false, nil
			}
		}
		return true, nil
	})
	return last, err
}
