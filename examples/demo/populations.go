package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// fetchTimeout bounds each token fetch of the blocking population, as
// Options.FetchTimeout bounds those of a cache.
const fetchTimeout = swrtoken.DefaultFetchTimeout

// environment contains the parts of a run that the populations share.
type environment struct {
	cfg    config
	timing timing
	issuer *swrtokentest.Issuer
	server *apiServer
	logger *slog.Logger
}

// apiClient is one client of a population.
type apiClient interface {
	// do sends one request to the API and returns the response's status.
	do(ctx context.Context) (status int, err error)
}

// fetchCounts counts the token fetches of a population.
type fetchCounts struct {
	blocking   int64 // fetches that a request or a sign-in waited for
	background int64 // fetches that nothing waited for when they started
	// maxBlockingPerKey is the most blocking fetches of one key, or -1
	// when the population cannot tell keys apart.
	maxBlockingPerKey int64
}

// population is a group of clients of one kind.
type population struct {
	name        string
	description string
	clients     []apiClient
	browsers    []*browser // the clients of the browser population

	// apiTransport sends the requests to the API, and issuerTransport
	// the requests to the issuer's token endpoint.
	apiTransport    *http.Transport
	issuerTransport *countingTransport

	fetches func() fetchCounts
	stop    func() // stops the background work of the clients

	load loadStats
}

// close stops the population's background work and closes its idle
// connections.
func (p *population) close() {
	if p.stop != nil {
		p.stop()
	}
	p.apiTransport.CloseIdleConnections()
	if p.issuerTransport != nil {
		p.issuerTransport.CloseIdleConnections()
	}
}

// apiURL returns the URL that the clients of population name request.
func (env *environment) apiURL(name string) string {
	return env.server.URL + "/api/" + name + "/hello"
}

// sessionID returns the session of client i of population name.
func sessionID(name string, i int) string {
	return fmt.Sprintf("sess_%s_%d", name, i)
}

// issuerFetcher returns a fetcher for the issuer's token endpoint that
// sends its requests through t.
func (env *environment) issuerFetcher(t *countingTransport) *swrtoken.SessionTokenFetcher {
	return &swrtoken.SessionTokenFetcher{
		BaseURL:   env.issuer.URL,
		SecretKey: env.issuer.SecretKey,
		Client:    &http.Client{Transport: t},
	}
}

// swrClient is a client of the swr population: an http.Client whose
// Transport sends the token of its session from a cache of its own,
// which a Poller keeps fresh.
type swrClient struct {
	http   *http.Client
	url    string
	cache  *swrtoken.Cache
	poller *swrtoken.Poller
}

func (c *swrClient) do(ctx context.Context) (int, error) {
	return get(ctx, c.http, c.url, nil)
}

// newSWRPopulation creates the swr clients and signs each in: it fetches
// the first token of its session, the one fetch that waits.
func newSWRPopulation(ctx context.Context, env *environment) (*population, error) {
	p := &population{
		name:            popSWR,
		description:     "swrtoken.Transport, with a Cache and a Poller per client",
		apiTransport:    newTransport(),
		issuerTransport: &countingTransport{base: newTransport()},
	}
	fetcher := env.issuerFetcher(p.issuerTransport)
	clients := make([]*swrClient, env.cfg.Clients)
	for i := range clients {
		session := sessionID(popSWR, i)
		cache := swrtoken.NewCache(fetcher, cacheOptions(env.timing, env.logger))
		clients[i] = &swrClient{
			http: &http.Client{Transport: &swrtoken.Transport{
				Cache: cache, Key: session, Base: p.apiTransport}},
			url:    env.apiURL(popSWR),
			cache:  cache,
			poller: swrtoken.StartPoller(cache, swrtoken.PollerOptions{Interval: env.timing.PollInterval}),
		}
		p.clients = append(p.clients, clients[i])
	}
	p.stop = func() {
		for _, c := range clients {
			c.poller.Stop()
			c.cache.Close()
		}
	}
	p.fetches = func() fetchCounts {
		counts := fetchCounts{}
		for _, c := range clients {
			stats := c.cache.Stats()
			blocking := int64(stats.Fetches - stats.BackgroundFetches)
			counts.blocking += blocking
			counts.background += int64(stats.BackgroundFetches)
			counts.maxBlockingPerKey = max(counts.maxBlockingPerKey, blocking)
		}
		return counts
	}

	err := forEach(len(clients), func(i int) error {
		_, err := clients[i].cache.Token(ctx, sessionID(popSWR, i))
		return err
	})
	if err != nil {
		p.close()
		return nil, fmt.Errorf("sign in the swr clients: %w", err)
	}
	return p, nil
}

