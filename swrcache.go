package swrtoken

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Default values of Options fields.
const (
	DefaultRefreshLeeway = 15 * time.Second
	DefaultMinRemaining  = 5 * time.Second
	DefaultFetchTimeout  = 30 * time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 30 * time.Second
	DefaultIdleTimeout   = 10 * time.Minute
)

// A Fetcher obtains a new token for a cache key, from an issuer's API for
// example. The cache calls Fetch on a context that carries the values of
// the context that caused the fetch but is cancelled only by the fetch
// timeout or Cache.Close, and Fetch must return when that context is done.
// Calls for one key do not overlap, with two exceptions: a call that runs
// past the timeout, and a call still running when its key is deleted.
// Calls for different keys run concurrently.
type Fetcher interface {
	Fetch(ctx context.Context, key string) (Token, error)
}

// FetcherFunc adapts an ordinary function to the Fetcher interface.
type FetcherFunc func(ctx context.Context, key string) (Token, error)

// Fetch calls f(ctx, key).
func (f FetcherFunc) Fetch(ctx context.Context, key string) (Token, error) {
	return f(ctx, key)
}

// Options configures a Cache. The zero value is valid: each zero field
// takes the default named in its comment.
type Options struct {
	// RefreshLeeway is how long before its end a token becomes stale: it
	// is still returned, and a refresh starts in the background. Zero
	// means DefaultRefreshLeeway (15s). For a token whose lifetime is
	// shorter than twice the leeway, the leeway is half the lifetime, so
	// that a token spends most of its life fresh. The leeway is never
	// below MinRemaining.
	RefreshLeeway time.Duration

	// MinRemaining is the least time a token must have left to be
	// returned, so that a token cannot expire while the request that
	// carries it is in flight. With less time left the token is unusable
	// and callers wait for a fetch. Zero means DefaultMinRemaining (5s).
	// The time left is reckoned from the cache's estimate of the token's
	// end (see Cache), which for a JWT with whole-second iat and exp can
	// be up to a second late. Such a token can therefore be returned with
	// up to a second less than MinRemaining left, and its last second is
	// never used, even with a MinRemaining below a second.
	MinRemaining time.Duration

	// FetchTimeout bounds each call to the Fetcher. Zero means
	// DefaultFetchTimeout (30s).
	FetchTimeout time.Duration

	// MinBackoff is the wait after a failed fetch before the key is
	// fetched again. Each further failure doubles it, up to MaxBackoff,
	// and a random jitter of up to half the wait is subtracted. While the
	// key still holds a usable token, the next attempt is never later
	// than the moment that token becomes unusable. Zero means
	// DefaultMinBackoff (1s). MinBackoff is also the least time between
	// two successful fetches of a key, unless its token is unusable.
	MinBackoff time.Duration

	// MaxBackoff caps the wait between failed fetches. Zero means
	// DefaultMaxBackoff (30s).
	MaxBackoff time.Duration

	// IdleTimeout is how long a key may go unread before it is idle. A
	// Poller does not refresh idle keys, and an idle key is removed once
	// its token is unusable, so memory stays bounded by the keys in use.
	// Removal happens on each Poller pass, and without a Poller after a
	// fetch, at most once per IdleTimeout/2.
	// Zero means DefaultIdleTimeout (10m). A negative value means keys
	// never become idle.
	IdleTimeout time.Duration

	// OnRefresh, if not nil, is called after each successful fetch, with
	// the entry now cached. It runs on the goroutine of the fetch, after
	// waiting callers were released, so calls for different keys run
	// concurrently. It must not block for long.
	OnRefresh func(key string, e Entry)

	// OnFetchError, if not nil, is called after each failed fetch, on the
	// goroutine of the fetch, so concurrently for different keys. The
	// error is a *FetchError.
	OnFetchError func(key string, err error)

	// Logger, if not nil, receives a debug record for each fetch and a
	// warning for each failed fetch. Records name keys and token
	// fingerprints, never token text. Nil means no logging.
	Logger *slog.Logger
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.RefreshLeeway <= 0 {
		o.RefreshLeeway = DefaultRefreshLeeway
	}
	if o.MinRemaining <= 0 {
		o.MinRemaining = DefaultMinRemaining
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return o
}

// State is the state of a cached token, by the time it has left.
type State int

const (
	// Unusable means there is no token, or it has MinRemaining or less
	// left: a read waits for a fetch.
	Unusable State = iota
	// Stale means the token has RefreshLeeway or less left: a read
	// returns it and starts a background refresh.
	Stale
	// Fresh means the token has more than RefreshLeeway left.
	Fresh
)

// String returns "fresh", "stale" or "unusable".
func (s State) String() string {
	switch s {
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	default:
		return "unusable"
	}
}

// Entry describes a cached token.
type Entry struct {
	// Token is the token as the Fetcher returned it, with IssuedAt and
	// Expiry filled in from the JWT claims where the Fetcher left them
	// zero.
	Token Token

	// FetchedAt is the local time at which the fetch that returned the
	// token started.
	FetchedAt time.Time

	// StaleAt, UnusableAt and Expires are local times: when the token
	// becomes stale, when it becomes unusable, and FetchedAt plus its
	// lifetime.
	StaleAt    time.Time
	UnusableAt time.Time
	Expires    time.Time
}

// Cache is a stale-while-revalidate cache of tokens by key. A read of a
// fresh token returns it without locking or allocating. A read of a stale
// token returns it at once and starts one background refresh for the key,
// however many readers see it stale. A read that finds no usable token
// waits for a fetch, which all callers for that key share.
//
// # Lifetimes and clock skew
//
// The cache measures a token's life on the local monotonic clock, from
// the moment the fetch that returned it started: the token expires at
// that moment plus its lifetime, which is Token.Lifetime or else
// exp - iat. Both claims are on the issuer's clock, so their difference
// does not depend on how far the local wall clock is from the issuer's,
// in either direction. The local end falls before the real one by the
// fetch's duration, assuming that the issuer minted the token during the
// fetch. But iat and exp usually have whole-second precision, so the
// token may have been minted up to a second after iat and the local end
// may then be up to a second late. Such a token is unusable from one
// second before its local end at the latest, even with a MinRemaining
// below a second, so it is never returned after its real end. A Fetcher that can return an older token, for example from
// a cache of its own, should set Token.Lifetime to the time it has left.
// A JWT without iat falls back to exp on the local wall clock.
//
// A Cache is safe for concurrent use. Close stops its background fetches.
type Cache struct {
	fetcher    Fetcher
	opts       Options
	epoch      time.Time
	touchEvery time.Duration // see touchInterval

	entries sync.Map // string key -> *entry

	// The padding keeps the counters, which reads on every core write,
	// off the cache line of the fields above, which every read loads.
	_     [64]byte
	stats counters

	// closeCtx is cancelled by Close and cancels every fetch.
	closeCtx  context.Context
	cancelAll context.CancelFunc

	// lastSweep is when idle keys were last removed, on c's scale.
	lastSweep atomic.Int64

	mu      sync.Mutex // guards closed and the calls to fetches.Add
	closed  bool
	fetches sync.WaitGroup // one per fetch goroutine
}

// NewCache returns a cache that obtains tokens from f. It panics if f is
// nil, because that is a programming error.
func NewCache(f Fetcher, opts Options) *Cache {
	if f == nil {
		panic("swrtoken: NewCache called with a nil Fetcher")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		fetcher:   f,
		opts:      opts.withDefaults(),
		epoch:     time.Now(),
		closeCtx:  ctx,
		cancelAll: cancel,
	}
	c.touchEvery = c.touchInterval()
	return c
}

// Token returns a usable token for key. It returns a fresh or stale token
// at once, starting a background refresh for a stale one. Otherwise it
// waits for a fetch, joining one in progress for the key. If ctx ends
// first, Token returns an error that wraps ctx.Err() while the fetch goes
// on and caches its result for later calls.
//
// After a failed fetch, until the backoff ends, Token returns a
// *FetchError without fetching again.
func (c *Cache) Token(ctx context.Context, key string) (string, error) {
	s, err := c.get(ctx, key)
	if err != nil {
		return "", err
	}
	return s.tok.Value, nil
}

// Entry is like Token but returns the whole entry of the token.
func (c *Cache) Entry(ctx context.Context, key string) (Entry, error) {
	s, err := c.get(ctx, key)
	if err != nil {
		return Entry{}, err
	}
	return c.entryOf(s), nil
}

// get implements Token. The fresh path neither locks nor allocates.
func (c *Cache) get(ctx context.Context, key string) (*snapshot, error) {
	if v, ok := c.entries.Load(key); ok {
		e := v.(*entry)
		now := c.now()
		if s := e.current.Load(); s != nil {
			if now < s.staleAt {
				e.touch(now, c.touchEvery)
				c.stats.freshHits.add()
				return s, nil
			}
			if now < s.unusableAt {
				e.touch(now, c.touchEvery)
				c.stats.staleHits.add()
				c.refreshStale(ctx, e, now)
				return s, nil
			}
		}
	}
	return c.wait(ctx, key)
}

// Lookup returns the cached entry for key and its state, without side
// effects: it starts no fetch, drops nothing and does not count as a read
// for IdleTimeout. The Entry is zero when the state is Unusable because
// nothing is cached.
func (c *Cache) Lookup(key string) (Entry, State) {
	v, ok := c.entries.Load(key)
	if !ok {
		return Entry{}, Unusable
	}
	s := v.(*entry).current.Load()
	if s == nil {
		return Entry{}, Unusable
	}
	return c.entryOf(s), s.state(c.now())
}

// Refresh starts a background fetch for key unless one is running or the
// key is backing off after a failure, and reports whether it started one.
// It does not wait for the fetch. A successful fetch replaces the cached
// token, whatever its state. Refresh counts as a read for IdleTimeout.
func (c *Cache) Refresh(ctx context.Context, key string) bool {
	e := c.loadOrCreate(key)
	now := c.now()
	e.touch(now, c.touchEvery)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil || now < e.retryAt {
		return false
	}
	_, err := c.startFetch(ctx, e, true)
	return err == nil
}

// Invalidate drops the token cached for key if it is rejected, the token
// a server refused, and reports whether it did. A token cached after the
// rejected one is kept, so that many requests that fail with the same
// token cause one fetch.
func (c *Cache) Invalidate(key, rejected string) bool {
	v, ok := c.entries.Load(key)
	if !ok {
		return false
	}
	e := v.(*entry)
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.current.Load()
	if s == nil || s.tok.Value != rejected {
		return false
	}
	e.current.Store(nil)
	return true
}

// Delete removes key from the cache. A fetch in progress for key still
// completes for the callers waiting on it, but its token is not cached.
func (c *Cache) Delete(key string) {
	c.entries.Delete(key)
}

// Clear removes every key from the cache, as Delete does.
func (c *Cache) Clear() {
	c.entries.Clear()
}

// Len returns the number of keys in the cache.
func (c *Cache) Len() int {
	n := 0
	c.entries.Range(func(any, any) bool {
		n++
		return true
	})
	return n
}

// Close cancels every fetch in progress, waits for the fetch goroutines
// to return, and makes later calls that would fetch return ErrClosed.
// Tokens already cached are still returned while they are usable. Close
// returns only after each Fetcher call returned, so a Fetcher must honour
// its context. Calling Close again does nothing.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancelAll()
	c.fetches.Wait()
	return nil
}

