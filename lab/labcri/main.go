// Command labcri stops and removes every pod sandbox of one containerd
// through the CRI API, so that the runtime runs CNI DEL (veths, IP leases,
// hostport rules) and unmounts what it mounted. lab-down uses it before it
// stops the kubelets' runtimes; crictl is not packaged for Debian bookworm.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("runtime-endpoint", "", "CRI endpoint, unix:///path/to/containerd.sock")
	removeAll := flag.Bool("remove-all", false, "stop and remove every pod sandbox")
	flag.Parse()
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "labcri: -runtime-endpoint is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, *endpoint, *removeAll); err != nil {
		fmt.Fprintf(os.Stderr, "labcri: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint string, removeAll bool) error {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", endpoint, err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing pod sandboxes: %w", err)
	}
	var failed int
	for _, s := range list.Items {
		name := s.GetMetadata().GetNamespace() + "/" + s.GetMetadata().GetName()
		if !removeAll {
			fmt.Printf("%s\t%s\t%s\n", s.Id[:12], s.State, name)
			continue
		}
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "labcri: stopping %s: %v\n", name, err)
			failed++
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "labcri: removing %s: %v\n", name, err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d pod sandboxes not removed", failed, len(list.Items))
	}
	return nil
}
