package swrtoken

import (
	"context"
	"sync"
	"time"
)

// Default values of PollerOptions fields.
const (
	DefaultPollInterval  = 5 * time.Second
	DefaultMaxConcurrent = 8
)

// PollerOptions configures a Poller. The zero value is valid.
type PollerOptions struct {
	// Interval is the time between two passes over the cache. Zero means
	// DefaultPollInterval (5s). It should be well below the cache's
	// RefreshLeeway, or tokens may turn stale between two passes.
	Interval time.Duration

	// MaxConcurrent is the most fetches one pass runs at a time, so that
	// many tokens due together do not reach the issuer at once. Zero
	// means DefaultMaxConcurrent (8).
	MaxConcurrent int
}

// A Poller renews a cache's tokens before readers see them stale. On each
// pass it refreshes, in the background, every key in use whose token will
// become stale before the next pass ends, allowing for how long the key's
// last fetch took. Keys that are idle (see Options.IdleTimeout), already
// unusable, fetching or backing off are skipped, and idle keys with an
// unusable token are removed.
//
// One goroutine runs the passes, so passes never overlap; a pass that
// lasts longer than Interval delays the next one. Stop ends it.
type Poller struct {
	cache         *Cache
	interval      time.Duration
	maxConcurrent int

	stopOnce sync.Once
	stop     chan struct{}  // closed by Stop
	done     chan struct{}  // closed when every goroutine returned
	waiters  sync.WaitGroup // goroutines that wait for a pass's fetches
}

// StartPoller starts a poller for c. The caller must call Stop, and
// should stop the poller before it closes c.
func StartPoller(c *Cache, opts PollerOptions) *Poller {
	p := &Poller{
		cache:         c,
		interval:      opts.Interval,
		maxConcurrent: opts.MaxConcurrent,
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
	}
	if p.interval <= 0 {
		p.interval = DefaultPollInterval
	}
	if p.maxConcurrent <= 0 {
		p.maxConcurrent = DefaultMaxConcurrent
	}
	go p.run()
	return p
}

// Stop stops the poller and waits for its goroutine to return. The pass
// in progress, if any, starts no more fetches. The fetches it started
// belong to the cache and go on until they end or the cache is closed.
// Calling Stop again does nothing.
func (p *Poller) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

func (p *Poller) run() {
	defer close(p.done)
	defer p.waiters.Wait()
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-ticker.C:
			p.pass()
		}
	}
}

// pass starts the refreshes that are due and waits for them, at most
// maxConcurrent at a time, unless the poller is stopped.
func (p *Poller) pass() {
	c := p.cache
	now := c.now()
	horizon := now + p.interval
	slots := make(chan struct{}, p.maxConcurrent)
	c.entries.Range(func(_, v any) bool {
		e := v.(*entry)
		if !p.due(e, now, horizon) {
			return true
		}
		select {
		case slots <- struct{}{}:
		case <-p.stop:
			return false
		}
		f := p.start(e, now)
		if f == nil {
			<-slots
			return true
		}
		p.waiters.Add(1)
		go func() {
			defer p.waiters.Done()
			select {
			case <-f.done:
			case <-p.stop:
			}
			<-slots
		}()
		return true
	})
	c.sweep(now)
	// Wait for the last fetches, so that the next pass finds them done.
	for range cap(slots) {
		select {
		case slots <- struct{}{}:
		case <-p.stop:
			return
		}
	}
}

// due reports whether e's token turns stale before horizon plus the
// duration of its last fetch.
func (p *Poller) due(e *entry, now, horizon time.Duration) bool {
	if e.idle(now, p.cache.opts.IdleTimeout) || e.fetching.Load() {
		return false
	}
	s := e.current.Load()
	if s == nil || now >= s.unusableAt {
		return false
	}
	return horizon+time.Duration(e.lastFetchTime.Load()) >= s.staleAt
}

// start starts a background fetch for e unless one is running, e is
// backing off or the cache is closed.
func (p *Poller) start(e *entry, now time.Duration) *flight {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil || now < e.retryAt {
		return nil
	}
	f, err := p.cache.startFetch(context.Background(), e, true)
	if err != nil {
		return nil
	}
	return f
}
