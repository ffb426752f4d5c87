package prepull

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// DefaultSocket is where containerd listens on most nodes.
const DefaultSocket = "/run/containerd/containerd.sock"

// kubeadmSocketAnnotation is kubeadm's record of a node's CRI socket.
const kubeadmSocketAnnotation = "kubeadm.alpha.kubernetes.io/cri-socket"

// Sockets says where each node's containerd socket is.
type Sockets struct {
	// Default is used for nodes nothing else is known about.
	Default string
	// PerNode overrides the socket of named nodes.
	PerNode map[string]string
	// Discover asks the cluster: the node's kubeadm annotation, then the
	// kubelet's own configuration (containerRuntimeEndpoint, read through
	// the apiserver's node proxy, one request per node).
	Discover bool
}

// ParseSocketFlag reads --containerd-socket values: PATH sets the default,
// NODE=PATH one node's socket.
func ParseSocketFlag(values []string) (Sockets, error) {
	s := Sockets{Default: DefaultSocket, PerNode: map[string]string{}, Discover: true}
	for _, v := range values {
		node, path, ok := strings.Cut(v, "=")
		if !ok {
			path, node = v, ""
		}
		path = strings.TrimPrefix(path, "unix://")
		if !strings.HasPrefix(path, "/") {
			return s, fmt.Errorf("--containerd-socket %q: want an absolute path or NODE=/absolute/path", v)
		}
		if node == "" {
			s.Default = path
			s.Discover = false // an explicit default is the user's word
		} else {
			s.PerNode[node] = path
		}
	}
	return s, nil
}

// Socket returns the socket path of node and where it came from.
func (s Sockets) Socket(ctx context.Context, client kubernetes.Interface, node *corev1.Node) (path, source string) {
	if p, ok := s.PerNode[node.Name]; ok {
		return p, "--containerd-socket"
	}
	if s.Discover {
		if p := endpointPath(node.Annotations[kubeadmSocketAnnotation]); p != "" {
			return p, "node annotation " + kubeadmSocketAnnotation
		}
		if p := kubeletEndpoint(ctx, client, node.Name); p != "" {
			return p, "kubelet configz containerRuntimeEndpoint"
		}
	}
	def := s.Default
	if def == "" {
		def = DefaultSocket
	}
	return def, "default"
}

// endpointPath turns a CRI endpoint (unix:///run/x.sock or a path) into a
// path; other schemes give "".
func endpointPath(ep string) string {
	ep = strings.TrimSpace(ep)
	switch {
	case strings.HasPrefix(ep, "unix://"):
		return strings.TrimPrefix(ep, "unix://")
	case strings.HasPrefix(ep, "/"):
		return ep
	}
	return ""
}

// kubeletEndpoint reads containerRuntimeEndpoint from the kubelet's
// /configz through the apiserver (needs nodes/proxy; "" on any failure).
func kubeletEndpoint(ctx context.Context, client kubernetes.Interface, node string) string {
	rc := client.CoreV1().RESTClient()
	if c, ok := rc.(*rest.RESTClient); rc == nil || (ok && c == nil) {
		return "" // fake clients have no REST client behind them
	}
	b, err := rc.Get().AbsPath("/api/v1/nodes", node, "proxy", "configz").DoRaw(ctx)
	if err != nil {
		return ""
	}
	var cfg struct {
		KubeletConfig struct {
			ContainerRuntimeEndpoint string `json:"containerRuntimeEndpoint"`
		} `json:"kubeletconfig"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return endpointPath(cfg.KubeletConfig.ContainerRuntimeEndpoint)
}
