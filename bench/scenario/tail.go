package scenario

import (
	"context"
	"fmt"
	"time"
)

// baselineLifetime is the token lifetime of the baseline run of Tail: long
// enough that no peer refreshes during it, whatever its early refresh.
const baselineLifetime = 24 * time.Hour

// TailOptions configures Tail.
type TailOptions struct {
	Source SourceOptions
	Peer   PeerOptions
	Load   LoadOptions

	// BaselineDuration is how long the baseline run lasts: the same load
	// on a token that needs no refresh. Zero skips the baseline.
	BaselineDuration time.Duration
}

// TailResult holds the call latencies of one peer across refresh
// boundaries and, for comparison, on a token that needs no refresh.
type TailResult struct {
	Peer     string
	Refresh  LoadStats
	Baseline LoadStats // zero when the baseline was skipped
}

// Tail measures the call latency of peer while tokens of
// opts.Source.Lifetime expire and are refreshed, with every goroutine
// calling for opts.Load.Duration. The first fetch happens before the
// measured calls start.
func Tail(ctx context.Context, peer Peer, opts TailOptions) (TailResult, error) {
	res := TailResult{Peer: peer.Name}
	var err error
	if opts.BaselineDuration > 0 {
		src := opts.Source
		src.Lifetime = baselineLifetime
		load := opts.Load
		load.Duration = opts.BaselineDuration
		if res.Baseline, err = primeAndLoad(ctx, peer, src, opts.Peer, load); err != nil {
			return res, fmt.Errorf("baseline: %w", err)
		}
	}
	res.Refresh, err = primeAndLoad(ctx, peer, opts.Source, opts.Peer, opts.Load)
	return res, err
}

// primeAndLoad builds a client of peer, fetches its first token and runs
// the load on it.
func primeAndLoad(ctx context.Context, peer Peer, srcOpts SourceOptions, peerOpts PeerOptions, load LoadOptions) (LoadStats, error) {
	src := NewSource(srcOpts)
	c := peer.New(src, peerOpts)
	defer c.Close()
	if _, err := c.Token(ctx); err != nil {
		return LoadStats{}, fmt.Errorf("scenario: first token of %s: %w", peer.Name, err)
	}
	return runLoad(ctx, c, src, load), nil
}