// now returns the time since c.epoch on the monotonic clock.
func (c *Cache) now() time.Duration {
	return time.Since(c.epoch)
}

// localTime converts a time on c's monotonic scale to a time.Time.
func (c *Cache) localTime(d time.Duration) time.Time {
	return c.epoch.Add(d)
}

// touchInterval is the granularity of the last-read time of entries.
// Reads store the time only when it moved by this much, so that readers
// on several cores do not all write the same cache line.
func (c *Cache) touchInterval() time.Duration {
	if c.opts.IdleTimeout < 0 {
		return 1<<63 - 1
	}
	return min(time.Second, c.opts.IdleTimeout/8)
}

func (c *Cache) loadOrCreate(key string) *entry {
	if v, ok := c.entries.Load(key); ok {
		return v.(*entry)
	}
	e := &entry{key: key}
	e.lastRead.Store(int64(c.now()))
	v, _ := c.entries.LoadOrStore(key, e)
	return v.(*entry)
}

// wait returns a usable token for key, fetching one or waiting for the
// fetch in progress.
func (c *Cache) wait(ctx context.Context, key string) (*snapshot, error) {
	e := c.loadOrCreate(key)
	now := c.now()
	e.touch(now, c.touchEvery)

	e.mu.Lock()
	// A fetch may have completed since the caller looked.
	if s := e.current.Load(); s != nil {
		if now < s.unusableAt {
			e.mu.Unlock()
			return c.get(ctx, key)
		}
		e.current.Store(nil)
	}
	c.stats.misses.Add(1)
	f := e.flight
	if f != nil {
		c.stats.sharedWaits.Add(1)
	} else if now < e.retryAt && e.lastErr != nil {
		err := &FetchError{Key: key, Err: e.lastErr, RetryAfter: e.retryAt - now}
		e.mu.Unlock()
		return nil, err
	} else {
		var err error
		if f, err = c.startFetch(ctx, e, false); err != nil {
			e.mu.Unlock()
			return nil, err
		}
	}
	e.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("swrtoken: waiting for token for key %q: %w", key, ctx.Err())
	}
}

