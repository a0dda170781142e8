// Command compare runs swrtoken and the token caches Go programs use
// today (golang.org/x/oauth2, cloud.google.com/go/auth and smithy-go)
// through three scenarios against the same fake token source, and prints
// a table per scenario with ratios against swrtoken:
//
//   - tail: call latency while tokens expire and are refreshed, next to a
//     baseline on a token that needs no refresh;
//   - herd: goroutines released at once on an expired token;
//   - outage: the source fails during part of a token's life.
//
// Run it from the bench module with "go run ./cmd/compare"; -short runs
// every scenario with times ten times smaller, in about 12 seconds.
// Every knob has a flag: see "go run ./cmd/compare -h".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/swrtoken/swrtoken/bench/scenario"
)

// config holds the flag values.
type config struct {
	peers, scenarios string
	short            bool

	goroutines       int
	lifetime         time.Duration
	latency          time.Duration
	duration         time.Duration
	baselineDuration time.Duration

	earlyRefresh     time.Duration
	minRemaining     time.Duration
	minBackoff       time.Duration
	smithyAsyncDelay time.Duration

	herd              int
	herdLifetime      time.Duration
	herdPrimeLifetime time.Duration

	outageFrom, outageTo float64
	outageDuration       time.Duration
}

func main() {
	cfg := parseFlags()
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.peers, "peers", "all", "comma-separated peers to run, or all: "+peerNames())
	flag.StringVar(&c.scenarios, "scenarios", "tail,herd,outage", "comma-separated scenarios to run")
	flag.BoolVar(&c.short, "short", false,
		"divide every default time by ten, for CI (flags set explicitly are kept)")
	flag.IntVar(&c.goroutines, "goroutines", 16, "goroutines calling the cache in the tail and outage scenarios")
	flag.DurationVar(&c.lifetime, "lifetime", 2*time.Second, "token lifetime")
	flag.DurationVar(&c.latency, "latency", 100*time.Millisecond, "duration of each token source call")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "duration of the tail scenario's calls")
	flag.DurationVar(&c.baselineDuration, "baseline-duration", 10*time.Second,
		"duration of the tail baseline, on a token that needs no refresh (0 skips it)")
	flag.DurationVar(&c.earlyRefresh, "early-refresh", time.Second,
		"how long before expiry every cache starts to refresh (swrtoken RefreshLeeway, "+
			"oauth2 earlyExpiry, cloud-auth ExpireEarly, smithy RefreshBeforeExpires)")
	flag.DurationVar(&c.minRemaining, "min-remaining", 200*time.Millisecond, "swrtoken MinRemaining")
	flag.DurationVar(&c.minBackoff, "min-backoff", time.Second, "swrtoken MinBackoff")
	flag.DurationVar(&c.smithyAsyncDelay, "smithy-async-min-delay", 0, "smithy-go AsyncRefreshMinimumDelay")
	flag.IntVar(&c.herd, "herd", 1000, "goroutines released at once in the herd scenario")
	flag.DurationVar(&c.herdLifetime, "herd-lifetime", time.Hour, "lifetime of the token the herd fetches")
	flag.DurationVar(&c.herdPrimeLifetime, "herd-prime-lifetime", 0,
		"lifetime of the token that has expired when the herd arrives (0 means -lifetime)")
	flag.Float64Var(&c.outageFrom, "outage-from", 0.4,
		"start of the outage, as a fraction of the first token's lifetime from its issue")
	flag.Float64Var(&c.outageTo, "outage-to", 0.75, "end of the outage, as a fraction of the lifetime")
	flag.DurationVar(&c.outageDuration, "outage-duration", 0,
		"duration of the outage scenario's calls (0 means 1.5 lifetimes)")
	flag.Parse()

	if c.short {
		shortenDefaults(&c)
	}
	if c.herdPrimeLifetime == 0 {
		c.herdPrimeLifetime = c.lifetime
	}
	return c
}

// shortenDefaults divides by ten every time that was not set by a flag.
func shortenDefaults(c *config) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, d := range map[string]*time.Duration{
		"lifetime":          &c.lifetime,
		"latency":           &c.latency,
		"duration":          &c.duration,
		"baseline-duration": &c.baselineDuration,
		"early-refresh":     &c.earlyRefresh,
		"min-remaining":     &c.minRemaining,
		"min-backoff":       &c.minBackoff,
	} {
		if !set[name] {
			*d /= 10
		}
	}
}

func peerNames() string {
	var names []string
	for _, p := range scenario.Peers() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// selectPeers returns the peers named in list, or all of them.
func selectPeers(list string) ([]scenario.Peer, error) {
	all := scenario.Peers()
	if list == "all" {
		return all, nil
	}
	var peers []scenario.Peer
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, p := range all {
			if p.Name == strings.TrimSpace(name) {
				peers = append(peers, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown peer %q in -peers; known peers: %s", name, peerNames())
		}
	}
	return peers, nil
}

func run(ctx context.Context, c config) error {
	peers, err := selectPeers(c.peers)
	if err != nil {
		return err
	}
	fmt.Printf("compare: %s, %s, GOMAXPROCS=%d, %s\n", time.Now().UTC().Format(time.RFC3339),
		runtime.Version(), runtime.GOMAXPROCS(0), strings.Join(os.Args[1:], " "))
	peerOpts := scenario.PeerOptions{
		EarlyRefresh:        c.earlyRefresh,
		MinRemaining:        c.minRemaining,
		MinBackoff:          c.minBackoff,
		SmithyAsyncMinDelay: c.smithyAsyncDelay,
	}
	source := scenario.SourceOptions{Latency: c.latency, Lifetime: c.lifetime}
	load := scenario.LoadOptions{Goroutines: c.goroutines, Duration: c.duration}

	for _, name := range strings.Split(c.scenarios, ",") {
		switch strings.TrimSpace(name) {
		case "tail":
			err = runTail(ctx, peers, scenario.TailOptions{
				Source: source, Peer: peerOpts, Load: load, BaselineDuration: c.baselineDuration,
			})
		case "herd":
			err = runHerd(ctx, peers, scenario.HerdOptions{
				Source:        scenario.SourceOptions{Latency: c.latency, Lifetime: c.herdLifetime},
				Peer:          peerOpts,
				Goroutines:    c.herd,
				PrimeLifetime: c.herdPrimeLifetime,
			})
		case "outage":
			outageLoad := load
			outageLoad.Duration = c.outageDuration
			err = runOutage(ctx, peers, scenario.OutageOptions{
				Source: source, Peer: peerOpts, Load: outageLoad, From: c.outageFrom, To: c.outageTo,
			})
		default:
			err = fmt.Errorf("unknown scenario %q in -scenarios; known: tail, herd, outage", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
