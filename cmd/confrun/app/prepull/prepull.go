// Package prepull implements `confrun prepull`.
package prepull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/prepull"
)

type flags struct {
	kube           cliutil.KubeFlags
	helper         helperimage.Flags
	out            *cliutil.OutputFlag
	imageMap       string
	arch           string
	nodes          string
	includeTainted bool
	mode           string
	sockets        []string
	ctrNamespace   string
	timeout        time.Duration
	unschedulable  time.Duration
	verify         string
	verifyTimeout  time.Duration
	keep           bool
	cleanup        bool
	allNamespaces  bool
	report         string
	force          bool
}

// NewCommand returns `confrun prepull`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "prepull --imagemap FILE [--arch ARCH] [--nodes SELECTOR] [--mode pod|node]",
		Short: "Put every mapped image on every node, so that imagePullPolicy IfNotPresent never pulls during the run",
		Long: `prepull puts every image of an image map (imagemap.yaml, written by
'confrun images map') on every schedulable node of the map's architecture
(kubernetes.io/arch), verifies what each node really holds, and writes
prepull.json beside the image map; 'confrun run' and 'confrun verify' read it.

Pod mode (default, unprivileged): DaemonSets in their own namespace whose pods
have a container per image (five per pod, so that the kubelet's per-pod event
limit does not swallow the events that give each pull's time and size), with
imagePullPolicy IfNotPresent. Each container runs confrun's own static helper,
copied by an init container from the helper image into an emptyDir, so images
without a shell or with odd entrypoints work. The pods meet the "restricted"
Pod Security profile and request almost nothing. The kubelet does the pulls,
in parallel where its serializeImagePulls allows.

Node mode (--mode node, explicit opt-in): one pod per node talks to the node's
containerd through its socket, pulls each image for the node's platform by
digest and also names it under its upstream name (registry.k8s.io/...), so an
unmodified e2e suite finds it with IfNotPresent: the only way when image names
differ from upstream and no mirror is possible, and when the node's runtime
cannot pick the node's platform itself (an emulated node). This pod is
PRIVILEGED, runs as root and mounts the containerd socket from the host
(hostPath): whoever holds that socket controls every container on the node,
and hosts with SELinux only let privileged containers connect to it. Its
namespace is labelled pod-security.kubernetes.io/enforce=privileged.
The socket is found per node from --containerd-socket NODE=PATH, kubeadm's
node annotation, or the kubelet's own config (containerRuntimeEndpoint, read
through the apiserver); else /run/containerd/containerd.sock.

Tracking uses watches (nodes, pods, the kubelet's events), not polling: a live
view of nodes x images on a terminal, plain lines otherwise. After the pulls,
each image is verified on each node, independently of the pods: from the
node's status.images (--verify node-status, the default in pod mode; the
kubelet lists only the 50 largest images: on a node with that many, an
image not among them is verified by the kubelet's pull for this run's pod,
as with --verify pods),
with the runtime's CRI ImageStatus through a short privileged pod
per node (--verify cri, the default in node mode), or from the pods alone
(--verify pods). Images already on a node are skipped, so running it again is
safe. Ctrl-C, --timeout or a failure removes everything prepull created
unless --keep; --cleanup removes the leftovers of a killed run.

A node whose pod cannot start is named as soon as it is seen, with the reason
and what to do: the scheduler's verdict (Unschedulable: insufficient memory,
too many pods, ...), a taint the pods do not tolerate (the DaemonSet
controller then creates no pod there), the node not Ready or unreachable, the
DaemonSet controller failing to create the pod (a quota, an admission policy),
the kubelet rejecting it, or evicting it (the node low on disk, memory or
PIDs), each named once per node, however many pods it holds up. When the
same reason has held for --unschedulable-timeout, that node's images are given
up (reported failed, or node-not-ready, with the reason) and the run goes on
without waiting for --timeout; with --unschedulable-timeout 0 they wait for
--timeout and are then reported as timed out with the reason.

Exit status: 0 when every image is on every selected node and verified, 3 when
all are there but some could not be verified, 1 otherwise, 2 for bad input.`,
		Example: `  # Pre-pull the mips64el map's images on every mips64le node
  confrun prepull --imagemap results/v1.34/acme-mips/imagemap.yaml

  # Only some nodes, building the helper image into the cluster's registry
  confrun prepull --imagemap imagemap.yaml --nodes pool=conformance --helper-registry 10.0.0.5:5000

  # Node mode: also name each image registry.k8s.io/..., lab sockets per node
  confrun prepull --imagemap imagemap.yaml --mode node \
    --containerd-socket lab-node-2=/run/confrun-lab/node-2/containerd.sock

  # Remove what a killed run left behind (in every namespace with -A)
  confrun prepull --cleanup`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), f, streams)
		},
	}
	fs := cmd.Flags()
	f.kube.AddFlags(fs, prepull.DefaultNamespace)
	f.helper.AddFlags(fs)
	f.out = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	fs.StringVar(&f.imageMap, "imagemap", "", "the image map (imagemap.yaml from `confrun images map`)")
	fs.StringVar(&f.arch, "arch", "", "only nodes of this architecture, any spelling (default: the image map's arch)")
	fs.StringVar(&f.nodes, "nodes", "", "only nodes matching this label selector (e.g. pool=conformance)")
	fs.BoolVar(&f.includeTainted, "include-tainted", false, "also pull on nodes with NoSchedule/NoExecute taints (the pods tolerate every taint)")
	fs.StringVar(&f.mode, "mode", string(prepull.ModePod), "pod (unprivileged DaemonSet) or node (privileged, through containerd; see above)")
	fs.StringArrayVar(&f.sockets, "containerd-socket", nil, "node mode: containerd socket PATH for all nodes, or NODE=PATH for one (repeatable; default: discovered, else "+prepull.DefaultSocket+")")
	fs.StringVar(&f.ctrNamespace, "containerd-namespace", "k8s.io", "node mode: containerd namespace of the kubelet's images")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up on pulls not done after this long")
	fs.DurationVar(&f.unschedulable, "unschedulable-timeout", prepull.DefaultUnschedulableTimeout,
		"give up on a node whose pod cannot start (unschedulable, untolerated taint, node not Ready) after the same reason held this long; 0: wait for --timeout")
	fs.StringVar(&f.verify, "verify", "", "node-status, cri or pods (default: node-status in pod mode, cri in node mode)")
	fs.DurationVar(&f.verifyTimeout, "verify-timeout", 2*time.Minute, "how long to wait for the verification (the kubelet refreshes its image list every 30s)")
	fs.BoolVar(&f.keep, "keep", false, "leave the namespace and pods in place (debugging); remove them later with --cleanup")
	fs.BoolVar(&f.cleanup, "cleanup", false, "remove what earlier prepull runs left in the namespace (-n), and exit")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "with --cleanup: every namespace prepull created, and its pods anywhere")
	fs.StringVar(&f.report, "report", "", "where to write the report (default: prepull.json beside the image map)")
	fs.BoolVar(&f.force, "force", false, "overwrite an existing report")
	return cmd
}

