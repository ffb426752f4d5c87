package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/nodecheck"
)

func pinnedHelper() helperimage.Pinned {
	return helperimage.Pinned{Image: "reg:5000/confrun/helper@sha256:idx", Index: true, ByArch: map[string]string{
		"linux/amd64": "reg:5000/confrun/helper@sha256:amd", "linux/mips64le": "reg:5000/confrun/helper@sha256:mips"}}
}

// TestPodSpecPinsTheNodeArch: the checker is the node's own architecture's
// image by digest, and a second, equally locked-down container runs the
// multi-arch index to see what the runtime picks.
func TestPodSpecPinsTheNodeArch(t *testing.T) {
	o := &Options{Namespace: "confrun", Helper: pinnedHelper(), Timeout: time.Minute}
	p := o.PodSpec("lab-mips-1", arch.MustParse("mips64el"))
	cs := p.Spec.Containers
	if len(cs) != 2 || cs[0].Image != "reg:5000/confrun/helper@sha256:mips" {
		t.Fatalf("containers %+v", cs)
	}
	pr := cs[1]
	if pr.Name != probeContainer || pr.Image != "reg:5000/confrun/helper@sha256:idx" || strings.Join(pr.Args, " ") != "version -o json" ||
		len(pr.VolumeMounts) != 0 || pr.SecurityContext == nil || *pr.SecurityContext.RunAsUser == 0 || *pr.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("probe container %+v", pr)
	}
	// An architecture the helper was not pinned for runs the index itself,
	// and then there is nothing to probe.
	if cs := o.PodSpec("n", arch.MustParse("riscv64")).Spec.Containers; len(cs) != 1 || cs[0].Image != o.Helper.Image {
		t.Errorf("unpinned arch: %+v", cs)
	}
}

func podWith(statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "doctor-x", Namespace: "confrun"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: statuses}}
}

func terminated(name string, code int32, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", Message: msg}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "pulling failed"}}}
}

func running(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

// TestWaitDoneWaitsForTheProbe: a doctor container that is done is not
// enough while the probe still runs; a probe that cannot start does not
// hold the doctor up; a doctor container that cannot start is an error.
func TestWaitDoneWaitsForTheProbe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The pod is listed with the probe running; only once the watch is
	// open does the probe end. A wait that returned on the listed pod
	// returns a running probe.
	c := fake.NewSimpleClientset(podWith(terminated(container, 0, ""), running(probeContainer)))
	watching := make(chan struct{})
	c.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := c.Tracker().Watch(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace())
		close(watching)
		return true, w, err
	})
	done := make(chan *corev1.Pod, 1)
	go func() {
		p, err := waitDone(ctx, c, "confrun", "doctor-x")
		if err != nil {
			t.Error(err)
		}
		done <- p
	}()
	select {
	case <-watching:
		if _, err := c.CoreV1().Pods("confrun").UpdateStatus(ctx, podWith(terminated(container, 0, ""), terminated(probeContainer, 0, "")), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	case p := <-done:
		done <- p // returned on the listed pod, without watching
	}
	if p := <-done; p == nil || containerStatus(p, probeContainer).State.Terminated == nil {
		t.Errorf("waitDone returned while the probe was running: %+v", p.Status.ContainerStatuses)
	}

	c = fake.NewSimpleClientset(podWith(terminated(container, 0, ""), waiting(probeContainer, "ErrImagePull")))
	if _, err := waitDone(ctx, c, "confrun", "doctor-x"); err != nil {
		t.Errorf("a probe that cannot be pulled: %v", err)
	}
	c = fake.NewSimpleClientset(podWith(waiting(container, "ImagePullBackOff"), running(probeContainer)))
	if _, err := waitDone(ctx, c, "confrun", "doctor-x"); err == nil || !strings.Contains(err.Error(), "ImagePullBackOff") {
		t.Errorf("a doctor container that cannot be pulled: %v", err)
	}
}

func TestProbeCheck(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset()
	mips := node("lab-mips-1", "mips64le", "containerd://1.6.20", true)
	const idx = "reg:5000/confrun/helper@sha256:idx"

	// Exit 0, but the fake client's log is "fake logs": no platform.
	p := readProbe(ctx, c, podWith(terminated(probeContainer, 0, "")), idx, nil)
	if p.Platform != "" || !strings.Contains(p.Failure, "printed no platform") {
		t.Errorf("log without a platform: %+v", p)
	}
	if ch := p.check(mips); ch.Status != nodecheck.StatusWarn || !strings.Contains(ch.Evidence, "unknown") {
		t.Errorf("unknown platform: %+v", ch)
	}
	p = readProbe(ctx, c, podWith(terminated(probeContainer, 128, "exec /confrun: exec format error")), idx, nil)
	if !p.ExecFormat {
		t.Errorf("exec format error not seen: %+v", p)
	}
	if ch := p.check(mips); ch.Status != nodecheck.StatusFail || !strings.Contains(ch.Fix, "confrun prepull --mode node") {
		t.Errorf("exec format error: %+v", ch)
	}
	if p := readProbe(ctx, c, podWith(waiting(probeContainer, "ErrImagePull")), idx, nil); !strings.Contains(p.Failure, "ErrImagePull") {
		t.Errorf("not pulled: %+v", p)
	}
	nomatch := waiting(probeContainer, "ErrImagePull")
	nomatch.State.Waiting.Message = `rpc error: code = NotFound desc = failed to pull and unpack image "reg:5000/confrun/helper@sha256:idx": no match for platform in manifest: not found`
	p = readProbe(ctx, c, podWith(nomatch), idx, []string{"linux/mips64le"})
	if ch := p.check(mips); !p.NoMatch || ch.Status != nodecheck.StatusWarn || !strings.Contains(ch.Evidence, "no image for its own platform") ||
		!strings.Contains(ch.Evidence, "which holds linux/mips64le") {
		t.Errorf("index without the runtime's platform: %+v %+v", p, ch)
	}
	if p := readProbe(ctx, c, podWith(), idx, nil); !strings.Contains(p.Failure, "no status") {
		t.Errorf("no status: %+v", p)
	}

	emulated := &platformProbe{Index: idx, Platform: "linux/amd64"}
	if ch := emulated.check(mips); ch.Status != nodecheck.StatusWarn || !strings.Contains(ch.Evidence, "ran as linux/amd64 on this linux/mips64le node") {
		t.Errorf("runtime picks its host: %+v", ch)
	}
	native := &platformProbe{Index: idx, Platform: "linux/mips64le"}
	if ch := native.check(mips); ch.Status != nodecheck.StatusOK {
		t.Errorf("runtime picks the node's platform: %+v", ch)
	}
	// A binary reports GOOS/GOARCH, without the node's variant (arm/v7).
	armhf := &platformProbe{Index: idx, Platform: "linux/arm"}
	if ch := armhf.check(node("pi", "arm", "containerd://2.1", true)); ch.Status != nodecheck.StatusOK {
		t.Errorf("armhf node: %+v", ch)
	}
}
