package sonorun

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/plugin"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/aggregation"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/confrun/confrun/internal/arch"
)

// tarGz returns a gzip-compressed tar of files.
func tarGz[B string | []byte](t *testing.T, files map[string]B) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func writeTarball(t *testing.T, path string, files map[string]string) {
	t.Helper()
	if err := os.WriteFile(path, tarGz(t, files).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExtractE2E(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, TarballFile)
	writeTarball(t, tb, map[string]string{
		"plugins/e2e/results/global/e2e.log":      "the log",
		"plugins/e2e/results/global/junit_01.xml": "<testsuites/>",
		"plugins/e2e/sonobuoy_results.yaml":       "x",
		"podlogs/sonobuoy/e2e.log":                "not this one",
	})
	files, err := ExtractE2E(tb, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(files.E2ELog); string(b) != "the log" {
		t.Fatalf("e2e.log = %q", b)
	}
	if b, _ := os.ReadFile(files.JUnit); string(b) != "<testsuites/>" {
		t.Fatalf("junit = %q", b)
	}
	// A second extraction without force must not overwrite.
	if _, err := ExtractE2E(tb, dir, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second extraction: %v", err)
	}
	if _, err := ExtractE2E(tb, dir, true); err != nil {
		t.Fatalf("forced extraction: %v", err)
	}
}

func TestExtractE2EWithoutJUnitOrLog(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, TarballFile)
	writeTarball(t, tb, map[string]string{"plugins/e2e/results/global/e2e.log": "log only"})
	files, err := ExtractE2E(tb, dir, false)
	if err != nil || files.JUnit != "" || files.E2ELog == "" {
		t.Fatalf("files %+v err %v", files, err)
	}
	writeTarball(t, tb, map[string]string{"meta/run.log": "x"})
	if _, err := ExtractE2E(tb, t.TempDir(), false); err == nil || !strings.Contains(err.Error(), "e2e.log") {
		t.Fatalf("want missing-log error, got %v", err)
	}
}

func TestKeepEarlier(t *testing.T) {
	dir := t.TempDir()
	if kept, err := KeepEarlier(dir, time.Now()); err != nil || kept != "" {
		t.Fatalf("empty dir: %q %v", kept, err)
	}
	for _, f := range []string{E2ELogFile, JUnitFile, "PRODUCT.yaml"} {
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	kept, err := KeepEarlier(dir, time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(kept) != "20261122T010203Z" {
		t.Fatalf("kept in %s", kept)
	}
	if b, _ := os.ReadFile(filepath.Join(kept, E2ELogFile)); string(b) != E2ELogFile {
		t.Fatal("e2e.log not moved")
	}
	if _, err := os.Stat(filepath.Join(dir, "PRODUCT.yaml")); err != nil {
		t.Fatal("PRODUCT.yaml must stay")
	}
	if _, err := os.Stat(filepath.Join(dir, E2ELogFile)); !os.IsNotExist(err) {
		t.Fatal("e2e.log still in place")
	}
}

func aggregatorPod(status aggregation.Status) *corev1.Pod {
	b, _ := json.Marshal(status)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sonobuoy", Namespace: "sonobuoy",
			Labels:      map[string]string{"sonobuoy-component": "aggregator"},
			Annotations: map[string]string{aggregation.StatusAnnotationName: string(b)}},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

func TestObserve(t *testing.T) {
	agg := aggregatorPod(aggregation.Status{Status: "running", Plugins: []aggregation.PluginStatus{{
		Plugin: "e2e", Node: "global", Status: "running",
		Progress: &plugin.ProgressUpdate{Total: 10, Completed: 4, Failures: []string{"[sig-node] x [Conformance]"}, Message: "running y"},
	}}})
	e2e := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sonobuoy-e2e-job", Labels: map[string]string{"sonobuoy-plugin": "e2e"}},
		Spec:       corev1.PodSpec{NodeName: "n2"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "e2e", Image: "reg/conf:v1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}},
			{Name: "sonobuoy-worker", Image: "reg/sono:v1", ImageID: "reg/sono@sha256:abc", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}},
	}
	u, found := observe([]*corev1.Pod{e2e, agg})
	if !found || u.Phase != "running" || u.Done() {
		t.Fatalf("update %+v", u)
	}
	if u.Progress.Completed != 4 || len(u.Progress.Failures) != 1 {
		t.Fatalf("progress %+v", u.Progress)
	}
	if len(u.Problems) != 1 || !strings.Contains(u.Problems[0], "ErrImagePull: not found") {
		t.Fatalf("problems %v", u.Problems)
	}
	if u.Images["reg/sono:v1"] != "reg/sono@sha256:abc" || strings.Join(u.Nodes, ",") != "n1,n2" {
		t.Fatalf("images %v nodes %v", u.Images, u.Nodes)
	}
	done, _ := observe([]*corev1.Pod{aggregatorPod(aggregation.Status{Status: "complete"})})
	if !done.Done() {
		t.Fatal("complete status must be done")
	}
}

func TestWatchFollowsUntilComplete(t *testing.T) {
	cs := fake.NewClientset(aggregatorPod(aggregation.Status{Status: "running"}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := make(chan string, 10)
	watching := make(chan struct{})
	var once sync.Once
	cs.PrependWatchReactor("pods", func(a clienttesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	go func() {
		<-watching // the fake drops events sent before the informer watches
		<-seen     // first observation: running
		p := aggregatorPod(aggregation.Status{Status: "complete", Plugins: []aggregation.PluginStatus{{Plugin: "e2e", ResultStatus: "passed"}}})
		cs.CoreV1().Pods("sonobuoy").Update(ctx, p, metav1.UpdateOptions{})
	}()
	u, err := Watch(ctx, cs, "sonobuoy", func(u Update) { seen <- u.Phase })
	if err != nil {
		t.Fatal(err)
	}
	if u.Phase != "complete" || u.ResultStatus != "passed" {
		t.Fatalf("final %+v", u)
	}
	if ctx.Err() != nil {
		t.Fatal("Watch returned only when its context expired: it must return as soon as the run is done")
	}
}

func node(name, goarch string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/arch": goarch}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
}

type missingPrepull []string

func (m missingPrepull) Missing([]string) []string { return m }

func TestPreflight(t *testing.T) {
	mk := func(objs ...any) *fake.Clientset {
		var ros []any
		ros = append(ros, objs...)
		cs := fake.NewClientset()
		for _, o := range ros {
			switch o := o.(type) {
			case *corev1.Node:
				cs.Tracker().Add(o)
			case *corev1.Pod:
				cs.Tracker().Add(o)
			}
		}
		cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.34.4"}
		return cs
	}
	mips := arch.MustParse("mips64el")
	ctx := context.Background()

	c, fs := Preflight(ctx, mk(node("m1", "mips64le", true), node("m2", "mips64le", false), node("a1", "amd64", true)),
		PreflightOptions{Arch: mips, Namespace: "sonobuoy", Prepull: missingPrepull{}})
	if HasErrors(fs) || strings.Join(c.Nodes, ",") != "m1" || c.Release.String() != "v1.34" {
		t.Fatalf("cluster %+v findings %v", c, fs)
	}
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "m2 (not Ready)") {
		t.Fatalf("want one warning about m2, got %v", fs)
	}

	_, fs = Preflight(ctx, mk(node("a1", "amd64", true)), PreflightOptions{Arch: mips, Namespace: "sonobuoy"})
	if !HasErrors(fs) || !strings.Contains(fs[0].Message, "kubernetes.io/arch=mips64le") || !strings.Contains(fs[0].Message, "a1=amd64") {
		t.Fatalf("findings %v", fs)
	}

	_, fs = Preflight(ctx, mk(node("m1", "mips64le", true), aggregatorPod(aggregation.Status{})),
		PreflightOptions{Arch: mips, Namespace: "sonobuoy", Prepull: missingPrepull{"m1: agnhost"}, RequirePrepull: true})
	var checks []string
	for _, f := range fs {
		checks = append(checks, string(f.Severity)+":"+f.Check)
	}
	if strings.Join(checks, " ") != "error:prepull error:earlier-run" {
		t.Fatalf("findings %v", fs)
	}
}

// splatStream builds what `sonobuoy splat` writes: a gzip-compressed tar
// holding the results tarball(s).
func splatStream(t *testing.T, files map[string][]byte) *bytes.Buffer {
	t.Helper()
	return tarGz(t, files)
}

func TestSaveTarballFromSplatStream(t *testing.T) {
	dir := t.TempDir()
	inner := filepath.Join(dir, "inner.tar.gz")
	writeTarball(t, inner, map[string]string{"plugins/e2e/results/global/e2e.log": "log", "plugins/e2e/results/global/junit_01.xml": "<x/>"})
	innerBytes, _ := os.ReadFile(inner)
	stream := splatStream(t, map[string][]byte{"tmp/sonobuoy/202611220222_sonobuoy_0123.tar.gz": innerBytes})
	dest := filepath.Join(dir, TarballFile)
	if err := SaveTarball(context.Background(), stream, dest, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(got, innerBytes) {
		t.Fatal("saved tarball differs from the one in the stream")
	}
	files, err := ExtractE2E(dest, dir, false)
	if err != nil || files.E2ELog == "" || files.JUnit == "" {
		t.Fatalf("%+v %v", files, err)
	}

	empty := splatStream(t, map[string][]byte{"tmp/sonobuoy/notes.txt": []byte("x")})
	if err := SaveTarball(context.Background(), empty, filepath.Join(dir, "other.tar.gz"), false); !errors.Is(err, errNoTarball) {
		t.Fatalf("stream without tarball: %v", err)
	}
	if err := SaveTarball(context.Background(), strings.NewReader("not gzip"), filepath.Join(dir, "x.tar.gz"), false); err == nil {
		t.Fatal("a stream that is not gzip must fail")
	}
}