func run(ctx context.Context, f *flags, streams cliutil.IOStreams) error {
	if err := f.out.Validate(); err != nil {
		return err
	}
	if f.cleanup {
		return cleanup(ctx, f, streams)
	}
	if f.allNamespaces {
		return cliutil.UsageError("--all-namespaces goes with --cleanup")
	}
	opts, reportPath, err := f.options(streams)
	if err != nil {
		return err
	}
	cfg, err := f.kube.RESTConfig()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 50, 100
	opts.Requests = prepull.CountRequests(cfg)
	if opts.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("creating Kubernetes client: %w", err)
	}
	opts.OnReport = func(rep *prepull.Report) error {
		if err := atomicfile.Write(reportPath, atomicfile.Options{Force: f.force}, rep.WriteJSON); err != nil {
			return err
		}
		fmt.Fprintf(streams.ErrOut, "report: %s\n", reportPath)
		return nil
	}
	rep, err := prepull.Run(ctx, opts)
	if errors.Is(err, prepull.ErrNoNodes) {
		return cliutil.WithExitCode(cliutil.ExitUsage, fmt.Errorf("%w (check --arch and --nodes)", err))
	}
	if err != nil {
		if rep != nil && errors.Is(err, context.Canceled) {
			fmt.Fprintln(streams.ErrOut, "prepull interrupted: the objects it created were removed (unless --keep); no report written")
		}
		return err
	}
	if err := f.out.Print(streams.Out, rep, rep.PrintTable); err != nil {
		return err
	}
	if code := rep.ExitCode(); code != cliutil.ExitOK {
		return &cliutil.ExitError{Code: code}
	}
	return nil
}

