// Command demo shows, in about 30 seconds and on loopback only, what
// swrtoken is for: clients whose requests never wait for a token refresh,
// browser cookies renewed in the background, and nothing failing when a
// token expires. It runs them side by side with the token cache of
// golang.org/x/oauth2, which refreshes on the caller's request.
//
//	go run ./examples/demo
//
// It starts a swrtokentest issuer on 127.0.0.1 whose session tokens live
// 10s and whose token endpoint responds after 150ms, and an API server
// protected by the session middleware. The middleware accepts the bearer
// token of API clients and the __session cookie of browsers, and renews
// cookies through a RenewalCache that fetches from the issuer. Three
// populations then send the same request rate to the API:
//
//   - swr: http.Clients whose swrtoken.Transport sends the token of the
//     client's session from a Cache that a Poller keeps fresh;
//   - blocking: http.Clients whose oauth2.Transport takes tokens from an
//     oauth2.ReuseTokenSourceWithExpiry over the issuer's token endpoint,
//     which refreshes a token on the request that finds it expiring;
//   - browser: cookie jars that start with a __session cookie minted by
//     the issuer and only ever send that cookie.
//
// Every client signs in, fetching its first token, before the load
// starts. The demo then reports for each population its requests,
// failures, 401 responses, latency percentiles, token fetches (blocking
// or background), issuer calls, requests whose token had expired when
// the server received it, and for browsers the cookie renewals and
// sign-outs. It exits with status 1 when the swr or browser population
// had a failure, sent an expired token or was signed out.
//
// # Token timing
//
// The library's defaults suit 60-second session tokens. The demo scales
// them to the token lifetime L (-lifetime):
//
//	cache RefreshLeeway            max(L/4, MinRemaining+1s)    default 15s
//	cache MinRemaining             max(L/12, 1.5s)              default 5s
//	oauth2 early expiry            the same as MinRemaining
//	Poller Interval                L/12                         default 5s
//	middleware RenewalWindow       min(RefreshLeeway, L/2)      default RefreshLeeway
//	middleware Leeway (clock skew) L/12                         default 5s
//
// For L = 10s that is 2.5s, 1.5s, 1.5s, 833ms, 2.5s and 833ms. The floor
// of MinRemaining is there because the iat and exp claims are whole
// seconds, so a cache's estimate of a token's end can be up to 1s late.
// The other options keep their defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/swrtoken/swrtoken/swrtokentest"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, cfg, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	if problems := rep.problems(); len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "demo: FAIL: %s\n", strings.Join(problems, "; "))
		os.Exit(1)
	}
}

// shutdownTimeout bounds the shutdown of the API server.
const shutdownTimeout = 10 * time.Second

// run starts the issuer, the API server and the populations of cfg,
// sends the load for cfg.Duration or until ctx ends, and writes the
// report to stdout. Progress, and with cfg.Verbose the log, go to
// stderr. Everything it started has stopped when it returns.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (*report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	errOut := &lockedWriter{w: stderr}
	logger := slog.New(slog.DiscardHandler)
	if cfg.Verbose {
		logger = slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	t := cfg.timing()

	issuer := swrtokentest.NewIssuer(swrtokentest.Options{
		Lifetime: cfg.Lifetime,
		Latency:  cfg.IssuerLatency,
	})
	defer issuer.Close()
	server, err := startServer(issuer, cfg, t, logger)
	if err != nil {
		return nil, err
	}
	shutdownServer := func() error {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		return server.close(shutdownCtx)
	}
	env := &environment{cfg: cfg, timing: t, issuer: issuer, server: server, logger: logger}
	pops, err := newPopulations(ctx, env)
	if err != nil {
		return nil, errors.Join(err, shutdownServer())
	}
	fmt.Fprintf(errOut, "issuer at %s, API at %s; populations %s, %d per population, "+
		"each sending %v requests/s, for %v\n", issuer.URL, server.URL,
		strings.Join(cfg.Populations, ", "), cfg.Clients, cfg.Rate, cfg.Duration)

	started := time.Now()
	elapsed, stall := sendLoad(ctx, cfg, pops, errOut, isTerminal(stderr) && !cfg.Verbose)

	for _, p := range pops {
		p.close()
	}
	shutdownErr := shutdownServer()
	rep := newReport(cfg, t, started, elapsed, pops, server)
	rep.Interrupted = ctx.Err() != nil
	rep.MaxStall = millis(stall)
	rep.IssuerTokenRequests = issuer.TokenRequests()
	if shutdownErr != nil {
		return rep, fmt.Errorf("shut down the API server: %w", shutdownErr)
	}

	if cfg.JSON {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return rep, fmt.Errorf("write the report: %w", err)
	}
	return rep, nil
}

// newPopulations creates and signs in the populations of env.cfg, in
// report order. On error it closes those it created.
func newPopulations(ctx context.Context, env *environment) ([]*population, error) {
	var pops []*population
	for _, name := range env.cfg.Populations {
		var p *population
		var err error
		switch name {
		case popSWR:
			p, err = newSWRPopulation(ctx, env)
		case popBlocking:
			p, err = newBlockingPopulation(ctx, env)
		case popBrowser:
			p, err = newBrowserPopulation(env)
		}
		if err != nil {
			for _, created := range pops {
				created.close()
			}
			return nil, err
		}
		pops = append(pops, p)
	}
	return pops, nil
}

// sendLoad runs every population of pops for cfg.Duration or until ctx
// ends, with a progress line on w. It returns how long the load ran and
// the longest stall of the process meanwhile.
func sendLoad(ctx context.Context, cfg config, pops []*population, w io.Writer, inPlace bool) (elapsed, stall time.Duration) {
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	monitor := startStallMonitor(loadCtx)
	pr := startProgress(w, pops, cfg.Duration, inPlace)
	var wg sync.WaitGroup
	for _, p := range pops {
		wg.Go(func() { p.drive(loadCtx, ctx, cfg.Rate) })
	}
	wg.Wait()
	elapsed = min(time.Since(start), cfg.Duration)
	pr.stop()
	return elapsed, monitor.wait()
}

// newReport returns the report of a run of pops.
func newReport(cfg config, t timing, started time.Time, elapsed time.Duration, pops []*population, server *apiServer) *report {
	rep := &report{
		Started:       started,
		Duration:      millis(elapsed),
		Clients:       cfg.Clients,
		Rate:          cfg.Rate,
		Lifetime:      millis(cfg.Lifetime),
		IssuerLatency: millis(cfg.IssuerLatency),
		RefreshLeeway: millis(t.RefreshLeeway),
		MinRemaining:  millis(t.MinRemaining),
		PollInterval:  millis(t.PollInterval),
		RenewalWindow: millis(t.RenewalWindow),
		ClockLeeway:   millis(t.ClockLeeway),
	}
	for _, p := range pops {
		rep.Populations = append(rep.Populations, p.report(server.counts[p.name]))
	}
	return rep
}
