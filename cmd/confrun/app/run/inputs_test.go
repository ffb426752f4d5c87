package run

import (
	"reflect"
	"testing"

	"github.com/confrun/confrun/internal/prepull"
)

func TestPrepullStatusMissing(t *testing.T) {
	r := &prepull.Report{Nodes: []prepull.NodeReport{
		{PlanNode: prepull.PlanNode{Name: "n1"}, Images: []prepull.ImageResult{
			{Target: "reg/agnhost:2.56", Status: prepull.StatusPresent},
			{Target: "reg/busybox:1.37", Status: prepull.StatusPulled},
		}},
		{PlanNode: prepull.PlanNode{Name: "n2"}, Images: []prepull.ImageResult{
			{Target: "reg/agnhost:2.56", Status: prepull.StatusFailed},
		}},
		{PlanNode: prepull.PlanNode{Name: "n3", Skipped: "cordoned"}},
	}}
	got := prepullStatus{r}.Missing([]string{"n1", "n2", "n3", "n4"})
	want := []string{
		"n2: reg/agnhost:2.56 (failed)",
		"n3: not covered by the prepull report",
		"n4: not covered by the prepull report",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
