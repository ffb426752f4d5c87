// Package nodepull puts images into one node's containerd, the way the
// seed's porting team did by hand with `ctr -n k8s.io images pull
// --platform ... && ctr images tag`: it runs inside confrun's node-mode pod
// (`confrun helper node-pull`), next to the node's containerd socket.
//
// Each image is pulled through the CRI ImageService, so containerd applies
// the node's own registry configuration (mirrors, credentials, insecure
// registries) exactly as for the kubelet's pulls. When the caller knows the
// digest of the image's manifest for the node's platform, the pull names that
// digest: containerd's CRI plugin only picks its host platform out of an
// index, but it takes a single manifest of any platform, so a linux/mips64le
// image lands on a node whose containerd was built for amd64. The image is
// then named, through containerd's Images API in the CRI namespace, under its
// target name and its upstream name (registry.k8s.io/...), so that an
// unmodified e2e suite with imagePullPolicy IfNotPresent finds it. Every
// name is finally checked with the CRI ImageStatus call, which is what the
// kubelet asks before it decides to pull.
package nodepull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	"github.com/distribution/reference"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Statuses of one image on the node.
const (
	// StatusPresent means the image was on the node before this run.
	StatusPresent = "present"
	// StatusPulled means this run pulled it.
	StatusPulled = "pulled"
	// StatusFailed means it could not be pulled or named; Reason says why.
	StatusFailed = "failed"
	// StatusMissing is the result of a check-only run for an absent image.
	StatusMissing = "missing"
)

// Reasons of a failed image, in the kubelet's vocabulary where one exists.
const (
	ReasonPull    = "ErrImagePull"
	ReasonTag     = "ErrImageTag"
	ReasonVerify  = "ErrImageVerify"
	ReasonInvalid = "InvalidImageName"
)

// criLabelKey/Value mark an image record as managed by containerd's CRI
// plugin; CRI's own pulls set it on every name they create.
const (
	criLabelKey   = "io.cri-containerd.image"
	criLabelValue = "managed"
	// DefaultNamespace is the containerd namespace of the CRI plugin.
	DefaultNamespace = "k8s.io"
)

// Image is one image to place on the node.
type Image struct {
	// Target is the reference the image is pulled by (the arch build).
	Target string `json:"target"`
	// Upstreams are the names the e2e suite uses; the image is named so
	// too. A name equal to Target adds nothing.
	Upstreams []string `json:"upstreams,omitempty"`
	// Digest is the digest of Target's manifest for the node's platform,
	// when the caller resolved it; the pull then names that digest.
	Digest string `json:"digest,omitempty"`
}

// Result is what happened to one image. The helper prints one per line.
type Result struct {
	Index  int    `json:"i"`
	Target string `json:"target"`
	Status string `json:"status"`
	// Digest is the manifest (or index) digest the target name points at.
	Digest string `json:"digest,omitempty"`
	// ImageID is the runtime's image ID (the config digest).
	ImageID   string  `json:"imageID,omitempty"`
	SizeBytes int64   `json:"sizeBytes,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"`
	// Tagged lists the names this run created or moved.
	Tagged []string `json:"tagged,omitempty"`
	// Verified is true when CRI ImageStatus found every name of the image.
	Verified bool   `json:"verified"`
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
}

// OK reports whether the image is on the node under all its names.
func (r Result) OK() bool {
	return (r.Status == StatusPresent || r.Status == StatusPulled) && r.Verified
}

// Options configure a Run.
type Options struct {
	// Images to place, in order; Result.Index refers to this slice.
	Images []Image
	// Platform is the node's platform, linux/<goarch>[/<variant>].
	Platform string
	// RuntimePlatform is the platform the runtime picks out of an index
	// (its host platform).
	RuntimePlatform string
	// Parallel bounds concurrent pulls (default 4).
	Parallel int
	// CheckOnly only reports which images are present (ImageStatus).
	CheckOnly bool
	// Now is the clock (tests).
	Now func() time.Time
}

// Clients are the three containerd services the pull uses. The
// containerd ones must be called with a context from WithNamespace.
type Clients struct {
	CRI     runtimeapi.ImageServiceClient
	Images  imagesapi.ImagesClient
	Content contentapi.ContentClient
	// Namespace is the containerd namespace of the CRI plugin (k8s.io).
	Namespace string
	conn      *grpc.ClientConn
}

