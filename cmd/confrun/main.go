// Command confrun takes a Kubernetes cluster on any CPU architecture from
// "nothing runs" to an opened k8s-conformance pull request.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/confrun/confrun/cmd/confrun/app"
	"github.com/confrun/confrun/internal/cliutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], cliutil.StdStreams())
	stop()
	os.Exit(code)
}
