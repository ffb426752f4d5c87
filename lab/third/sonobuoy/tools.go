//go:build tools

// Package tools pins the sonobuoy program (aggregator and worker) that the
// lab's sonobuoy image carries; its own dependency versions come from
// sonobuoy's go.mod, untouched by Kubernetes'.
package tools

import _ "github.com/vmware-tanzu/sonobuoy"
