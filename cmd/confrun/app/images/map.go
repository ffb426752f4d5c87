package images

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap"
)

type mapFlags struct {
	opts        imagemap.MakeOptions
	systemdLogs bool
	out         string
	repoList    string
	dryRun      bool
	force       bool
	output      *cliutil.OutputFlag
}

func newMap(streams cliutil.IOStreams) *cobra.Command {
	f := &mapFlags{}
	cmd := &cobra.Command{
		Use:   "map --arch ARCH [--config imagemap.yaml] [--default-registry R] [--rule MATCH=TEMPLATE]...",
		Short: "Resolve every upstream image to your architecture's image and write imagemap.yaml",
		Long: `map resolves each image of the release (see 'confrun images list') to a target,
trying in order:

  1. an override for that exact image       (--override UPSTREAM=TARGET, overrides:)
  2. the first rule whose match is a prefix  (--rule MATCH=TEMPLATE, rules:)
     of the image's registry/repository
  3. the default registry, under the image's upstream repository path
  4. else the upstream image itself

A rule's target is a Go template with {{.Registry}} {{.Repository}} {{.Name}}
{{.Rest}} {{.Tag}} {{.Digest}} {{.Arch}} (Go name, mips64le) {{.DebArch}}
(Debian name, mips64el) {{.Uname}} {{.DefaultRegistry}} and the functions
replace OLD NEW, lower, trimPrefix PREFIX. MATCH is a registry, a repository
prefix (whole path elements) or "*".

Images not meant to be pulled keep their upstream name unless overridden.

It writes the map to --out (imagemap.yaml): the settings and the resolved table,
which you may edit (edit rules and overrides and run map again with
--config; a target edited in the table is kept as an override). With
--repo-list it also writes the e2e repo list (KUBE_TEST_REPO_LIST, for
'sonobuoy --e2e-repo-config' or 'hydrophone --test-repo-list') when every
remap is a registry change; otherwise it says which images rename and exits 1.`,
		Example: `  # The lab's naming: 127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56
  confrun images map --arch mips64el --release v1.34 --default-registry 127.0.0.1:5000 \
    --rule 'registry.k8s.io={{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}' \
    --rule 'docker.io/sonobuoy={{.DefaultRegistry}}/cke/sonobuoy/{{.Name}}-{{.DebArch}}:{{.Tag}}'

  # A mirror with upstream paths, and the repo list that points the suite at it
  confrun images map --arch loong64 --release v1.34 --default-registry mirror.example:5000 \
    --repo-list repo-list.yaml

  # Edit imagemap.yaml, then resolve it again in place
  confrun images map --config imagemap.yaml --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.output.Validate(); err != nil {
				return err
			}
			if cmd.Flags().Changed("systemd-logs") {
				f.opts.SystemdLogs = &f.systemdLogs
			}
			m, inv, notes, err := imagemap.Make(f.opts)
			if err != nil {
				return cliutil.WithExitCode(cliutil.ExitUsage, err)
			}
			warn(streams, notes)
			if err := f.output.Print(streams.Out, m.File(), func(w io.Writer) error { return mapTable(w, m) }); err != nil {
				return err
			}
			if f.dryRun {
				return nil
			}
			if err := m.WriteFile(f.out, f.force); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "wrote %s (%d images, %d to pull)\n", f.out, len(m.Entries()), len(m.Pulled()))
			if f.repoList == "" {
				return nil
			}
			rl, err := m.RepoList(inv.RegistryKeys)
			if err != nil {
				return err
			}
			if err := rl.WriteFile(f.repoList, f.force); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "wrote %s: sonobuoy run --e2e-repo-config %s (hydrophone: --test-repo-list %s)\n", f.repoList, f.repoList, f.repoList)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.opts.Config, "config", "", "start from this image map (its settings, and targets edited by hand)")
	fs.StringVar(&f.opts.Arch, "arch", "", "architecture of your images: mips64el, loong64, riscv64, ... (Debian, Go and uname names)")
	fs.StringVar(&f.opts.Release, "release", "", "Kubernetes release (v1.34); default: the config's, else the newest confrun knows")
	fs.StringVar(&f.opts.DefaultRegistry, "default-registry", "", "registry[/path] for images no override or rule maps")
	fs.StringArrayVar(&f.opts.Rules, "rule", nil, "MATCH=TEMPLATE, added after the config's rules (repeatable)")
	fs.StringArrayVar(&f.opts.Overrides, "override", nil, "UPSTREAM=TARGET for one image (repeatable)")
	fs.StringVar(&f.opts.KubernetesVersion, "kubernetes-version", "", "tag of the conformance image (default: the release's newest patch confrun knows)")
	fs.StringVar(&f.opts.SonobuoyVersion, "sonobuoy-version", "", "tag of the sonobuoy image")
	fs.BoolVar(&f.systemdLogs, "systemd-logs", false, "include sonobuoy's systemd-logs plugin image")
	fs.StringVar(&f.out, "out", "imagemap.yaml", "where to write the image map")
	fs.StringVar(&f.repoList, "repo-list", "", "also write the e2e repo list here (KUBE_TEST_REPO_LIST)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the map, write nothing")
	fs.BoolVar(&f.force, "force", false, "overwrite existing files")
	f.output = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}

func mapTable(w io.Writer, m *imagemap.Map) error {
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "UPSTREAM\tTARGET\tVIA\tPULL")
	for _, e := range m.Entries() {
		target := e.Target
		if target == e.Upstream {
			target = "(same)"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", e.Upstream, target, e.Via, yesNo(e.Pull))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s, %s: %d images, %d to pull.\n", m.Release(), m.Arch().Platform(), len(m.Entries()), len(m.Pulled()))
	return nil
}
