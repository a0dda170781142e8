package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Population names, in the order the report lists them.
const (
	popSWR      = "swr"
	popBlocking = "blocking"
	popBrowser  = "browser"
)

var allPopulations = []string{popSWR, popBlocking, popBrowser}

// Limits of the flags, so that a typo cannot start an unbounded run.
const (
	maxDuration = time.Hour
	maxClients  = 1000
	maxRate     = 1000.0
	minLifetime = 4 * time.Second
	maxLifetime = time.Hour
)

// config is the configuration of a run, as the flags set it.
type config struct {
	Duration      time.Duration // how long the load runs
	Clients       int           // clients per population
	Lifetime      time.Duration // lifetime of the issuer's tokens, whole seconds
	IssuerLatency time.Duration // how long the token endpoint waits before it responds
	Rate          float64       // requests per second of each client
	Populations   []string      // populations to run, in report order
	JSON          bool          // print a JSON report instead of tables
	Verbose       bool          // log fetches, renewals and rejections to stderr
}

// defaultConfig returns the configuration of the plain command: the full
// comparison in about 30 seconds.
func defaultConfig() config {
	return config{
		Duration:      30 * time.Second,
		Clients:       8,
		Lifetime:      10 * time.Second,
		IssuerLatency: 150 * time.Millisecond,
		Rate:          20,
		Populations:   allPopulations,
	}
}

// timing holds the token timing of a run. The library's defaults suit
// 60-second session tokens, so each value here is its default scaled by
// Lifetime/60s, except where a floor applies.
type timing struct {
	// RefreshLeeway is Options.RefreshLeeway of every cache: Lifetime/4
	// (15s at 60s), and at least MinRemaining plus 1s.
	RefreshLeeway time.Duration

	// MinRemaining is Options.MinRemaining of every cache and the early
	// expiry of the oauth2 token sources: Lifetime/12 (5s at 60s), but at
	// least 1.5s. The floor is there because iat and exp are whole
	// seconds, so a cache's estimate of a token's end can be up to 1s late.
	MinRemaining time.Duration

	// PollInterval is PollerOptions.Interval: Lifetime/12 (5s at 60s).
	PollInterval time.Duration

	// RenewalWindow is MiddlewareOptions.RenewalWindow: RefreshLeeway,
	// at most Lifetime/2, as the middleware caps it.
	RenewalWindow time.Duration

	// ClockLeeway is MiddlewareOptions.Leeway, the clock skew allowed
	// when checking exp: Lifetime/12 (5s at 60s).
	ClockLeeway time.Duration
}

// timing returns the token timing scaled to c.Lifetime.
func (c config) timing() timing {
	minRemaining := max(c.Lifetime/12, 1500*time.Millisecond)
	leeway := max(c.Lifetime/4, minRemaining+time.Second)
	return timing{
		RefreshLeeway: leeway,
		MinRemaining:  minRemaining,
		PollInterval:  c.Lifetime / 12,
		RenewalWindow: min(leeway, c.Lifetime/2),
		ClockLeeway:   c.Lifetime / 12,
	}
}

// validate returns an error for a configuration the demo cannot run.
func (c config) validate() error {
	switch {
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("-duration %v is out of range: use more than 0 and at most %v",
			c.Duration, maxDuration)
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("-clients %d is out of range: use 1 to %d", c.Clients, maxClients)
	case !(c.Rate > 0 && c.Rate <= maxRate):
		return fmt.Errorf("-rate %v is out of range: use more than 0 and at most %v requests per second",
			c.Rate, maxRate)
	case c.Lifetime < minLifetime || c.Lifetime > maxLifetime || c.Lifetime%time.Second != 0:
		return fmt.Errorf("-lifetime %v is invalid: use whole seconds from %v to %v, as JWT times are whole seconds",
			c.Lifetime, minLifetime, maxLifetime)
	case len(c.Populations) == 0:
		return errors.New("-populations is empty: name at least one of " +
			strings.Join(allPopulations, ","))
	}
	window := c.timing().RenewalWindow
	if c.IssuerLatency < 0 || c.IssuerLatency > window/2 {
		return fmt.Errorf("-issuer-latency %v is out of range: use 0 to %v, half the renewal window, "+
			"so that a cookie is renewed before its token expires", c.IssuerLatency, window/2)
	}
	return nil
}

// parsePopulations parses a comma-separated list of population names
// and returns them in report order, without duplicates.
func parsePopulations(list string) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allPopulations, name) {
			return nil, fmt.Errorf("unknown population %q: use any of %s",
				name, strings.Join(allPopulations, ","))
		}
		names = append(names, name)
	}
	var ordered []string
	for _, name := range allPopulations {
		if slices.Contains(names, name) {
			ordered = append(ordered, name)
		}
	}
	return ordered, nil
}

// parseFlags parses the command line arguments args. It returns
// flag.ErrHelp after printing the usage for -help.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the load runs")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "clients in each population")
	fs.DurationVar(&cfg.Lifetime, "lifetime", cfg.Lifetime,
		"lifetime of the issued tokens, in whole seconds; the token timing scales with it")
	fs.DurationVar(&cfg.IssuerLatency, "issuer-latency", cfg.IssuerLatency,
		"how long the issuer's token endpoint waits before it responds")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "requests per second sent by each client")
	populations := fs.String("populations", strings.Join(cfg.Populations, ","),
		"comma-separated populations to run: any of "+strings.Join(allPopulations, ","))
	fs.BoolVar(&cfg.JSON, "json", false, "print a JSON report instead of tables and result lines")
	fs.BoolVar(&cfg.Verbose, "v", false,
		"log token fetches, cookie renewals and rejected tokens to stderr, by fingerprint")
	fs.Usage = func() { printUsage(fs) }

	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q: the demo takes only flags", fs.Arg(0))
	}
	var err error
	if cfg.Populations, err = parsePopulations(*populations); err != nil {
		return config{}, fmt.Errorf("-populations: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// printUsage writes the help text of fs to its output.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: go run ./examples/demo [flags]

Starts a test issuer and an API behind the session middleware on
127.0.0.1, and sends the same request rate from three populations:
  swr       swrtoken.Transport with a Cache and a Poller per client
  blocking  oauth2.Transport with oauth2.ReuseTokenSourceWithExpiry,
            which refreshes on the caller's request
  browser   cookie jars that only send the __session cookie, renewed
            by the middleware
It prints a table per population, then one "result" line each, and
exits with status 1 if swr or browser had a failure, sent an expired
token or was signed out.

Token timing is the library's defaults scaled from 60-second tokens to
-lifetime L: cache RefreshLeeway max(L/4, MinRemaining+1s), cache
MinRemaining and oauth2 early expiry max(L/12, 1.5s), poll interval
L/12, cookie renewal window min(RefreshLeeway, L/2), middleware clock
leeway L/12. For L=10s: 2.5s, 1.5s, 833ms, 2.5s and 833ms.

Flags:
`)
	fs.PrintDefaults()
}