// Dial connects to containerd's socket (a path or unix:// URL).
func Dial(address, namespace string) (*Clients, error) {
	target := address
	if !strings.HasPrefix(target, "unix://") {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, fmt.Errorf("connecting to the container runtime at %s: %w", address, err)
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Clients{
		CRI:       runtimeapi.NewImageServiceClient(conn),
		Images:    imagesapi.NewImagesClient(conn),
		Content:   contentapi.NewContentClient(conn),
		Namespace: namespace,
		conn:      conn,
	}, nil
}

// Close closes the connection.
func (c *Clients) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// RuntimeVersion asks the runtime for its name and version through CRI.
func RuntimeVersion(ctx context.Context, conn *Clients) (string, error) {
	if conn.conn == nil {
		return "", errors.New("not connected")
	}
	v, err := runtimeapi.NewRuntimeServiceClient(conn.conn).Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return "", fmt.Errorf("asking the runtime for its version: %w", err)
	}
	return v.RuntimeName + " " + v.RuntimeVersion, nil
}

func (c *Clients) ns(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "containerd-namespace", c.Namespace)
}

// Run places every image and calls emit with each result as it completes
// (concurrently with other pulls, but never concurrently with itself). It
// returns the results in input order.
func Run(ctx context.Context, c *Clients, opts Options, emit func(Result)) []Result {
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	results := make([]Result, len(opts.Images))
	var emitMu sync.Mutex
	send := func(r Result) {
		if emit == nil {
			return
		}
		emitMu.Lock()
		defer emitMu.Unlock()
		emit(r)
	}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i, im := range opts.Images {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = failed(i, im, ReasonPull, ctx.Err().Error())
				send(results[i])
				return
			}
			results[i] = one(ctx, c, opts, i, im)
			<-sem
			send(results[i])
		}()
	}
	wg.Wait()
	return results
}

func failed(i int, im Image, reason, msg string) Result {
	return Result{Index: i, Target: im.Target, Status: StatusFailed, Reason: reason, Message: msg}
}

// one places a single image.
func one(ctx context.Context, c *Clients, opts Options, i int, im Image) Result {
	if err := ctx.Err(); err != nil {
		return failed(i, im, ReasonPull, err.Error())
	}
	target, err := Normalize(im.Target)
	if err != nil {
		return failed(i, im, ReasonInvalid, err.Error())
	}
	names := []string{target}
	for _, u := range im.Upstreams {
		n, err := Normalize(u)
		if err != nil {
			return failed(i, im, ReasonInvalid, err.Error())
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	res := Result{Index: i, Target: im.Target}

	present, desc, err := c.present(ctx, target, im.Digest, opts)
	if err != nil {
		return failed(i, im, ReasonPull, err.Error())
	}
	if opts.CheckOnly {
		return c.verify(ctx, res, names, presentOr(present, StatusMissing), desc)
	}
	res.Status = StatusPresent
	if !present {
		pullRef := target
		if im.Digest != "" {
			if pullRef, err = digestRef(target, im.Digest); err != nil {
				return failed(i, im, ReasonInvalid, err.Error())
			}
		}
		t0 := opts.Now()
		if _, err := c.CRI.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: pullRef}}); err != nil {
			return failed(i, im, ReasonPull, grpcMessage(err))
		}
		res.Seconds = opts.Now().Sub(t0).Seconds()
		res.Status = StatusPulled
		got, err := c.Images.Get(c.ns(ctx), &imagesapi.GetImageRequest{Name: pullRef})
		if err != nil {
			return failed(i, im, ReasonTag, fmt.Sprintf("reading the image record %s after the pull: %s", pullRef, grpcMessage(err)))
		}
		desc = got.Image
	}
	// Name the image under every name, pointing at what was pulled.
	for _, n := range names {
		moved, err := c.name(ctx, n, desc)
		if err != nil {
			r := failed(i, im, ReasonTag, fmt.Sprintf("naming the image %s: %s", n, grpcMessage(err)))
			r.Seconds, r.Digest = res.Seconds, desc.GetTarget().GetDigest()
			return r
		}
		if moved {
			res.Tagged = append(res.Tagged, n)
		}
	}
	return c.verify(ctx, res, names, res.Status, desc)
}

func presentOr(p bool, otherwise string) string {
	if p {
		return StatusPresent
	}
	return otherwise
}

