package inventory

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/confrun/confrun/internal/release"
)

// FromList builds the inventory of release r from the output of
// `e2e.test --list-images` (one reference per line, in any order) read from
// module (the conformance image's version). Keys, kinds and roles come from
// the embedded data of r, or of the newest older release when confrun has
// none for r; a reference unknown there gets the key whose default
// registry is its longest prefix.
func FromList(r release.Release, module string, list io.Reader, o Options) (*Inventory, error) {
	base := r
	if release.Check(r) != nil {
		base = Nearest(r)
	}
	d, err := release.Images(base)
	if err != nil {
		return nil, err
	}
	known := map[string]release.UpstreamImage{}
	for _, u := range d.Images {
		if u.Kind == release.ImageKindE2E || u.Kind == release.ImageKindCSI {
			known[u.Ref] = u
		}
	}
	var images []release.UpstreamImage
	seen := map[string]bool{}
	sc := bufio.NewScanner(list)
	for sc.Scan() {
		ref := strings.TrimSpace(sc.Text())
		if ref == "" || seen[ref] {
			continue
		}
		if strings.ContainsAny(ref, " \t") || !strings.Contains(ref, ":") {
			return nil, fmt.Errorf("e2e.test --list-images printed %q, which is not an image reference", ref)
		}
		seen[ref] = true
		u, ok := known[ref]
		if !ok {
			u = release.UpstreamImage{Ref: ref, Kind: release.ImageKindE2E, RegistryKey: keyOf(d, ref), Source: "e2e.test --list-images"}
		}
		images = append(images, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the image list: %w", err)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("e2e.test --list-images printed no images")
	}
	// Upstream prints a Go map: keep the embedded order where known.
	order := map[string]int{}
	for i, u := range d.Images {
		if _, ok := order[u.Ref]; !ok {
			order[u.Ref] = i
		}
	}
	sort.SliceStable(images, func(i, j int) bool {
		oi, iok := order[images[i].Ref]
		oj, jok := order[images[j].Ref]
		if iok != jok {
			return iok
		}
		if !iok {
			return images[i].Ref < images[j].Ref
		}
		return oi < oj
	})
	return build(r, module, d, images, o)
}

// keyOf returns the repo-list key whose default registry is the longest
// prefix of ref (ties in the order upstream's ReplaceRegistryInImageURL
// checks them).
func keyOf(d *release.ImageData, ref string) string {
	best, bestLen := "", 0
	order := d.ReplaceOrder
	for _, k := range d.RegistryKeys {
		order = append(order, k.Key)
	}
	for _, key := range order {
		for _, k := range d.RegistryKeys {
			if k.Key == key && strings.HasPrefix(ref, k.Default+"/") && len(k.Default) > bestLen {
				best, bestLen = key, len(k.Default)
			}
		}
	}
	return best
}

// ClusterOptions say how to ask a cluster for its image list.
type ClusterOptions struct {
	Options
	// Client talks to the cluster.
	Client kubernetes.Interface
	// Namespace the pod runs in (it must exist).
	Namespace string
	// Image is the conformance image to run e2e.test from. Default:
	// registry.k8s.io/conformance:<server version>.
	Image string
	// NodeArch, if set, schedules the pod on a node of that GOARCH.
	NodeArch string
	// Timeout bounds the whole exchange (default 5 minutes).
	Timeout time.Duration
	// Progress, if set, is told what is happening.
	Progress func(msg string)
}

// FromCluster runs `e2e.test --list-images` in a pod of the cluster's own
// conformance image, for clusters newer than confrun's embedded data, and
// builds the inventory from its output. The pod is deleted afterwards.
func FromCluster(ctx context.Context, o ClusterOptions) (*Inventory, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	sv, err := o.Client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("asking the cluster for its version: %w", err)
	}
	r, err := release.Parse(sv.GitVersion)
	if err != nil {
		return nil, fmt.Errorf("the cluster reports version %q: %w", sv.GitVersion, err)
	}
	version := strings.SplitN(strings.SplitN(sv.GitVersion, "+", 2)[0], "-", 2)[0]
	if o.Image == "" {
		o.Image = "registry.k8s.io/conformance:" + version
	}
	if o.KubernetesVersion == "" {
		o.KubernetesVersion = version
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	pods := o.Client.CoreV1().Pods(o.Namespace)
	pod := listImagesPod(o)
	say("starting a pod of %s in namespace %s", o.Image, o.Namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating the list-images pod in namespace %s: %w", o.Namespace, err)
	}
	defer func() {
		// A fresh context: the pod goes even when ctx was cancelled.
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_ = pods.Delete(dctx, created.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	phase, msg, err := waitDone(ctx, o.Client, o.Namespace, created.Name, created.ResourceVersion, say)
	if err != nil {
		return nil, err
	}
	logs, err := pods.GetLogs(created.Name, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the output of pod %s: %w", created.Name, err)
	}
	defer logs.Close()
	if phase != corev1.PodSucceeded {
		b, _ := io.ReadAll(io.LimitReader(logs, 4096))
		return nil, fmt.Errorf("e2e.test --list-images in %s failed (%s): %s", o.Image, msg, strings.TrimSpace(string(b)))
	}
	return FromList(r, version, logs, o.Options)
}

func listImagesPod(o ClusterOptions) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "confrun-list-images-", Labels: map[string]string{"app.kubernetes.io/managed-by": "confrun"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{
				Name:            "list-images",
				Image:           o.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"/usr/local/bin/e2e.test", "--list-images"},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					RunAsNonRoot:             ptr.To(true),
					RunAsUser:                ptr.To[int64](65534),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
	if o.NodeArch != "" {
		p.Spec.NodeSelector = map[string]string{"kubernetes.io/arch": o.NodeArch, "kubernetes.io/os": "linux"}
	}
	return p
}

// waitDone watches the pod until it has finished and returns its phase.
func waitDone(ctx context.Context, cs kubernetes.Interface, ns, name, rv string, say func(string, ...any)) (corev1.PodPhase, string, error) {
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv,
	})
	if err != nil {
		return "", "", fmt.Errorf("watching pod %s: %w", name, err)
	}
	defer w.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for pod %s/%s (last state: %s): %w", ns, name, last, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return "", "", fmt.Errorf("the watch of pod %s/%s ended early (last state: %s)", ns, name, last)
			}
			if ev.Type == watch.Error {
				return "", "", fmt.Errorf("watching pod %s/%s: %v", ns, name, ev.Object)
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if s := podState(pod); s != last {
				last = s
				say("pod %s: %s", name, s)
			}
			switch pod.Status.Phase {
			case corev1.PodSucceeded, corev1.PodFailed:
				return pod.Status.Phase, last, nil
			}
			if pullFailed(pod) {
				return "", "", fmt.Errorf("pod %s/%s cannot get its image: %s (map the conformance image, or pass --conformance-image)", ns, name, last)
			}
		}
	}
}

// podState describes a pod in a few words, with the kubelet's reason when a
// container waits (ErrImagePull, ImagePullBackOff).
func podState(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			if w.Message != "" {
				return w.Reason + ": " + w.Message
			}
			return w.Reason
		}
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("%s (exit %d)", t.Reason, t.ExitCode)
		}
	}
	return string(p.Status.Phase)
}

// pullFailed reports whether the kubelet gave up pulling the image.
func pullFailed(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull":
				return true
			}
		}
	}
	return false
}
