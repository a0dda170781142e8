package scenario

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// HerdOptions configures Herd.
type HerdOptions struct {
	// Source sets the latency and the lifetime of the token that the herd
	// fetches.
	Source SourceOptions
	Peer   PeerOptions

	// Goroutines is the size of the herd.
	Goroutines int

	// PrimeLifetime is the lifetime of the first token, the one that has
	// expired when the herd arrives. It must exceed the swrtoken
	// MinRemaining of Peer, or swrtoken rejects the token.
	PrimeLifetime time.Duration
}

// HerdResult is the outcome of Herd for one peer.
type HerdResult struct {
	Peer        string
	SourceCalls int64         // Source calls made for the herd
	Errors      uint64        // herd calls that returned an error
	Max         time.Duration // latency of the slowest herd call
}

// Herd fetches a first token with peer, waits until it has expired, then
// releases opts.Goroutines goroutines at once that each read a token, and
// counts the Source calls they cause.
func Herd(ctx context.Context, peer Peer, opts HerdOptions) (HerdResult, error) {
	res := HerdResult{Peer: peer.Name}
	if opts.PrimeLifetime <= 0 {
		return res, fmt.Errorf("scenario: herd PrimeLifetime %v is not positive", opts.PrimeLifetime)
	}
	srcOpts := opts.Source
	srcOpts.Lifetime = opts.PrimeLifetime
	src := NewSource(srcOpts)
	c := peer.New(src, opts.Peer)
	defer c.Close()
	if _, err := c.Token(ctx); err != nil {
		return res, fmt.Errorf("scenario: first token of %s: %w", peer.Name, err)
	}
	src.SetLifetime(opts.Source.Lifetime)
	// The first token was issued before Token returned, so it has
	// expired after its lifetime from now.
	time.Sleep(opts.PrimeLifetime + time.Millisecond)

	var (
		errors  atomic.Uint64
		slowest atomic.Int64
		ready   sync.WaitGroup
		done    sync.WaitGroup
	)
	start := make(chan struct{})
	for range opts.Goroutines {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			t0 := time.Now()
			if _, err := c.Token(ctx); err != nil {
				errors.Add(1)
			}
			storeMax(&slowest, int64(time.Since(t0)))
		})
	}
	ready.Wait()
	before := src.Calls()
	close(start)
	done.Wait()

	res.SourceCalls = src.Calls() - before
	res.Errors = errors.Load()
	res.Max = time.Duration(slowest.Load())
	return res, nil
}

// storeMax sets m to v if v is larger.
func storeMax(m *atomic.Int64, v int64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}
