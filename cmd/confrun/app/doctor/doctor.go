// Package doctor implements `confrun doctor`.
package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/doctor"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/nodecheck"
	"github.com/confrun/confrun/internal/progress"
	"github.com/confrun/confrun/internal/release"
)

type flagpole struct {
	local        bool
	root         string
	kernelConfig string
	cni          string
	k8sVersion   string
	nodes        []string
	timeout      time.Duration
	maxSkew      time.Duration
	imageBytes   string
	all          bool
	imageMap     string
	insecure     []string
	helper       helperimage.Flags
	kube         cliutil.KubeFlags
	output       *cliutil.OutputFlag

	// Set by doctor for the pods it starts.
	nodeName   string
	podUID     string
	apiserver  string
	resolvConf string
}

// NewCommand returns `confrun doctor`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Find the kernel options, cgroups and node settings that stand between a node and a passing run",
		Long: `doctor checks what a conformance run needs from every node and names what is
missing, with the file that said so and a one-line fix:

  kernel      the options kubeadm preflight checks (k8s.io/system-validators),
              kube-proxy's iptables matches and targets, and the CNI's
              (--cni calico|flannel|cilium, detected from the cluster by default);
              built in (=y), module (=m: present? loaded?) or missing
  cgroups     v1 or v2; each controller compiled, available and enabled for
              children, naming the "processes in the root cgroup" trap
  runtime     runtime version, kubelet version and cgroup driver, arch labels,
              the platform the runtime picks out of multi-arch images, and
              with --imagemap whether the mapped images hold the node's arch
  node        swap, hostname resolution, resolv.conf, clock against the
              apiserver, room for images (the map's, with --imagemap)

Against a cluster it starts one short-lived pod per node from the confrun
helper image (confrun itself), with the node's /proc, /sys, /boot and /lib
(for /lib/modules) mounted read-only; the pods are not privileged. Each
node runs the helper's image for its own architecture, by digest, so that a
runtime which picks another platform out of a multi-arch image (containerd
picks its host's) still runs the right checker; a second container runs
the multi-arch image as such to see which platform the runtime picks. Give
the image with --helper-image, or let doctor build one from confrun
binaries and push it with --helper-registry.

With --imagemap, doctor reads the map's registries: every image the run
pulls must hold the architecture of the nodes that will run it, and those
nodes need room for them (stored size, plus about 2.5x for the unpacked
layers). Nodes of another architecture are named: e2e pods landing there
would get images of the wrong architecture unless they are cordoned.

--local checks the machine doctor runs on (a node before kubeadm init).
--kernel-config checks a kernel config file before the kernel is built.

Without a kernel config doctor falls back to probing /proc and /sys and
says so. It exits 1 when any check fails.`,
		Example: `  # Check a kernel config before compiling it (the options to enable are listed)
  confrun doctor --kernel-config ./linux/.config --cni calico

  # Check this machine
  confrun doctor --local

  # Check every node of a cluster, building the helper image into a registry
  confrun doctor --helper-registry 127.0.0.1:5000

  # ... or with a helper image pushed earlier
  confrun doctor --helper-image registry.example:5000/confrun/helper:sha-0123456789ab -o json

  # Also check the images of a run's map against the nodes' architecture and disk
  confrun doctor --helper-registry 127.0.0.1:5000 --imagemap imagemap.yaml --insecure-registry 127.0.0.1:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), streams, f)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&f.local, "local", false, "check the machine confrun runs on instead of a cluster")
	fs.StringVar(&f.root, "root", "/", "with --local: where the machine's /proc, /sys, /boot and /lib/modules are (doctor pods use /host)")
	fs.StringVar(&f.kernelConfig, "kernel-config", "", "check this kernel config file (plain or gzip) offline and list what to enable")
	fs.StringVar(&f.cni, "cni", "", "also check the kernel options of this CNI: "+joinNames()+" or none (default: detected in a cluster, none locally)")
	fs.StringVar(&f.k8sVersion, "kubernetes-version", "", "Kubernetes release to check against, vX.Y (default: the cluster's, else the newest confrun knows)")
	fs.StringSliceVar(&f.nodes, "node", nil, "check only these nodes (repeatable)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "time limit for each node's pod, from creation to report")
	fs.DurationVar(&f.maxSkew, "max-clock-skew", nodecheck.DefaultMaxClockSkew, "how far a node's clock may be from the apiserver's")
	fs.StringVar(&f.imageBytes, "image-bytes", "", "image data each node must still hold, e.g. 6Gi (default: check only kubelet's thresholds)")
	fs.BoolVar(&f.all, "all", false, "list every check in the table, not only warnings and failures")
	fs.StringVar(&f.imageMap, "imagemap", "", "also check this image map (confrun images map): its images hold the nodes' arch, and the nodes have room for them")
	fs.StringSliceVar(&f.insecure, "insecure-registry", nil, "registry host[:port] of the map's images or the helper image that may be reached over plain HTTP (repeatable); others need HTTPS, except loopback and private addresses for the helper image")
	f.helper.AddFlags(fs)
	fs.StringVar(&f.helper.Image, "image", "", "the confrun helper image")
	_ = fs.MarkDeprecated("image", "use --helper-image")
	f.kube.AddFlags(fs, "confrun")
	f.output = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)

	fs.StringVar(&f.nodeName, "node-name", "", "with --local: the name to report the machine under")
	fs.StringVar(&f.podUID, "pod-uid", "", "with --local in a doctor pod: the pod's UID, to find its cgroup")
	fs.StringVar(&f.apiserver, "apiserver", "", "with --local: compare the clock with this apiserver URL")
	fs.StringVar(&f.resolvConf, "resolv-conf", "", "with --local: the resolv.conf to check (default <root>/etc/resolv.conf)")
	for _, n := range []string{"node-name", "pod-uid", "apiserver", "resolv-conf"} {
		_ = fs.MarkHidden(n)
	}
	return cmd
}

func joinNames() string {
	s := ""
	for i, n := range nodecheck.CNINames() {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func run(ctx context.Context, streams cliutil.IOStreams, f *flagpole) error {
	if err := f.output.Validate(); err != nil {
		return err
	}
	var rel release.Release
	if f.k8sVersion != "" {
		r, err := release.Parse(f.k8sVersion)
		if err != nil {
			return cliutil.UsageError("--kubernetes-version %q: %v", f.k8sVersion, err)
		}
		rel = r
	}
	if f.cni != "" && f.cni != "none" {
		if _, err := nodecheck.CNIOptionSet(f.cni); err != nil {
			return cliutil.UsageError("--cni: %v", err)
		}
	}
	var need uint64
	if f.imageBytes != "" {
		q, err := resource.ParseQuantity(f.imageBytes)
		if err != nil || q.Sign() < 0 {
			return cliutil.UsageError("--image-bytes %q: want a size such as 6Gi or 6442450944", f.imageBytes)
		}
		need = uint64(q.Value())
	}
	if f.kernelConfig != "" && f.local {
		return cliutil.UsageError("--kernel-config checks a file offline and --local checks this machine: pass one")
	}
	if f.imageMap != "" && (f.kernelConfig != "" || f.local) {
		return cliutil.UsageError("--imagemap is checked against a cluster's nodes: leave out --local and --kernel-config")
	}

	var res *nodecheck.Result
	var err error
	switch {
	case f.kernelConfig != "":
		var r *nodecheck.Report
		r, err = nodecheck.CheckKernelConfigFile(f.kernelConfig, f.cni)
		if err != nil {
			return cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
		res = &nodecheck.Result{Nodes: []nodecheck.Report{*r}}
	case f.local:
		var r *nodecheck.Report
		r, err = nodecheck.Run(ctx, nodecheck.Options{
			Root: f.root, NodeName: f.nodeName, CNI: f.cni, Release: rel, ResolvConf: f.resolvConf,
			PodUID: f.podUID, APIServer: f.apiserver, MaxClockSkew: f.maxSkew, ImageBytes: need,
		})
		if err != nil {
			return cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
		res = &nodecheck.Result{Nodes: []nodecheck.Report{*r}}
	default:
		res, err = runCluster(ctx, streams, f, rel, need)
		if err != nil {
			return err
		}
	}
	if err := f.output.Print(streams.Out, res, func(w io.Writer) error { return doctor.PrintTable(w, res, f.all) }); err != nil {
		return err
	}
	if res.Failed() {
		return &cliutil.ExitError{Code: cliutil.ExitFailure}
	}
	return nil
}

func runCluster(ctx context.Context, streams cliutil.IOStreams, f *flagpole, rel release.Release, need uint64) (*nodecheck.Result, error) {
	client, cfg, err := f.kube.Clientset()
	if err != nil {
		return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	nodes, err := doctor.SelectNodes(ctx, client, f.nodes)
	if err != nil {
		return nil, err
	}
	arches, err := doctor.NodeArches(nodes)
	if err != nil {
		return nil, err
	}
	var m *imagemap.Map
	var reg *registry.Client
	if f.imageMap != "" {
		if m, err = imagemap.LoadMap(f.imageMap); err != nil {
			return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
		if reg, err = registry.New(registry.Options{Insecure: f.insecure}); err != nil {
			return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
	}
	image, err := f.helper.Resolve(ctx, arches, streams.ErrOut)
	if err != nil {
		return nil, err
	}
	pinned, err := helperimage.Pin(ctx, image, arches, f.insecure)
	if err != nil {
		// The nodes may reach a registry this machine cannot (a name only
		// the cluster resolves, credentials only the nodes hold).
		fmt.Fprintf(streams.ErrOut, "warning: %v\nthe nodes pull %s as it is: a runtime that picks another platform than its node's out of it runs the wrong checker, and which platform it picks is not probed\n", err, image)
		pinned = helperimage.Pinned{Image: image}
	}
	bar := progress.New(streams.ErrOut, "checking nodes", len(nodes), progress.Options{TTY: cliutil.IsTerminal(streams.ErrOut)})
	res, err := doctor.Run(ctx, doctor.Options{
		Client: client, Namespace: f.kube.Namespace, Helper: pinned, ImageMap: m, ImageMapPath: f.imageMap, Registry: reg,
		CNI: f.cni, Release: rel, Nodes: f.nodes,
		Timeout: f.timeout, FallbackAPIServer: cfg.Host, MaxClockSkew: f.maxSkew, ImageBytes: need,
		Log: progressWriter{bar},
		OnNode: func(node string, r *nodecheck.Report) {
			s := r.Summary()
			detail := fmt.Sprintf("%s: %d ok, %d warn, %d fail", node, s.OK, s.Warn, s.Fail)
			if r.Error != "" {
				detail = node + ": " + r.Error
			}
			bar.Add(1, detail)
		},
	})
	bar.Finish(fmt.Sprintf("%d nodes checked", len(nodes)))
	if err != nil {
		return nil, err
	}
	return res, nil
}

// progressWriter prints log lines above the progress bar.
type progressWriter struct{ bar *progress.Bar }

func (p progressWriter) Write(b []byte) (int, error) {
	p.bar.Printf("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
