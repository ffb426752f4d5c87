// Command coredns is CoreDNS v1.12.1 (the version kubeadm v1.34 deploys)
// with only the plugins the lab's cluster DNS needs compiled in. There is
// deliberately no "forward" plugin: the lab never sends DNS queries off this
// machine; names outside cluster.local get NXDOMAIN/REFUSED.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// directives is the plugin order, a subset of CoreDNS' plugin.cfg order.
// "template" comes after "kubernetes" here (upstream has it before): the
// lab's Corefile uses it as the catch-all NXDOMAIN for names outside the
// cluster zones, which the kubernetes plugin passes on.
var directives = []string{
	"reload", "health", "ready", "errors", "log", "cache",
	"hosts", "kubernetes", "template", "loop", "whoami",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
