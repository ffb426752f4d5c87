// Package parallel runs one function per item with a bound on how many run
// at once, and reports each result as it finishes.
package parallel

import "golang.org/x/sync/errgroup"

// Map calls do(i) for i in [0, n) with at most limit calls in flight and
// returns the results in index order. onDone, if set, is called from the
// caller's goroutine as each call finishes, with the number finished so
// far. do must itself honour cancellation.
func Map[T any](n, limit int, do func(i int) T, onDone func(done int, v T)) []T {
	out := make([]T, n)
	finished := make(chan T)
	g := new(errgroup.Group)
	g.SetLimit(max(limit, 1))
	go func() {
		for i := 0; i < n; i++ {
			g.Go(func() error {
				v := do(i)
				out[i] = v
				finished <- v
				return nil
			})
		}
		_ = g.Wait()
		close(finished)
	}()
	done := 0
	for v := range finished {
		done++
		if onDone != nil {
			onDone(done, v)
		}
	}
	return out
}
