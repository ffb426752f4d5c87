package nodepull

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	"github.com/containerd/containerd/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	manifestType = "application/vnd.oci.image.manifest.v1+json"
	indexType    = "application/vnd.oci.image.index.v1+json"
)

// fakeRuntime is containerd with its CRI plugin in memory: one image store
// (name -> record) shared by the Images API and CRI, as in containerd where
// CRI follows image events.
type fakeRuntime struct {
	mu      sync.Mutex
	images  map[string]*imagesapi.Image
	blobs   map[string][]byte
	remote  map[string]string // pull ref -> error message (missing in the registry)
	pulls   []string
	creates int
	badNS   bool
	// lag makes CRI miss a name created through the Images API for that
	// many ImageStatus calls (containerd's events are asynchronous).
	lag    int
	missed map[string]int
}

func newFake() *fakeRuntime {
	return &fakeRuntime{images: map[string]*imagesapi.Image{}, blobs: map[string][]byte{}, remote: map[string]string{},
		missed: map[string]int{}}
}

type (
	fakeCRI struct {
		runtimeapi.ImageServiceClient
		*fakeRuntime
	}
	fakeImages struct {
		imagesapi.ImagesClient
		*fakeRuntime
	}
	fakeContent struct {
		contentapi.ContentClient
		*fakeRuntime
	}
)

func (f *fakeRuntime) clients() *Clients {
	return &Clients{CRI: fakeCRI{fakeRuntime: f}, Images: fakeImages{fakeRuntime: f}, Content: fakeContent{fakeRuntime: f},
		Namespace: DefaultNamespace}
}

func (f *fakeRuntime) checkNS(ctx context.Context) {
	md, _ := metadata.FromOutgoingContext(ctx)
	if got := md.Get("containerd-namespace"); len(got) != 1 || got[0] != DefaultNamespace {
		f.badNS = true
	}
}

func (f fakeCRI) PullImage(_ context.Context, in *runtimeapi.PullImageRequest, _ ...grpc.CallOption) (*runtimeapi.PullImageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := in.Image.Image
	f.pulls = append(f.pulls, ref)
	if msg, bad := f.remote[ref]; bad {
		return nil, status.Error(codes.NotFound, msg)
	}
	digest := "sha256:index-of-" + ref
	mt := indexType
	if i := strings.Index(ref, "@"); i >= 0 {
		digest, mt = ref[i+1:], manifestType
	}
	f.images[ref] = &imagesapi.Image{Name: ref, Labels: map[string]string{criLabelKey: criLabelValue},
		Target: &types.Descriptor{MediaType: mt, Digest: digest, Size: 100}}
	return &runtimeapi.PullImageResponse{ImageRef: "sha256:config"}, nil
}

func (f fakeCRI) ImageStatus(_ context.Context, in *runtimeapi.ImageStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[in.Image.Image]
	if !ok {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if f.lag > 0 && img.Labels["created-by-test-api"] == "yes" && f.missed[in.Image.Image] < f.lag {
		f.missed[in.Image.Image]++
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: "sha256:config-" + img.Target.Digest, Size: 4096}}, nil
}

func (f fakeImages) Get(ctx context.Context, in *imagesapi.GetImageRequest, _ ...grpc.CallOption) (*imagesapi.GetImageResponse, error) {
	f.checkNS(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[in.Name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "image %q: not found", in.Name)
	}
	return &imagesapi.GetImageResponse{Image: img}, nil
}

