package scenario

import (
	"context"
	"fmt"
	"time"
)

// OutageOptions configures Outage.
type OutageOptions struct {
	Source SourceOptions
	Peer   PeerOptions

	// Load sets the callers. A zero Load.Duration means 1.5 token
	// lifetimes, so that the calls cover the first token's expiry and the
	// first refresh after the outage.
	Load LoadOptions

	// From and To bound the outage, as fractions of the first token's
	// lifetime counted from its issue: calls that arrive in
	// [iat + From*lifetime, iat + To*lifetime) fail.
	From, To float64
}

// OutageResult is the outcome of Outage for one peer.
type OutageResult struct {
	Peer  string
	Calls LoadStats // the callers' calls, Errors being the ones they saw

	// SourceFailures is the number of Source calls that failed because
	// of the outage.
	SourceFailures int64
}

// Outage fetches a first token with peer, makes the Source fail for part
// of that token's life, and counts the errors that callers see while
// they call through the outage and past the token's expiry.
func Outage(ctx context.Context, peer Peer, opts OutageOptions) (OutageResult, error) {
	res := OutageResult{Peer: peer.Name}
	if opts.From < 0 || opts.To <= opts.From || opts.To > 1 {
		return res, fmt.Errorf("scenario: outage from %v to %v of the lifetime: want 0 <= from < to <= 1",
			opts.From, opts.To)
	}
	src := NewSource(opts.Source)
	c := peer.New(src, opts.Peer)
	defer c.Close()
	if _, err := c.Token(ctx); err != nil {
		return res, fmt.Errorf("scenario: first token of %s: %w", peer.Name, err)
	}

	first := src.Last()
	at := func(fraction float64) time.Time {
		return first.IssuedAt.Add(time.Duration(fraction * float64(first.Lifetime)))
	}
	src.FailBetween(at(opts.From), at(opts.To))

	load := opts.Load
	if load.Duration <= 0 {
		load.Duration = first.Lifetime * 3 / 2
	}
	res.Calls = runLoad(ctx, c, src, load)
	res.SourceFailures = src.Failed()
	return res, nil
}