// refreshStale starts a background refresh of e, which holds a stale
// token, unless one is running or e is backing off.
func (c *Cache) refreshStale(ctx context.Context, e *entry, now time.Duration) {
	if e.fetching.Load() || now < time.Duration(e.notBefore.Load()) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight != nil || now < e.retryAt {
		return
	}
	c.startFetch(ctx, e, true)
}

// counters holds the statistics of a Cache.
type counters struct {
	// Every read adds to one of these two, so they are striped.
	freshHits, staleHits stripedCounter

	misses, sharedWaits                                atomic.Uint64
	fetches, backgroundFetches, fetchErrors, evictions atomic.Uint64
}

// Stats is a snapshot of a cache's counters since it was created.
type Stats struct {
	FreshHits         uint64 // reads that returned a fresh token
	StaleHits         uint64 // reads that returned a stale token
	Misses            uint64 // reads that found no usable token, including ones that failed at once
	SharedWaits       uint64 // misses that joined a fetch already running
	Fetches           uint64 // Fetcher calls, background ones included
	BackgroundFetches uint64 // Fetcher calls that no caller waited on when they started
	FetchErrors       uint64 // failed fetches
	Evictions         uint64 // idle keys removed
}

// Stats returns a snapshot of the cache's counters. The counters are read
// one at a time, so a snapshot taken while reads run may be off by the
// reads in progress.
func (c *Cache) Stats() Stats {
	return Stats{
		FreshHits:         c.stats.freshHits.load(),
		StaleHits:         c.stats.staleHits.load(),
		Misses:            c.stats.misses.Load(),
		SharedWaits:       c.stats.sharedWaits.Load(),
		Fetches:           c.stats.fetches.Load(),
		BackgroundFetches: c.stats.backgroundFetches.Load(),
		FetchErrors:       c.stats.fetchErrors.Load(),
		Evictions:         c.stats.evictions.Load(),
	}
}

