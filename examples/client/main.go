// Command client shows the client side of swrtoken: an http.Client whose
// Transport adds session tokens from a Cache, renewed ahead of time by a
// Poller. It starts a test issuer and an API server on loopback, sends
// requests for two sessions across several token lifetimes, and prints
// each fetch and a summary, naming tokens by fingerprint. It exits by
// itself after about 8 seconds.
//
//	go run ./examples/client
//
// Tokens live 4 seconds here, so that renewals happen within the run. The
// cache's times are scaled to match: stale 1.5 s before the end,
// unusable 0.5 s before it, and a poller pass every 500 ms. With the real
// 60-second session tokens, the defaults (15 s, 5 s and 5 s) apply.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// Settings of the run.
const (
	tokenLifetime  = 4 * time.Second
	issuerLatency  = 100 * time.Millisecond
	runFor         = 8 * time.Second
	requestEvery   = 50 * time.Millisecond
	sessionsInDemo = 2
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// summary is the outcome of a run, which the program's test checks.
type summary struct {
	requests, failures int
	maxLatency         time.Duration
	stats              swrtoken.Stats
	tokensBySession    map[string][]string // fingerprints, in the order first used
}

func run(ctx context.Context, out io.Writer) (summary, error) {
	issuer := swrtokentest.NewIssuer(swrtokentest.Options{
		Lifetime: tokenLifetime,
		Latency:  issuerLatency,
	})
	defer issuer.Close()

	api, stopAPI, err := startAPI(issuer)
	if err != nil {
		return summary{}, err
	}
	defer stopAPI()
	fmt.Fprintf(out, "issuer at %s (tokens live %v, answers in %v)\napi at %s\n",
		issuer.URL, tokenLifetime, issuerLatency, api.URL)

	start := time.Now()
	var outMu sync.Mutex // OnRefresh runs concurrently for different keys
	cache := swrtoken.NewCache(&swrtoken.SessionTokenFetcher{
		BaseURL:   issuer.URL,
		SecretKey: issuer.SecretKey,
	}, swrtoken.Options{
		RefreshLeeway: 1500 * time.Millisecond,
		MinRemaining:  500 * time.Millisecond,
		MinBackoff:    200 * time.Millisecond,
		OnRefresh: func(key string, e swrtoken.Entry) {
			outMu.Lock()
			defer outMu.Unlock()
			fmt.Fprintf(out, "%5.2fs fetched token %s for %s\n",
				time.Since(start).Seconds(), swrtoken.Fingerprint(e.Token.Value), key)
		},
	})
	defer cache.Close()
	poller := swrtoken.StartPoller(cache, swrtoken.PollerOptions{Interval: 500 * time.Millisecond})
	defer poller.Stop()

	// One client serves every session, because the Transport takes the
	// key of each request from its context.
	client := &http.Client{Transport: &swrtoken.Transport{Cache: cache}}
	sum := sendRequests(ctx, client, api.URL)
	poller.Stop()
	cache.Close() // waits for the fetches in progress, so the counts add up
	sum.stats = cache.Stats()
	printSummary(out, sum)
	if sum.failures > 0 {
		return sum, fmt.Errorf("%d of %d requests failed", sum.failures, sum.requests)
	}
	return sum, nil
}

// startAPI starts a server that requires a session token and writes the
// token's fingerprint in its response. The stop function closes the
// server and its middleware.
func startAPI(issuer *swrtokentest.Issuer) (*httptest.Server, func(), error) {
	mw, err := swrtoken.NewMiddleware(swrtoken.MiddlewareOptions{JWKSURL: issuer.JWKSURL()})
	if err != nil {
		return nil, nil, err
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := swrtoken.TokenFromContext(r.Context())
		io.WriteString(w, swrtoken.Fingerprint(token))
	})
	srv := httptest.NewServer(mw.RequireAuth(whoami))
	stop := func() {
		srv.Close()
		mw.Close()
	}
	return srv, stop, nil
}

// sendRequests sends a request per session every requestEvery until
// runFor has passed, and returns what happened.
func sendRequests(ctx context.Context, client *http.Client, url string) summary {
	ctx, cancel := context.WithTimeout(ctx, runFor)
	defer cancel()
	sum := summary{tokensBySession: map[string][]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range sessionsInDemo {
		session := fmt.Sprintf("sess_%c", 'a'+i)
		wg.Go(func() {
			ticker := time.NewTicker(requestEvery)
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
				}
				began := time.Now()
				fingerprint, err := whoami(swrtoken.WithKey(ctx, session), client, url)
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
					return // the run ended during the request
				}
				mu.Lock()
				sum.record(session, fingerprint, time.Since(began), err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return sum
}

func whoami(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

func (s *summary) record(session, fingerprint string, latency time.Duration, err error) {
	s.requests++
	s.maxLatency = max(s.maxLatency, latency)
	if err != nil {
		s.failures++
		return
	}
	seen := s.tokensBySession[session]
	if len(seen) == 0 || seen[len(seen)-1] != fingerprint {
		s.tokensBySession[session] = append(seen, fingerprint)
	}
}

func printSummary(out io.Writer, s summary) {
	fmt.Fprintf(out, "\n%d requests, %d failed, slowest %v\n",
		s.requests, s.failures, s.maxLatency.Round(time.Millisecond))
	sessions := make([]string, 0, len(s.tokensBySession))
	for session := range s.tokensBySession {
		sessions = append(sessions, session)
	}
	sort.Strings(sessions)
	for _, session := range sessions {
		fmt.Fprintf(out, "%s used tokens %v\n", session, s.tokensBySession[session])
	}
	fmt.Fprintf(out, "cache: %d fresh reads, %d stale reads, %d waits for a fetch, "+
		"%d fetches (%d in the background)\n",
		s.stats.FreshHits, s.stats.StaleHits, s.stats.Misses,
		s.stats.Fetches, s.stats.BackgroundFetches)
}
