package sonorun

import (
	"context"
	"testing"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/aggregation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestDbgWatch(t *testing.T) {
	cs := fake.NewClientset(aggregatorPod(aggregation.Status{Status: "running"}))
	ctx := context.Background()
	start := time.Now()
	n := 0
	_, err := Watch(ctx, cs, "sonobuoy", func(u Update) {
		n++
		t.Logf("%v obs %d %s", time.Since(start), n, u.Phase)
		if n == 1 {
			go func() {
				p := aggregatorPod(aggregation.Status{Status: "complete"})
				_, err := cs.CoreV1().Pods("sonobuoy").Update(ctx, p, metav1.UpdateOptions{})
				t.Logf("%v updated %v", time.Since(start), err)
			}()
		}
	})
	t.Logf("%v returned %v", time.Since(start), err)
}
