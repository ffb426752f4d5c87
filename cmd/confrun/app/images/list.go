package images

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/release"
)

type listFlags struct {
	release, kubernetesVersion, sonobuoyVersion string
	systemdLogs                                 bool
	fromCluster                                 bool
	conformanceImage, arch                      string
	clusterTimeout                              time.Duration
	kube                                        cliutil.KubeFlags
	out                                         *cliutil.OutputFlag
}

func newList(streams cliutil.IOStreams) *cobra.Command {
	f := &listFlags{}
	cmd := &cobra.Command{
		Use:   "list [--release vX.Y | --from-cluster]",
		Short: "List every image a conformance run of a release needs",
		Long: `list prints the images of a release's conformance run: the e2e suite's images
(from upstream's test/utils/image/manifest.go, embedded per release, offline),
the CSI driver images the suite adds, the run's own images (conformance,
sonobuoy, systemd-logs with --systemd-logs, the node's pause image), and the
names tests write literally. Images marked PULL=no are not meant to be pulled:
invalid or authenticated registries that tests use to provoke failures, and
names built at run time (webserver:404).

--from-cluster asks the cluster instead: it runs 'e2e.test --list-images' in a
pod of the cluster's own conformance image (or --conformance-image), for
clusters newer than the releases confrun knows.`,
		Example: `  confrun images list --release v1.34
  confrun images list --release v1.30 -o json | jq -r '.images[] | select(.pull) | .ref'

  # A cluster newer than confrun: ask its conformance image
  confrun images list --from-cluster --conformance-image 127.0.0.1:5000/cke/kubernetes/conformance-mips64el:v1.37.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.out.Validate(); err != nil {
				return err
			}
			opts := inventory.Options{KubernetesVersion: f.kubernetesVersion, SonobuoyVersion: f.sonobuoyVersion, SystemdLogs: f.systemdLogs}
			var inv *inventory.Inventory
			if f.fromCluster {
				if f.release != "" {
					return cliutil.UsageError("--release and --from-cluster both choose the release: pass one")
				}
				co := inventory.ClusterOptions{Options: opts, Namespace: f.kube.Namespace, Image: f.conformanceImage, Timeout: f.clusterTimeout}
				if f.arch != "" {
					a, err := arch.Parse(f.arch)
					if err != nil {
						return cliutil.UsageError("--arch: %v", err)
					}
					co.NodeArch = a.GOARCH
				}
				cs, _, err := f.kube.Clientset()
				if err != nil {
					return cliutil.WithExitCode(cliutil.ExitUsage, err)
				}
				co.Client = cs
				co.Progress = func(msg string) { fmt.Fprintln(streams.ErrOut, msg) }
				if inv, err = inventory.FromCluster(cmd.Context(), co); err != nil {
					return err
				}
			} else {
				r, err := releaseFlag(streams, f.release)
				if err != nil {
					return err
				}
				if inv, err = inventory.ForRelease(r, opts); err != nil {
					return cliutil.WithExitCode(cliutil.ExitUsage, err)
				}
			}
			return f.out.Print(streams.Out, inv, func(w io.Writer) error { return listTable(w, inv) })
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.release, "release", "", "Kubernetes release (v1.34); default the newest confrun knows")
	fs.StringVar(&f.kubernetesVersion, "kubernetes-version", "", "tag of the conformance image (default: the release's newest patch confrun knows)")
	fs.StringVar(&f.sonobuoyVersion, "sonobuoy-version", "", "tag of the sonobuoy image (default: "+inventory.SonobuoyVersion()+")")
	fs.BoolVar(&f.systemdLogs, "systemd-logs", false, "include sonobuoy's systemd-logs plugin image (when your run uses that plugin)")
	fs.BoolVar(&f.fromCluster, "from-cluster", false, "ask the cluster's conformance image (e2e.test --list-images in a pod)")
	fs.StringVar(&f.conformanceImage, "conformance-image", "", "with --from-cluster: the image to run (default registry.k8s.io/conformance:<server version>)")
	fs.StringVar(&f.arch, "arch", "", "with --from-cluster: run the pod on a node of this architecture")
	fs.DurationVar(&f.clusterTimeout, "cluster-timeout", 5*time.Minute, "with --from-cluster: time limit for the pod")
	f.kube.AddFlags(fs, "default")
	f.out = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}

// releaseFlag parses --release, defaulting to the newest embedded release
// with a note.
func releaseFlag(streams cliutil.IOStreams, s string) (release.Release, error) {
	if s == "" {
		r := release.Latest()
		fmt.Fprintf(streams.ErrOut, "note: no --release: using %s, the newest confrun knows\n", r)
		return r, nil
	}
	r, err := release.Parse(s)
	if err != nil {
		return r, cliutil.UsageError("--release: %v", err)
	}
	if err := release.Check(r); err != nil {
		return r, cliutil.UsageError("%v; for a newer cluster use --from-cluster", err)
	}
	return r, nil
}

func listTable(w io.Writer, inv *inventory.Inventory) error {
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "IMAGE\tKIND\tROLES\tREPO-LIST KEY\tPULL")
	notPulled := 0
	for _, im := range inv.Images {
		pull := "yes"
		if !im.Pull {
			pull, notPulled = "no", notPulled+1
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", im.Ref, im.Kind, dash(strings.Join(im.Roles, ",")), dash(im.RegistryKey), pull)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d images for %s (read from k8s.io/kubernetes %s); %d to pull, %d not meant to be pulled (-o yaml says why).\n",
		len(inv.Images), inv.Release, inv.Module, len(inv.Images)-notPulled, notPulled)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
