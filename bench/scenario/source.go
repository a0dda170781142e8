package scenario

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSourceDown is the error of a Source call that arrives during a
// failure window.
var ErrSourceDown = errors.New("scenario: token source is down")

// SourceOptions configures a Source.
type SourceOptions struct {
	// Latency is how long each call takes, failed ones included. Zero
	// means calls return at once.
	Latency time.Duration

	// Lifetime is the lifetime of the tokens the source issues. Zero
	// means one hour.
	Lifetime time.Duration
}

// Issued is a token as the Source returns it.
type Issued struct {
	Value    string
	Lifetime time.Duration
	IssuedAt time.Time // when the call returned
	Expiry   time.Time // IssuedAt plus Lifetime
}

// Source is a fake token issuer with a configurable latency, token
// lifetime and failure windows. It counts its calls. It is safe for
// concurrent use.
type Source struct {
	latency time.Duration
	calls   atomic.Int64
	failed  atomic.Int64

	mu       sync.Mutex // guards the fields below
	lifetime time.Duration
	windows  []window
	issued   int
	last     Issued // the token issued last
}

// window is a time interval [from, to) during which calls fail.
type window struct{ from, to time.Time }

// NewSource returns a source configured by opts.
func NewSource(opts SourceOptions) *Source {
	if opts.Lifetime <= 0 {
		opts.Lifetime = time.Hour
	}
	return &Source{latency: opts.Latency, lifetime: opts.Lifetime}
}

// Fetch waits for the source's latency and returns a new token, or
// ErrSourceDown when the call arrived during a failure window. It returns
// ctx.Err() if ctx ends during the wait.
func (s *Source) Fetch(ctx context.Context) (Issued, error) {
	arrived := time.Now()
	s.calls.Add(1)
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Issued{}, ctx.Err()
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.windows {
		if !arrived.Before(w.from) && arrived.Before(w.to) {
			s.failed.Add(1)
			return Issued{}, ErrSourceDown
		}
	}
	s.issued++
	now := time.Now()
	s.last = Issued{
		Value:    "token-" + strconv.Itoa(s.issued),
		Lifetime: s.lifetime,
		IssuedAt: now,
		Expiry:   now.Add(s.lifetime),
	}
	return s.last, nil
}

// Last returns the token issued last, or a zero Issued before the first.
func (s *Source) Last() Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// SetLifetime sets the lifetime of the tokens issued from now on.
func (s *Source) SetLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// FailBetween makes the calls that arrive in [from, to) fail.
func (s *Source) FailBetween(from, to time.Time) {
	s.mu.Lock()
	s.windows = append(s.windows, window{from, to})
	s.mu.Unlock()
}

// Calls returns the number of calls so far, failed ones included.
func (s *Source) Calls() int64 { return s.calls.Load() }

// Failed returns the number of calls that failed with ErrSourceDown.
func (s *Source) Failed() int64 { return s.failed.Load() }
