//go:build e2e

package inventory

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/release"
)

// listedRefs are the images of inv that e2e.test --list-images prints.
func listedRefs(inv *Inventory) []string {
	var out []string
	for _, im := range inv.Images {
		if im.Kind == KindE2E || im.Kind == KindCSI {
			out = append(out, im.Ref)
		}
	}
	sort.Strings(out)
	return out
}

func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// The embedded v1.34 list, parsed from manifest.go at generate time, is
// exactly what the lab's e2e.test (built from the same module) prints.
func TestEmbeddedListEqualsE2ETest(t *testing.T) {
	lab := labtest.Require(t)
	r, err := release.Parse(lab.K8sVersion)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ForRelease(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Module != lab.K8sVersion {
		t.Fatalf("embedded data read from %s, the lab runs %s", inv.Module, lab.K8sVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lab.Bin("e2e.test"), "--list-images")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("e2e.test --list-images: %v\n%s", err, stderr.String())
	}
	got, want := sortedLines(string(out)), listedRefs(inv)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("e2e.test --list-images prints %d images, the embedded list has %d:\ne2e.test:\n%s\n\nembedded:\n%s",
			len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// --from-cluster: e2e.test --list-images in a pod of the lab's conformance
// image gives the same inventory as the embedded data.
func TestFromClusterLab(t *testing.T) {
	lab := labtest.Require(t)
	image := ""
	if img, ok := lab.Image("conformance"); ok {
		image = img.Ref
	} else {
		// No conformance image in the lab yet: one with just the lab's
		// e2e.test where the conformance image has it is enough.
		image = pushE2ETestImage(t, lab)
	}
	cs, _, err := (&cliutil.KubeFlags{Kubeconfig: lab.Kubeconfig}).Clientset()
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	inv, err := FromCluster(context.Background(), ClusterOptions{Client: cs, Namespace: "default", Image: image,
		Timeout: 5 * time.Minute, Progress: func(s string) { steps = append(steps, s) }})
	if err != nil {
		t.Fatalf("%v (progress: %v)", err, steps)
	}
	r, _ := release.Parse(lab.K8sVersion)
	want, err := ForRelease(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(listedRefs(inv), "\n") != strings.Join(listedRefs(want), "\n") {
		t.Errorf("from the cluster:\n%v\nembedded:\n%v", listedRefs(inv), listedRefs(want))
	}
	if c, ok := inv.Find("registry.k8s.io/conformance:" + lab.K8sVersion); !ok || !c.HasRole(RoleConformance) {
		t.Errorf("conformance image of the cluster's version missing: %+v", c)
	}
	pods, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=confrun"})
	if err == nil {
		for _, p := range pods.Items {
			if strings.HasPrefix(p.Name, "confrun-list-images-") && p.DeletionTimestamp == nil {
				t.Errorf("pod %s left behind", p.Name)
			}
		}
	}
}

// pushE2ETestImage pushes an amd64 image holding the lab's e2e.test at
// /usr/local/bin/e2e.test and returns its reference.
func pushE2ETestImage(t *testing.T, lab *labtest.Lab) string {
	t.Helper()
	bin := lab.Bin("e2e.test")
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			f, err := os.Open(bin)
			if err == nil {
				defer f.Close()
				for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/", "tmp/"} {
					if err = tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
						break
					}
				}
				if err == nil {
					err = tw.WriteHeader(&tar.Header{Name: "usr/local/bin/e2e.test", Mode: 0o755, Size: st.Size(), Typeflag: tar.TypeReg})
				}
				if err == nil {
					_, err = io.Copy(tw, f)
				}
				if err == nil {
					err = tw.Close()
				}
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := lab.Registry + "/confrun-e2e/list-images:" + lab.K8sVersion
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}