// present reports whether the target name already holds the wanted image
// and returns its record.
func (c *Clients) present(ctx context.Context, target, digest string, opts Options) (bool, *imagesapi.Image, error) {
	got, err := c.Images.Get(c.ns(ctx), &imagesapi.GetImageRequest{Name: target})
	if status.Code(err) == codes.NotFound {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("looking up %s in containerd: %s", target, grpcMessage(err))
	}
	img := got.Image
	if digest == "" || img.GetTarget().GetDigest() == digest {
		return true, img, nil
	}
	// The name points at something else: commonly the index the kubelet
	// pulled, which is fine when the runtime picks the wanted manifest
	// out of it (same platform).
	if opts.RuntimePlatform != opts.Platform || !isIndex(img.GetTarget().GetMediaType()) {
		return false, img, nil
	}
	idx, err := c.readBlob(ctx, img.GetTarget().GetDigest())
	if err != nil {
		return false, img, nil // unreadable: pull again, which repairs it
	}
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if json.Unmarshal(idx, &index) != nil {
		return false, img, nil
	}
	for _, m := range index.Manifests {
		if m.Digest == digest {
			return true, img, nil
		}
	}
	return false, img, nil
}

func isIndex(mediaType string) bool {
	return mediaType == "application/vnd.oci.image.index.v1+json" ||
		mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// readBlob reads a small blob (an index) from containerd's content store.
func (c *Clients) readBlob(ctx context.Context, digest string) ([]byte, error) {
	stream, err := c.Content.Read(c.ns(ctx), &contentapi.ReadContentRequest{Digest: digest})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		buf.Write(resp.Data)
		if buf.Len() > 4<<20 {
			return nil, errors.New("blob too large for an index")
		}
	}
}

// name makes name point at desc's target, creating or moving the record.
// It reports whether anything changed.
func (c *Clients) name(ctx context.Context, name string, desc *imagesapi.Image) (bool, error) {
	labels := map[string]string{}
	for k, v := range desc.GetLabels() {
		labels[k] = v
	}
	labels[criLabelKey] = criLabelValue
	want := &imagesapi.Image{Name: name, Labels: labels, Target: desc.GetTarget()}
	got, err := c.Images.Get(c.ns(ctx), &imagesapi.GetImageRequest{Name: name})
	switch {
	case status.Code(err) == codes.NotFound:
		_, err = c.Images.Create(c.ns(ctx), &imagesapi.CreateImageRequest{Image: want})
		if status.Code(err) == codes.AlreadyExists { // raced with the kubelet
			_, err = c.Images.Update(c.ns(ctx), &imagesapi.UpdateImageRequest{Image: want})
		}
		return err == nil, err
	case err != nil:
		return false, err
	}
	if got.Image.GetTarget().GetDigest() == desc.GetTarget().GetDigest() && got.Image.GetLabels()[criLabelKey] == criLabelValue {
		return false, nil
	}
	_, err = c.Images.Update(c.ns(ctx), &imagesapi.UpdateImageRequest{Image: want})
	return err == nil, err
}

// verify asks CRI ImageStatus for every name, as the kubelet would. The
// CRI plugin learns of names created through the Images API from
// containerd's events, asynchronously: after this run changed something,
// a name not yet known is asked again for a few seconds.
func (c *Clients) verify(ctx context.Context, res Result, names []string, st string, desc *imagesapi.Image) Result {
	res.Status = st
	res.Digest = desc.GetTarget().GetDigest()
	res.Verified = true
	changed := st == StatusPulled || len(res.Tagged) > 0
	var missing []string
	for _, n := range names {
		var resp *runtimeapi.ImageStatusResponse
		var err error
		for wait := 50 * time.Millisecond; ; wait *= 2 {
			resp, err = c.CRI.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: n}})
			if err != nil || resp.Image != nil || !changed || wait > 2*time.Second {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if err != nil {
			res.Verified = false
			missing = append(missing, fmt.Sprintf("%s (%s)", n, grpcMessage(err)))
			continue
		}
		if resp.Image == nil {
			res.Verified = false
			missing = append(missing, n)
			continue
		}
		res.ImageID = resp.Image.Id
		res.SizeBytes = int64(resp.Image.Size)
	}
	if st == StatusMissing {
		if len(missing) < len(names) && len(missing) > 0 {
			res.Message = "the runtime lacks " + strings.Join(missing, ", ")
		}
		return res
	}
	if len(missing) > 0 {
		res.Status = StatusFailed
		res.Reason = ReasonVerify
		res.Message = "the runtime's ImageStatus does not find " + strings.Join(missing, ", ")
	}
	return res
}

// Normalize returns the fully qualified name containerd stores for ref
// (docker.io/library/busybox:latest for busybox).
func Normalize(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

// digestRef returns repo@digest for ref.
func digestRef(ref, digest string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	return reference.TrimNamed(named).String() + "@" + digest, nil
}

// grpcMessage is the runtime's own message without the "rpc error: code
// = X desc =" wrapping, which says nothing to a user.
func grpcMessage(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}
