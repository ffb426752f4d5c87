// Package helper implements the hidden `confrun helper` verb: the small
// jobs confrun's own binary does inside the pods it starts on nodes (the
// helper image holds nothing but /confrun).
package helper

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/prepull"
	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// NewCommand returns `confrun helper`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "helper",
		Short:  "Jobs confrun runs inside the pods it starts (not for direct use)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	cmd.AddCommand(newInstall(streams), newSleep(), newNodePull(streams))
	return cmd
}

func newInstall(streams cliutil.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "install DIR",
		Short: "Copy this binary to DIR/confrun (the init container of a pod-mode prepull pod)",
		Example: `  # in the helper image, with an emptyDir at /confrun-shared
  /confrun helper install /confrun-shared`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			dst, err := prepull.InstallHelper(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(streams.Out, dst)
			return nil
		},
	}
}

func newSleep() *cobra.Command {
	return &cobra.Command{
		Use:     "sleep",
		Short:   "Block until SIGTERM or SIGINT, then exit 0 (the container of each pre-pulled image)",
		Example: `  /confrun-shared/confrun helper sleep`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			<-cmd.Context().Done()
			return nil
		},
	}
}

type nodePullFlags struct {
	address, namespace, platform, imagesJSON, terminationLog string
	runtimePlatform                                          string
	parallel                                                 int
	check                                                    bool
}

func newNodePull(streams cliutil.IOStreams) *cobra.Command {
	f := nodePullFlags{}
	cmd := &cobra.Command{
		Use:   "node-pull --address SOCKET --platform linux/ARCH --images-json JSON",
		Short: "Pull images into this node's containerd for a platform and name them under their upstream names",
		Long: `Runs in confrun's privileged node-mode pod, with the node's containerd socket
mounted. Each image is pulled through the CRI ImageService (so containerd uses
the node's registry configuration), by the digest of its manifest for
--platform when one is given, then named in containerd's k8s.io namespace
under its target and upstream names, and checked with CRI ImageStatus.
Prints one JSON line per image and a final {"done":...} line.`,
		Example: `  confrun helper node-pull --address /run/containerd/containerd.sock --platform linux/mips64le \
    --images-json '[{"target":"127.0.0.1:5000/cke/agnhost-mips64el:2.56","upstreams":["registry.k8s.io/e2e-test-images/agnhost:2.56"]}]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var images []nodepull.Image
			if err := json.Unmarshal([]byte(f.imagesJSON), &images); err != nil {
				return cliutil.UsageError("--images-json: %v", err)
			}
			if len(images) == 0 {
				return cliutil.UsageError("--images-json lists no image")
			}
			tlog := f.terminationLog
			if tlog == "" {
				if _, err := os.Stat("/dev/termination-log"); err == nil {
					tlog = "/dev/termination-log"
				}
			}
			return nodepull.Execute(cmd.Context(), nodepull.ExecOptions{
				Options: nodepull.Options{Images: images, Platform: f.platform, RuntimePlatform: f.runtimePlatform,
					Parallel: f.parallel, CheckOnly: f.check},
				Address: f.address, Namespace: f.namespace, TerminationLog: tlog,
			}, streams.Out)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.address, "address", prepull.DefaultSocket, "containerd's socket")
	fs.StringVar(&f.namespace, "namespace", nodepull.DefaultNamespace, "containerd namespace of the CRI plugin")
	fs.StringVar(&f.platform, "platform", "linux/"+runtime.GOARCH, "the node's platform (kubernetes.io/arch)")
	fs.StringVar(&f.runtimePlatform, "runtime-platform", "linux/"+runtime.GOARCH,
		"the platform containerd picks from an index (its host's; this binary was pulled for it)")
	fs.StringVar(&f.imagesJSON, "images-json", "", `images: [{"target":REF,"upstreams":[REF...],"digest":"sha256:..."}]`)
	fs.StringVar(&f.terminationLog, "termination-log", "", "file for the short results (default /dev/termination-log when it exists)")
	fs.IntVar(&f.parallel, "parallel", 4, "concurrent pulls")
	fs.BoolVar(&f.check, "check", false, "only report which images are present")
	return cmd
}
