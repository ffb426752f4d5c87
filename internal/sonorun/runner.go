package sonorun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/confrun/confrun/internal/progress"
)

// Runner performs runs against one cluster.
type Runner struct {
	Client   kubernetes.Interface
	Sonobuoy *client.SonobuoyClient
	// ErrOut receives progress and problems, meant for a person.
	ErrOut io.Writer
	// TTY selects the live progress bar.
	TTY bool
}

// Start creates the sonobuoy run described by spec. It does not wait.
func (r *Runner) Start(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	gc := spec.GenConfig()
	if err := r.Sonobuoy.Run(&client.RunConfig{GenConfig: *gc}); err != nil {
		return fmt.Errorf("creating the sonobuoy run in namespace %s: %w", gc.Config.Namespace, err)
	}
	return ctx.Err()
}

// Follow watches the run in ns until it is done, showing live progress
// (passed/failed/total, the current test, elapsed and remaining time) and
// printing failures and pod problems as they happen.
func (r *Runner) Follow(ctx context.Context, ns string, started time.Time) (Update, error) {
	bar := progress.New(r.ErrOut, "e2e", 0, progress.Options{TTY: r.TTY})
	seenFailures := map[string]bool{}
	seenProblems := map[string]bool{}
	lastPhase := ""
	u, err := Watch(ctx, r.Client, ns, func(u Update) {
		if u.Phase != lastPhase {
			bar.Printf("sonobuoy: %s (after %s)", u.Phase, time.Since(started).Round(time.Second))
			lastPhase = u.Phase
		}
		for _, p := range u.Problems {
			if !seenProblems[p] {
				seenProblems[p] = true
				bar.Printf("problem: %s", p)
			}
		}
		if pr := u.Progress; pr != nil {
			for _, f := range pr.Failures {
				if !seenFailures[f] {
					seenFailures[f] = true
					bar.Printf("FAILED: %s", f)
				}
			}
			if int(pr.Total) > 0 {
				bar.SetTotal(int(pr.Total))
			}
			bar.Set(int(pr.Completed), fmt.Sprintf("failed %d | %s", len(pr.Failures), strings.TrimSpace(pr.Message)))
		}
	})
	if err == nil {
		if pr := u.Progress; pr != nil && u.Phase == "complete" && pr.Total > 0 {
			bar.Set(int(pr.Total), "") // the plugin finished every spec it counted
		}
		bar.Finish(fmt.Sprintf("%s, e2e result: %s", u.Phase, orUnknown(u.ResultStatus)))
	} else {
		bar.Finish("")
	}
	return u, err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Cleanup deletes what a run created: its namespace, its cluster-scoped
// RBAC objects and namespaces the e2e suite left behind, and waits until
// they are gone.
func (r *Runner) Cleanup(ctx context.Context, ns string, timeout time.Duration) error {
	if err := r.Sonobuoy.Delete(&client.DeleteConfig{Namespace: ns, EnableRBAC: true, DeleteAll: true}); err != nil {
		return fmt.Errorf("deleting the sonobuoy run in %s: %w", ns, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fmt.Fprintf(r.ErrOut, "waiting for namespace %s and sonobuoy's cluster roles to be deleted...\n", ns)
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		if err == nil {
			return false, nil
		}
		crs, err := r.Client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: "component=sonobuoy"})
		if err != nil {
			return false, err
		}
		return len(crs.Items) == 0, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("namespace %s is still terminating after %s: check `kubectl get ns %s -o yaml` for finalizers", ns, timeout, ns)
		}
		return fmt.Errorf("waiting for the run in %s to be deleted: %w", ns, err)
	}
	return nil
}
