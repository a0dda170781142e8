package scenario

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// SlowCall is the latency above which LoadStats counts a call as slow: far
// above a cache read, far below a source call.
const SlowCall = time.Millisecond

// LoadOptions configures the callers of a scenario.
type LoadOptions struct {
	// Goroutines is the number of goroutines that call the cache.
	Goroutines int

	// Duration is how long the goroutines keep calling.
	Duration time.Duration

	// Pace is the pause of each goroutine between two calls. Zero means
	// they call as fast as they can. Inside a testing/synctest bubble it
	// must be positive, because fake time advances only while every
	// goroutine waits.
	Pace time.Duration
}

// LoadStats summarizes the calls of one load run.
type LoadStats struct {
	Calls  uint64 // calls made
	Errors uint64 // calls that returned an error
	Slow   uint64 // calls slower than SlowCall

	// Latency quantiles and maximum of the calls, within the precision
	// of a Histogram.
	P50, P99, P999, Max time.Duration

	SourceCalls int64 // Source calls made during the run
}

// runLoad calls c from opts.Goroutines goroutines for opts.Duration and
// returns the statistics of those calls and of the Source calls made
// meanwhile.
func runLoad(ctx context.Context, c Client, src *Source, opts LoadOptions) LoadStats {
	goroutines := max(opts.Goroutines, 1)
	var (
		errors atomic.Uint64
		mu     sync.Mutex // guards total
		total  Histogram
		wg     sync.WaitGroup
	)
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			h := new(Histogram)
			<-start
			errors.Add(callUntil(ctx, c, h, time.Now().Add(opts.Duration), opts.Pace))
			mu.Lock()
			total.Merge(h)
			mu.Unlock()
		})
	}
	before := src.Calls()
	close(start)
	wg.Wait()

	return LoadStats{
		Calls:       total.Count(),
		Errors:      errors.Load(),
		Slow:        total.CountAbove(SlowCall),
		P50:         total.Quantile(0.50),
		P99:         total.Quantile(0.99),
		P999:        total.Quantile(0.999),
		Max:         total.Max(),
		SourceCalls: src.Calls() - before,
	}
}

// callUntil calls c until deadline, recording each call's latency in h,
// and returns the number of calls that failed.
func callUntil(ctx context.Context, c Client, h *Histogram, deadline time.Time, pace time.Duration) uint64 {
	var failed uint64
	for {
		t0 := time.Now()
		if !t0.Before(deadline) {
			return failed
		}
		_, err := c.Token(ctx)
		h.Record(time.Since(t0))
		if err != nil {
			failed++
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
}