func (f fakeImages) Create(ctx context.Context, in *imagesapi.CreateImageRequest, _ ...grpc.CallOption) (*imagesapi.CreateImageResponse, error) {
	f.checkNS(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[in.Image.Name]; ok {
		return nil, status.Error(codes.AlreadyExists, "exists")
	}
	f.creates++
	img := &imagesapi.Image{Name: in.Image.Name, Target: in.Image.Target, Labels: map[string]string{"created-by-test-api": "yes"}}
	for k, v := range in.Image.Labels {
		img.Labels[k] = v
	}
	f.images[in.Image.Name] = img
	return &imagesapi.CreateImageResponse{Image: in.Image}, nil
}

func (f fakeImages) Update(ctx context.Context, in *imagesapi.UpdateImageRequest, _ ...grpc.CallOption) (*imagesapi.UpdateImageResponse, error) {
	f.checkNS(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[in.Image.Name]; !ok {
		return nil, status.Error(codes.NotFound, "not found")
	}
	f.images[in.Image.Name] = in.Image
	return &imagesapi.UpdateImageResponse{Image: in.Image}, nil
}

type blobStream struct {
	contentapi.Content_ReadClient
	data []byte
	done bool
}

func (b *blobStream) Recv() (*contentapi.ReadContentResponse, error) {
	if b.done {
		return nil, io.EOF
	}
	b.done = true
	return &contentapi.ReadContentResponse{Data: b.data}, nil
}

func (f fakeContent) Read(ctx context.Context, in *contentapi.ReadContentRequest, _ ...grpc.CallOption) (contentapi.Content_ReadClient, error) {
	f.checkNS(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[in.Digest]
	if !ok {
		return nil, status.Error(codes.NotFound, "no blob")
	}
	return &blobStream{data: b}, nil
}

func run(t *testing.T, f *fakeRuntime, opts Options) []Result {
	t.Helper()
	var emitted []Result
	res := Run(context.Background(), f.clients(), opts, func(r Result) { emitted = append(emitted, r) })
	if len(emitted) != len(opts.Images) {
		t.Fatalf("emitted %d results for %d images", len(emitted), len(opts.Images))
	}
	if f.badNS {
		t.Fatal("a containerd call went without the k8s.io namespace")
	}
	return res
}

const (
	target   = "127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56"
	upstream = "registry.k8s.io/e2e-test-images/agnhost:2.56"
	mipsDig  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

func TestPullByPlatformDigestAndTagUpstream(t *testing.T) {
	f := newFake()
	res := run(t, f, Options{Platform: "linux/mips64le", RuntimePlatform: "linux/amd64",
		Images: []Image{{Target: target, Upstreams: []string{upstream}, Digest: mipsDig}}})
	r := res[0]
	if r.Status != StatusPulled || !r.OK() {
		t.Fatalf("result = %+v, want pulled and verified", r)
	}
	wantPull := "127.0.0.1:5000/cke/kubernetes/agnhost-mips64el@" + mipsDig
	if len(f.pulls) != 1 || f.pulls[0] != wantPull {
		t.Fatalf("pulls = %v, want [%s] (the platform's manifest, not the tag)", f.pulls, wantPull)
	}
	for _, n := range []string{target, upstream} {
		img := f.images[n]
		if img == nil || img.Target.Digest != mipsDig || img.Labels[criLabelKey] != criLabelValue {
			t.Fatalf("image %s = %+v, want it pointing at %s with the CRI label", n, img, mipsDig)
		}
	}
	if len(r.Tagged) != 2 || r.SizeBytes != 4096 || r.Digest != mipsDig {
		t.Fatalf("result = %+v", r)
	}

	// Second run: nothing to do.
	f.pulls = nil
	creates := f.creates
	res = run(t, f, Options{Platform: "linux/mips64le", RuntimePlatform: "linux/amd64",
		Images: []Image{{Target: target, Upstreams: []string{upstream}, Digest: mipsDig}}})
	if res[0].Status != StatusPresent || !res[0].OK() || len(f.pulls) != 0 || f.creates != creates || len(res[0].Tagged) != 0 {
		t.Fatalf("rerun: result %+v, pulls %v: want present with no pulls and no new names", res[0], f.pulls)
	}
}

func TestVerifyWaitsForCRIToSeeNewNames(t *testing.T) {
	f := newFake()
	f.lag = 2
	res := run(t, f, Options{Platform: "linux/amd64", RuntimePlatform: "linux/amd64",
		Images: []Image{{Target: target, Upstreams: []string{upstream}, Digest: mipsDig}}})
	if !res[0].OK() || f.missed[upstream] != 2 {
		t.Fatalf("result %+v after %d misses: want verified once CRI caught up", res[0], f.missed[upstream])
	}
	// Check-only changes nothing, so it does not wait: absent is absent.
	f = newFake()
	f.lag = 5
	f.images[target] = &imagesapi.Image{Name: target, Labels: map[string]string{"created-by-test-api": "yes"}, Target: &types.Descriptor{Digest: mipsDig}}
	res = run(t, f, Options{CheckOnly: true, Images: []Image{{Target: target}}})
	if res[0].Verified || f.missed[target] != 1 {
		t.Fatalf("check-only asked %d times: %+v", f.missed[target], res[0])
	}
}

func TestIndexOfSamePlatformCountsAsPresent(t *testing.T) {
	f := newFake()
	idx, _ := json.Marshal(map[string]any{"manifests": []map[string]string{{"digest": "sha256:amd"}, {"digest": mipsDig}}})
	f.blobs["sha256:idx"] = idx
	f.images[target] = &imagesapi.Image{Name: target, Target: &types.Descriptor{MediaType: indexType, Digest: "sha256:idx"}}

	// The runtime's own platform: the kubelet's index pull is what we want.
	res := run(t, f, Options{Platform: "linux/amd64", RuntimePlatform: "linux/amd64",
		Images: []Image{{Target: target, Upstreams: []string{upstream}, Digest: "sha256:amd"}}})
	if res[0].Status != StatusPresent || len(f.pulls) != 0 {
		t.Fatalf("result %+v pulls %v: want present without a pull", res[0], f.pulls)
	}
	if f.images[upstream].Target.Digest != "sha256:idx" {
		t.Fatalf("upstream name points at %s, want the index", f.images[upstream].Target.Digest)
	}

	// A foreign platform: the runtime would pick amd64 out of that index,
	// so the mips64le manifest must be pulled and the name moved.
	res = run(t, f, Options{Platform: "linux/mips64le", RuntimePlatform: "linux/amd64",
		Images: []Image{{Target: target, Upstreams: []string{upstream}, Digest: mipsDig}}})
	if res[0].Status != StatusPulled || f.images[target].Target.Digest != mipsDig || f.images[upstream].Target.Digest != mipsDig {
		t.Fatalf("result %+v: want pulled and both names moved to %s", res[0], mipsDig)
	}
}

func TestFailuresCarryTheRuntimeMessage(t *testing.T) {
	f := newFake()
	missing := "127.0.0.1:5000/cke/kubernetes/nope:1.0"
	msg := `failed to pull and unpack image "127.0.0.1:5000/cke/kubernetes/nope:1.0": failed to resolve reference: not found`
	f.remote[missing] = msg
	res := run(t, f, Options{Platform: "linux/amd64", RuntimePlatform: "linux/amd64", Parallel: 2, Images: []Image{
		{Target: missing, Upstreams: []string{"registry.k8s.io/nope:1.0"}},
		{Target: "busybox", Upstreams: []string{"busybox"}},
		{Target: "registry.example/UPPER:bad"},
	}})
	if r := res[0]; r.Status != StatusFailed || r.Reason != ReasonPull || r.Message != msg {
		t.Fatalf("missing image: %+v, want failed with the runtime's message", r)
	}
	// busybox: normalized like containerd stores it, upstream == target so one name.
	if r := res[1]; !r.OK() || r.Status != StatusPulled || f.images["docker.io/library/busybox:latest"] == nil || len(r.Tagged) != 0 {
		t.Fatalf("busybox: %+v (images %v)", r, keys(f.images))
	}
	if r := res[2]; r.Status != StatusFailed || r.Reason != ReasonInvalid {
		t.Fatalf("bad reference: %+v", r)
	}
}

func TestCheckOnly(t *testing.T) {
	f := newFake()
	f.images["docker.io/library/pause:3.10"] = &imagesapi.Image{Name: "docker.io/library/pause:3.10", Target: &types.Descriptor{Digest: "sha256:p"}}
	res := run(t, f, Options{CheckOnly: true, Images: []Image{{Target: "pause:3.10"}, {Target: "agnhost:2.56", Upstreams: []string{upstream}}}})
	if !res[0].OK() || res[0].Status != StatusPresent {
		t.Fatalf("pause: %+v", res[0])
	}
	if res[1].Status != StatusMissing || res[1].OK() {
		t.Fatalf("agnhost: %+v", res[1])
	}
	if len(f.pulls) != 0 || f.creates != 0 {
		t.Fatalf("check-only changed the node: pulls %v creates %d", f.pulls, f.creates)
	}
}

func TestCancelledRunReportsEveryImage(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var n int
	res := Run(ctx, f.clients(), Options{Parallel: 1, Now: func() time.Time { return time.Unix(0, 0) },
		Images: []Image{{Target: "a:1"}, {Target: "b:1"}, {Target: "c:1"}}}, func(Result) { n++ })
	if n != 3 {
		t.Fatalf("emitted %d, want 3", n)
	}
	for _, r := range res {
		if r.OK() {
			t.Fatalf("cancelled run reported %+v as placed", r)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                       "docker.io/library/busybox:latest",
		"sonobuoy/sonobuoy:v0.57.3":     "docker.io/sonobuoy/sonobuoy:v0.57.3",
		upstream:                        upstream,
		"127.0.0.1:5000/x/y@" + mipsDig: "127.0.0.1:5000/x/y@" + mipsDig,
	} {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Normalize("Bad Ref"); err == nil {
		t.Error("Normalize accepted a bad reference")
	}
}

func keys(m map[string]*imagesapi.Image) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return fmt.Sprint(out)
}