// issuerSource is the oauth2.TokenSource of a blocking client: each call
// fetches a new token from the issuer's session token endpoint and waits
// for it, as the token sources of golang.org/x/oauth2 do.
type issuerSource struct {
	// ctx bounds the fetches, because oauth2.TokenSource.Token takes no
	// context. The source of oauth2.Config.TokenSource (x/oauth2 v0.36.0)
	// keeps the context it was made with in the same way.
	ctx     context.Context
	fetcher *swrtoken.SessionTokenFetcher
	session string
	logger  *slog.Logger
	calls   atomic.Int64
}

// Token fetches a new token. Its Expiry is the token's exp claim, which
// is exact here because the issuer runs on the same clock.
func (s *issuerSource) Token() (*oauth2.Token, error) {
	s.calls.Add(1)
	ctx, cancel := context.WithTimeout(s.ctx, fetchTimeout)
	defer cancel()
	start := time.Now()
	tok, err := s.fetcher.Fetch(ctx, s.session)
	if err != nil {
		s.logger.Warn("demo: blocking token fetch failed", "session", s.session, "error", err)
		return nil, err
	}
	s.logger.Debug("demo: blocking token fetch", "session", s.session,
		"fingerprint", swrtoken.Fingerprint(tok.Value), "duration", time.Since(start))
	_, expiry, err := swrtoken.ParseJWTTimes(tok.Value)
	if err != nil {
		return nil, fmt.Errorf("read the exp claim of token %s for session %q: %w",
			swrtoken.Fingerprint(tok.Value), s.session, err)
	}
	return &oauth2.Token{AccessToken: tok.Value, TokenType: "Bearer", Expiry: expiry}, nil
}

// blockingClient is a client of the blocking population.
type blockingClient struct {
	http   *http.Client
	url    string
	source *issuerSource
}

func (c *blockingClient) do(ctx context.Context) (int, error) {
	return get(ctx, c.http, c.url, nil)
}

// newBlockingPopulation creates the blocking clients and signs each in:
// it fetches the first token of its session. Each client reuses its
// token until MinRemaining before its exp claim, and then the request
// that finds it so, and every request that arrives meanwhile, waits for
// the next fetch.
func newBlockingPopulation(ctx context.Context, env *environment) (*population, error) {
	p := &population{
		name: popBlocking,
		description: fmt.Sprintf("oauth2.Transport with oauth2.ReuseTokenSourceWithExpiry, early expiry %v",
			env.timing.MinRemaining),
		apiTransport:    newTransport(),
		issuerTransport: &countingTransport{base: newTransport()},
	}
	fetcher := env.issuerFetcher(p.issuerTransport)
	clients := make([]*blockingClient, env.cfg.Clients)
	sources := make([]oauth2.TokenSource, len(clients))
	for i := range clients {
		source := &issuerSource{ctx: ctx, fetcher: fetcher, session: sessionID(popBlocking, i),
			logger: env.logger}
		sources[i] = oauth2.ReuseTokenSourceWithExpiry(nil, source, env.timing.MinRemaining)
		clients[i] = &blockingClient{
			http:   &http.Client{Transport: &oauth2.Transport{Source: sources[i], Base: p.apiTransport}},
			url:    env.apiURL(popBlocking),
			source: source,
		}
		p.clients = append(p.clients, clients[i])
	}
	p.fetches = func() fetchCounts {
		counts := fetchCounts{}
		for _, c := range clients {
			calls := c.source.calls.Load()
			counts.blocking += calls
			counts.maxBlockingPerKey = max(counts.maxBlockingPerKey, calls)
		}
		return counts
	}

	err := forEach(len(clients), func(i int) error {
		_, err := sources[i].Token()
		return err
	})
	if err != nil {
		p.close()
		return nil, fmt.Errorf("sign in the blocking clients: %w", err)
	}
	return p, nil
}

// get sends GET url with client, reads the response body, and returns
// the status code. A non-nil inspect is called with the response before
// its body is read.
func get(ctx context.Context, client *http.Client, url string, inspect func(*http.Response)) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if inspect != nil {
		inspect(resp)
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return resp.StatusCode, fmt.Errorf("read the response to GET %s: %w", url, err)
	}
	return resp.StatusCode, nil
}

// forEach calls f(0) to f(n-1) concurrently and returns their errors
// joined.
func forEach(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
