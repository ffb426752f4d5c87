package parallel

import (
	"sync"
	"testing"
)

func TestMapOrderLimitAndReports(t *testing.T) {
	var mu sync.Mutex
	now, peak := 0, 0
	reports := 0
	got := Map(50, 3, func(i int) int {
		mu.Lock()
		now++
		peak = max(peak, now)
		mu.Unlock()
		defer func() { mu.Lock(); now--; mu.Unlock() }()
		return i * i
	}, func(done, v int) {
		reports++
		if done != reports {
			t.Errorf("done %d on report %d", done, reports)
		}
	})
	for i, v := range got {
		if v != i*i {
			t.Fatalf("result %d = %d", i, v)
		}
	}
	if reports != 50 || peak > 3 {
		t.Errorf("%d reports, %d in flight at most (limit 3)", reports, peak)
	}
	if len(Map(0, 3, func(int) int { return 1 }, nil)) != 0 {
		t.Error("no items gave results")
	}
}
