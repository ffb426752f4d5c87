package cliutil

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeFlags are the kubectl connection flags: --kubeconfig, --context and
// -n/--namespace, resolved the way kubectl resolves them (flag, then
// $KUBECONFIG, then ~/.kube/config, then in-cluster).
type KubeFlags struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// AddFlags registers the flags on fs with defaultNamespace as -n's default.
func (k *KubeFlags) AddFlags(fs *pflag.FlagSet, defaultNamespace string) {
	fs.StringVar(&k.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&k.Context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&k.Namespace, "namespace", "n", defaultNamespace, "the namespace confrun creates its objects in")
}

func (k *KubeFlags) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.Kubeconfig != "" {
		rules.ExplicitPath = k.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.Context}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// RESTConfig resolves the flags into a client configuration.
func (k *KubeFlags) RESTConfig() (*rest.Config, error) {
	cfg, err := k.loader().ClientConfig()
	if err != nil {
		where := "the default kubeconfig ($KUBECONFIG or ~/.kube/config)"
		if k.Kubeconfig != "" {
			where = k.Kubeconfig
		}
		return nil, fmt.Errorf("loading cluster credentials from %s: %w (pass --kubeconfig and --context to choose a cluster)", where, err)
	}
	cfg.UserAgent = "confrun"
	return cfg, nil
}

// Clientset returns a typed client for the chosen cluster.
func (k *KubeFlags) Clientset() (kubernetes.Interface, *rest.Config, error) {
	cfg, err := k.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	return cs, cfg, nil
}
