// Package imagemap maps every image a conformance run needs to the image a
// porting team built for its architecture, and reads and writes the map
// (imagemap.yaml) that the other steps use.
//
// The pieces, one job each:
//
//	inventory/  which images a release's run needs (embedded per release,
//	            or asked from the cluster's conformance image)
//	imagemap    (this package) the map: rules, overrides, the resolved
//	            table, imagemap.yaml, the e2e repo list
//	registry/   talking to registries: inspect one reference for an
//	            architecture, copy one image
//	verify/     check every target of a map, concurrently, bounded
//	plan/       for each missing image: its upstream source, VERSION and
//	            base image for the architecture
//	mirror/     copy the targets under upstream-compatible paths and write
//	            the repo list that points the suite at them
//
// # imagemap.yaml
//
//	apiVersion: confrun.dev/v1alpha1
//	kind: ImageMap
//	arch: mips64el                 # any name arch.Parse accepts
//	release: v1.34
//	kubernetesVersion: v1.34.4     # tags the conformance image
//	sonobuoyVersion: v0.57.3
//	defaultRegistry: 127.0.0.1:5000
//	rules:                         # first match wins
//	- match: registry.k8s.io
//	  target: '{{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}'
//	overrides:
//	  registry.k8s.io/pause:3.10.1: 127.0.0.1:5000/cke/pause:3.10.1-mips
//	images:                        # the resolved table, written by `confrun images map`
//	- upstream: registry.k8s.io/e2e-test-images/agnhost:2.56
//	  target: 127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56
//	  kind: e2e
//	  roles: [Agnhost]
//	  pull: true
//	  registryKey: promoterE2eRegistry
//	  via: rule 1
//
// Resolution order per image: overrides, then rules, then defaultRegistry
// (upstream repository path below it), else the upstream reference. Images
// not meant to be pulled (invalid or authenticated registries, names tests
// build at run time) keep their upstream reference unless overridden.
//
// # For the other steps
//
//	m, err := imagemap.LoadMap("imagemap.yaml")
//	for _, e := range m.Pulled() { ... e.Upstream, e.Target ... }
//	conf, ok := m.Image(inventory.RoleConformance)
//	sono, ok := m.Image(inventory.RoleSonobuoy)
//	m.Arch().Platform() // "linux/mips64le"
package imagemap
