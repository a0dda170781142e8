package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxInFlight is the most requests one client has in flight. A client
// that reaches it waits for a response before it sends the next request.
const maxInFlight = 32

// requestTimeout bounds each API request.
const requestTimeout = 10 * time.Second

// loadStats holds the client-side measurements of one population.
type loadStats struct {
	requests  atomic.Int64 // requests that completed, failed ones included
	failures  atomic.Int64 // transport errors and responses other than 2xx
	transport atomic.Int64 // transport errors
	rejected  atomic.Int64 // 401 responses that reached the client

	mu        sync.Mutex      // guards latencies
	latencies []time.Duration // of the requests that got a response
}

// record adds the outcome of one request.
func (s *loadStats) record(status int, err error, latency time.Duration) {
	s.requests.Add(1)
	switch {
	case err != nil:
		s.failures.Add(1)
		s.transport.Add(1)
	case status < 200 || status > 299:
		s.failures.Add(1)
	}
	if status == 401 {
		s.rejected.Add(1)
	}
	if status != 0 {
		s.mu.Lock()
		s.latencies = append(s.latencies, latency)
		s.mu.Unlock()
	}
}

// drive sends requests from each client of p at rate per second until
// loadCtx ends, with contexts derived from reqCtx. Requests are sent on
// a schedule, not after the previous response, so that a request that
// waits for a token does not delay the next ones. It returns when every
// request has completed.
func (p *population) drive(loadCtx, reqCtx context.Context, rate float64) {
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	for i, c := range p.clients {
		// Spread the clients over the interval, so that they do not all
		// send at the same moment.
		offset := interval * time.Duration(i) / time.Duration(len(p.clients))
		wg.Go(func() { p.driveClient(loadCtx, reqCtx, c, offset, interval) })
	}
	wg.Wait()
}

// driveClient sends a request from c every interval, starting after
// offset, until loadCtx ends, and waits for the requests in flight.
func (p *population) driveClient(loadCtx, reqCtx context.Context, c apiClient, offset, interval time.Duration) {
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	slots := make(chan struct{}, maxInFlight)

	start := time.NewTimer(offset)
	defer start.Stop()
	select {
	case <-loadCtx.Done():
		return
	case <-start.C:
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-loadCtx.Done():
			return
		}
		inFlight.Go(func() {
			defer func() { <-slots }()
			p.send(reqCtx, c)
		})
		select {
		case <-ticker.C:
		case <-loadCtx.Done():
			return
		}
	}
}

// send sends one request from c and records it. Latency runs from the
// moment the request is sent until its response body has been read. A
// request cut short because reqCtx ended is not recorded.
func (p *population) send(reqCtx context.Context, c apiClient) {
	ctx, cancel := context.WithTimeout(reqCtx, requestTimeout)
	defer cancel()
	start := time.Now()
	status, err := c.do(ctx)
	latency := time.Since(start)
	if err != nil && reqCtx.Err() != nil {
		return
	}
	p.load.record(status, err, latency)
}

// stallPeriod is the period of the timer that stallMonitor watches.
const stallPeriod = 10 * time.Millisecond

// stallMonitor measures how late a short timer fires: the longest time
// the process waited for a CPU, which adds to every latency measured
// meanwhile, and can push a token refresh past its margin.
type stallMonitor struct {
	max  atomic.Int64 // the maximum delay, as a time.Duration
	done chan struct{}
}

// startStallMonitor watches the timers of the process until ctx ends.
func startStallMonitor(ctx context.Context) *stallMonitor {
	m := &stallMonitor{done: make(chan struct{})}
	go func() {
		defer close(m.done)
		timer := time.NewTimer(stallPeriod)
		defer timer.Stop()
		for {
			start := time.Now()
			timer.Reset(stallPeriod)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			if late := time.Since(start) - stallPeriod; late > time.Duration(m.max.Load()) {
				m.max.Store(int64(late))
			}
		}
	}()
	return m
}

// wait waits until the monitor stopped and returns the maximum delay.
func (m *stallMonitor) wait() time.Duration {
	<-m.done
	return time.Duration(m.max.Load())
}

// progress writes one progress line to w every period until stop is
// called. On a terminal the line is redrawn in place.
type progress struct {
	stopOnce sync.Once
	stopped  chan struct{}
	done     chan struct{}
}

// startProgress starts writing the progress of pops to w.
func startProgress(w io.Writer, pops []*population, duration time.Duration, inPlace bool) *progress {
	pr := &progress{stopped: make(chan struct{}), done: make(chan struct{})}
	period := 5 * time.Second
	if inPlace {
		period = 500 * time.Millisecond
	}
	start := time.Now()
	go func() {
		defer close(pr.done)
		ticker := time.NewTicker(period)
		defer ticker.Stop()
		for {
			select {
			case <-pr.stopped:
				if inPlace {
					fmt.Fprintf(w, "\r%s\n", progressLine(time.Since(start), duration, pops))
				}
				return
			case <-ticker.C:
				line := progressLine(time.Since(start), duration, pops)
				if inPlace {
					fmt.Fprintf(w, "\r%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return pr
}

// stop stops pr and waits until it wrote its last line.
func (pr *progress) stop() {
	pr.stopOnce.Do(func() { close(pr.stopped) })
	<-pr.done
}

// progressLine returns the progress of pops after elapsed of duration.
func progressLine(elapsed, duration time.Duration, pops []*population) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs/%v", min(elapsed, duration).Seconds(), duration)
	for _, p := range pops {
		fmt.Fprintf(&b, "  %s %d req %d failed", p.name, p.load.requests.Load(), p.load.failures.Load())
	}
	return b.String()
}

// isTerminal reports whether w is a terminal (a character device), where
// the progress line can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// lockedWriter serializes the writes to w, which the logger and the
// progress line share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
