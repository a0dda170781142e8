package swrtoken

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// flight is one call to the Fetcher for a key.
type flight struct {
	seq  uint64        // the entry's sequence number of this fetch
	done chan struct{} // closed when value and err are set

	// result and err are written, under the entry's mutex, before done
	// is closed, and only read after it is closed.
	result *snapshot
	err    error

	completed bool // guarded by the entry's mutex
}

// startFetch starts a fetch for e in a new goroutine and records it as
// e's flight. The caller holds e.mu. The fetch keeps ctx's values but not
// its cancellation: the caller that triggers a shared fetch may give up,
// and the others still need the result.
func (c *Cache) startFetch(ctx context.Context, e *entry, background bool) (*flight, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.fetches.Add(1)
	c.mu.Unlock()

	e.started++
	f := &flight{seq: e.started, done: make(chan struct{})}
	e.flight = f
	e.fetching.Store(true)
	c.stats.fetches.Add(1)
	if background {
		c.stats.backgroundFetches.Add(1)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	go c.fetch(context.WithoutCancel(ctx), e, f)
	return f, nil
}

// fetch calls the Fetcher for e and completes f with the result. When the
// fetch times out, f completes with the timeout error at once, so waiting
// callers are released and a later call may start a new fetch. A result
// that the Fetcher returns after that is still cached, unless a newer
// fetch has cached one.
func (c *Cache) fetch(parent context.Context, e *entry, f *flight) {
	defer c.fetches.Done()
	ctx, cancel := context.WithTimeout(parent, c.opts.FetchTimeout)
	defer cancel()
	stopOnClose := context.AfterFunc(c.closeCtx, cancel)
	defer stopOnClose()
	// The completion on timeout runs on a goroutine of its own and calls
	// the hooks. Close waits only for this goroutine, so this goroutine
	// waits for that one before it returns.
	timeoutDone := make(chan struct{})
	stopOnTimeout := context.AfterFunc(ctx, func() {
		defer close(timeoutDone)
		err := fmt.Errorf("fetch did not return: %w", context.Cause(ctx))
		if c.closeCtx.Err() != nil {
			err = ErrClosed
		}
		c.complete(e, f, nil, err, 0)
	})
	defer func() {
		if !stopOnTimeout() {
			<-timeoutDone
		}
	}()

	startWall := time.Now()
	start := c.now()
	tok, err := c.callFetcher(ctx, e.key)
	elapsed := c.now() - start
	if err != nil && c.closeCtx.Err() != nil {
		// Close cancelled the fetch. Report ErrClosed, as the completion
		// on timeout does, because either of the two may complete f first.
		err = ErrClosed
	}
	var s *snapshot
	if err == nil {
		s, err = c.newSnapshot(tok, start, startWall, start+elapsed)
	}
	c.complete(e, f, s, err, elapsed)
	c.maybeSweep()
}

// callFetcher calls the Fetcher and turns a panic into an error.
func (c *Cache) callFetcher(ctx context.Context, key string) (tok Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrFetchPanicked, r)
		}
	}()
	return c.fetcher.Fetch(ctx, key)
}

// newSnapshot checks a fetched token and computes its times on c's scale
// from start, the time at which its fetch started. A token that is
// unusable at end, when the fetch returned, is an error, so that no caller
// receives a token with MinRemaining or less left.
func (c *Cache) newSnapshot(tok Token, start time.Duration, startWall time.Time, end time.Duration) (*snapshot, error) {
	life, err := tok.lifetime(startWall)
	if err != nil {
		return nil, err
	}
	// A lifetime near the largest time.Duration would overflow the
	// times below; no token needs more than this.
	const maxLifetime = 100 * 365 * 24 * time.Hour
	life = min(life, maxLifetime)

	minRemaining := c.opts.MinRemaining
	floor := ""
	if wholeSecondClaims(tok) {
		floor = " (at least 1s for iat and exp of whole seconds)"
		// The issuer truncated iat to the second, so the token may have
		// been minted up to a second after iat and ends up to a second
		// before start + life. Keeping at least that second unused keeps
		// an expired token from being handed out.
		minRemaining = max(minRemaining, time.Second)
	}
	if life <= minRemaining {
		return nil, fmt.Errorf("%w: lifetime %v, MinRemaining %v%s",
			ErrLifetimeTooShort, life, c.opts.MinRemaining, floor)
	}

	leeway := max(min(c.opts.RefreshLeeway, life/2), minRemaining)
	expires := start + life
	if end >= expires-minRemaining {
		return nil, fmt.Errorf("%w: the fetch took %v of the token's %v lifetime",
			ErrLifetimeTooShort, end-start, life)
	}
	return &snapshot{
		tok:        tok,
		fetchedAt:  start,
		staleAt:    expires - leeway,
		unusableAt: expires - minRemaining,
		expires:    expires,
	}, nil
}

// wholeSecondClaims reports whether tok's lifetime comes from iat and
// exp claims of whole seconds, the usual precision of a JWT NumericDate.
func wholeSecondClaims(tok Token) bool {
	return tok.Lifetime <= 0 && !tok.IssuedAt.IsZero() && tok.IssuedAt.Nanosecond() == 0
}