// options turns the flags into prepull options (everything but the client).
func (f *flags) options(streams cliutil.IOStreams) (prepull.Options, string, error) {
	var o prepull.Options
	if f.imageMap == "" {
		return o, "", cliutil.UsageError("--imagemap is required: pass the imagemap.yaml written by `confrun images map`")
	}
	m, err := imagemap.LoadMap(f.imageMap)
	if err != nil {
		return o, "", cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	for _, e := range m.Pulled() {
		o.Images = append(o.Images, prepull.Image{Upstream: e.Upstream, Target: e.Target})
	}
	if len(o.Images) == 0 {
		return o, "", cliutil.UsageError("%s lists no image to pull", f.imageMap)
	}
	a := m.Arch()
	if f.arch != "" {
		if a, err = arch.Parse(f.arch); err != nil {
			return o, "", cliutil.UsageError("--arch: %v", err)
		}
	}
	o.Selection.Arch = a.GOARCH
	if f.nodes != "" {
		sel, err := labels.Parse(f.nodes)
		if err != nil {
			return o, "", cliutil.UsageError("--nodes %q is not a label selector: %v", f.nodes, err)
		}
		o.Selection.Selector = sel
	}
	o.Selection.IncludeTainted = f.includeTainted
	o.Mode = prepull.Mode(f.mode)
	if o.Mode != prepull.ModePod && o.Mode != prepull.ModeNode {
		return o, "", cliutil.UsageError("--mode %q: use pod or node", f.mode)
	}
	o.Verify = prepull.Verify(f.verify)
	switch o.Verify {
	case "", prepull.VerifyNodeStatus, prepull.VerifyCRI, prepull.VerifyPods:
	default:
		return o, "", cliutil.UsageError("--verify %q: use node-status, cri or pods", f.verify)
	}
	if o.Sockets, err = prepull.ParseSocketFlag(f.sockets); err != nil {
		return o, "", cliutil.UsageError("%v", err)
	}
	if o.Mode == prepull.ModePod && len(f.sockets) > 0 && o.Verify != prepull.VerifyCRI {
		return o, "", cliutil.UsageError("--containerd-socket is for --mode node or --verify cri")
	}
	if f.timeout <= 0 || f.verifyTimeout <= 0 {
		return o, "", cliutil.UsageError("--timeout and --verify-timeout must be positive")
	}
	switch {
	case f.unschedulable < 0:
		return o, "", cliutil.UsageError("--unschedulable-timeout must not be negative (0 waits for --timeout)")
	case f.unschedulable == 0:
		o.UnschedulableTimeout = -1 // named, never given up before --timeout
	default:
		o.UnschedulableTimeout = f.unschedulable
	}
	o.ContainerdNamespace = f.ctrNamespace
	o.Timeout, o.VerifyTimeout, o.Keep = f.timeout, f.verifyTimeout, f.keep
	o.Namespace = f.kube.Namespace
	o.Resolve = prepull.ResolvePlatformDigest
	o.HelperImage = f.helper.Image
	o.ResolveHelper = func(ctx context.Context, names []string) (string, error) {
		arches, err := prepull.ParseArches(names)
		if err != nil {
			return "", err
		}
		return f.helper.Resolve(ctx, arches, streams.ErrOut)
	}
	if o.HelperImage == "" && f.helper.Registry == "" {
		return o, "", cliutil.UsageError("no helper image: pass --helper-image REF (a confrun helper image for your nodes' architectures) or --helper-registry HOST:PORT to build and push one")
	}
	o.Progress, o.TTY = streams.ErrOut, cliutil.IsTerminal(streams.ErrOut)

	reportPath := f.report
	if reportPath == "" {
		reportPath = filepath.Join(filepath.Dir(f.imageMap), prepull.ReportFile)
	}
	if _, err := os.Stat(reportPath); err == nil && !f.force {
		return o, "", cliutil.UsageError("%s exists: pass --force to replace it, or --report to write elsewhere", reportPath)
	}
	return o, reportPath, nil
}

func cleanup(ctx context.Context, f *flags, streams cliutil.IOStreams) error {
	client, _, err := f.kube.Clientset()
	if err != nil {
		return err
	}
	fmt.Fprintln(streams.ErrOut, "removing what confrun prepull left in the cluster...")
	ns := f.kube.Namespace
	if f.allNamespaces {
		ns = ""
	}
	res, err := prepull.Cleanup(ctx, client, ns, true)
	if err != nil {
		return err
	}
	return f.out.Print(streams.Out, res, func(w io.Writer) error {
		if res.Empty() {
			fmt.Fprintln(w, "nothing to remove")
			return nil
		}
		for _, ns := range res.Namespaces {
			fmt.Fprintf(w, "deleted namespace %s\n", ns)
		}
		for _, ds := range res.DaemonSets {
			fmt.Fprintf(w, "deleted DaemonSet %s\n", ds)
		}
		if res.Pods > 0 {
			fmt.Fprintf(w, "deleted %d pods outside confrun's namespaces\n", res.Pods)
		}
		return nil
	})
}