// entryOf converts a snapshot to the exported Entry.
func (c *Cache) entryOf(s *snapshot) Entry {
	return Entry{
		Token:      s.tok,
		FetchedAt:  c.localTime(s.fetchedAt),
		StaleAt:    c.localTime(s.staleAt),
		UnusableAt: c.localTime(s.unusableAt),
		Expires:    c.localTime(s.expires),
	}
}

// entry is the state of one key.
type entry struct {
	key string

	// current is the cached token; nil when there is none. Readers load
	// it without locking; writers store it while holding mu.
	current atomic.Pointer[snapshot]

	// lastRead is the time of the last read on c's monotonic scale, as a
	// time.Duration, updated at most once per touchInterval.
	lastRead atomic.Int64

	// fetching and notBefore mirror flight != nil and retryAt, so that
	// stale readers can skip the mutex while a refresh runs or waits.
	fetching  atomic.Bool
	notBefore atomic.Int64

	// lastFetchTime is how long the last successful fetch took, as a
	// time.Duration, so that a Poller can start the next one that early.
	lastFetchTime atomic.Int64

	mu sync.Mutex // guards the fields below and the stores to current

	flight   *flight       // the fetch in progress, or nil
	started  uint64        // sequence number of the last fetch started
	stored   uint64        // sequence number of the fetch whose token is current
	failures int           // consecutive failed fetches
	lastErr  error         // error of the last fetch if it failed
	retryAt  time.Duration // no fetch before this time, on c's scale
}

// touch records a read at now.
func (e *entry) touch(now, interval time.Duration) {
	if now-time.Duration(e.lastRead.Load()) >= interval {
		e.lastRead.Store(int64(now))
	}
}

// snapshot is an immutable cached token with its times on c's scale.
type snapshot struct {
	tok        Token
	fetchedAt  time.Duration
	staleAt    time.Duration
	unusableAt time.Duration
	expires    time.Duration
}

func (s *snapshot) state(now time.Duration) State {
	switch {
	case now < s.staleAt:
		return Fresh
	case now < s.unusableAt:
		return Stale
	default:
		return Unusable
	}
}
