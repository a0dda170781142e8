package swrtoken

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrClosed is returned by a Cache after Close, instead of starting a
	// fetch.
	ErrClosed = errors.New("swrtoken: cache closed")

	// ErrFetchPanicked is wrapped by the FetchError of a fetch whose
	// Fetcher panicked. The cache recovers the panic so that one bad
	// fetch does not stop the process.
	ErrFetchPanicked = errors.New("swrtoken: fetcher panicked")

	// ErrLifetimeTooShort is wrapped by the FetchError of a fetch that
	// returned a token that was already unusable when the fetch ended:
	// its lifetime does not exceed MinRemaining plus the fetch's duration.
	// The cache treats it as a failed fetch and backs off, instead of
	// fetching again on every read. Lower Options.MinRemaining if the
	// issuer really issues tokens this short.
	ErrLifetimeTooShort = errors.New("swrtoken: token lifetime too short for MinRemaining")
)

// FetchError reports that a cache had no usable token for a key because
// the fetch failed. It never contains the token text.
type FetchError struct {
	// Key is the cache key whose fetch failed.
	Key string

	// Err is the error of the last fetch, from the Fetcher or from the
	// cache's checks of what it returned.
	Err error

	// RetryAfter is how long the cache waits before it fetches this key
	// again; calls before then return this error without a fetch. Zero
	// means the next call fetches.
	RetryAfter time.Duration
}

// Error returns a message that names the key and the cause, and the
// wait before the next attempt when there is one.
func (e *FetchError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("swrtoken: fetch token for key %q: %v (next attempt in %v)",
			e.Key, e.Err, e.RetryAfter.Round(time.Millisecond))
	}
	return fmt.Sprintf("swrtoken: fetch token for key %q: %v", e.Key, e.Err)
}

// Unwrap returns Err, so that errors.Is and errors.As find the cause.
func (e *FetchError) Unwrap() error { return e.Err }