// complete records the result of f, releases its waiters the first time
// it is called for f, and runs the hooks. A snapshot s is cached unless a
// fetch started after f has already cached one.
func (c *Cache) complete(e *entry, f *flight, s *snapshot, err error, elapsed time.Duration) {
	e.mu.Lock()
	now := c.now()
	first := !f.completed
	f.completed = true
	if e.flight == f {
		e.flight = nil
		e.fetching.Store(false)
	}

	stored := false
	var fetchErr *FetchError
	switch {
	case err != nil && first:
		e.failures++
		e.lastErr = err
		e.retryAt = c.retryTime(e, now)
		e.notBefore.Store(int64(e.retryAt))
		fetchErr = &FetchError{Key: e.key, Err: err, RetryAfter: e.retryAt - now}
	case err == nil && f.seq > e.stored:
		e.current.Store(s)
		e.stored = f.seq
		e.failures = 0
		e.lastErr = nil
		e.lastFetchTime.Store(int64(elapsed))
		e.retryAt = now + c.opts.MinBackoff
		e.notBefore.Store(int64(e.retryAt))
		stored = true
	}

	if first {
		if fetchErr != nil {
			f.err = fetchErr
		} else if cur := e.current.Load(); cur != nil && now < cur.unusableAt {
			// The newest usable token: f's own, or a newer one.
			f.result = cur
		} else if s != nil {
			f.result = s
		} else {
			f.err = &FetchError{Key: e.key, Err: err}
		}
		close(f.done)
	}
	e.mu.Unlock()

	switch {
	case fetchErr != nil:
		c.stats.fetchErrors.Add(1)
		c.logFetchError(e.key, fetchErr)
		if c.opts.OnFetchError != nil {
			c.opts.OnFetchError(e.key, fetchErr)
		}
	case stored:
		if c.opts.Logger != nil {
			c.opts.Logger.Debug("swrtoken: token fetched", "key", e.key,
				"fingerprint", Fingerprint(s.tok.Value), "duration", elapsed,
				"lifetime", s.expires-s.fetchedAt)
		}
		if c.opts.OnRefresh != nil {
			c.opts.OnRefresh(e.key, c.entryOf(s))
		}
	}
}

func (c *Cache) logFetchError(key string, err *FetchError) {
	if c.opts.Logger == nil {
		return
	}
	c.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "swrtoken: token fetch failed",
		slog.String("key", key), slog.Any("error", err.Err),
		slog.Duration("retry_after", err.RetryAfter))
}

// retryTime returns the earliest time of the next fetch of e after a
// failure at now: exponential backoff with jitter. While e holds a usable
// token, the retry is due no later than two fetch durations before the
// token becomes unusable. One is for the fetch itself, and one for the
// read or Poller pass that starts it, which can come that much after the
// due time. So a retry that succeeds lands before any reader has to wait.
// After a failure past that moment, the retry is due one fetch duration
// before the token becomes unusable, and after a failure past that, when
// it becomes unusable. So a failing issuer gets at most two more
// attempts near the end of a token, not one per read. The caller holds e.mu.
func (c *Cache) retryTime(e *entry, now time.Duration) time.Duration {
	backoff := c.opts.MaxBackoff
	if shift := e.failures - 1; shift < 32 {
		backoff = min(c.opts.MinBackoff<<shift, c.opts.MaxBackoff)
	}
	backoff -= rand.N(backoff/2 + 1)
	at := now + backoff
	if s := e.current.Load(); s != nil && now < s.unusableAt {
		fetch := time.Duration(e.lastFetchTime.Load())
		for _, due := range [...]time.Duration{s.unusableAt - 2*fetch, s.unusableAt - fetch, s.unusableAt} {
			if due > now {
				at = min(at, due)
				break
			}
		}
	}
	return at
}

// maybeSweep removes idle keys whose token is unusable, at most once per
// sweep interval, so that a cache without a Poller stays bounded too.
func (c *Cache) maybeSweep() {
	if c.opts.IdleTimeout < 0 {
		return
	}
	now := c.now()
	last := c.lastSweep.Load()
	if now-time.Duration(last) < c.opts.IdleTimeout/2 ||
		!c.lastSweep.CompareAndSwap(last, int64(now)) {
		return
	}
	c.sweep(now)
}

// sweep removes the idle keys whose token is unusable and that have no
// fetch running.
func (c *Cache) sweep(now time.Duration) {
	if c.opts.IdleTimeout < 0 {
		return
	}
	c.entries.Range(func(k, v any) bool {
		e := v.(*entry)
		if !e.idle(now, c.opts.IdleTimeout) || e.fetching.Load() {
			return true
		}
		if s := e.current.Load(); s != nil && now < s.unusableAt {
			return true
		}
		if c.entries.CompareAndDelete(k, e) {
			c.stats.evictions.Add(1)
		}
		return true
	})
}

// idle reports whether e was last read more than timeout before now.
func (e *entry) idle(now, timeout time.Duration) bool {
	return timeout >= 0 && now-time.Duration(e.lastRead.Load()) > timeout
}
