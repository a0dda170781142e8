package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/swrtoken/swrtoken/bench/scenario"
)

func runTail(ctx context.Context, peers []scenario.Peer, opts scenario.TailOptions) error {
	fmt.Printf("\n## tail: %d goroutines for %v, lifetime %v, source latency %v, early refresh %v, "+
		"swrtoken MinRemaining %v (baseline: %v on a token that needs no refresh)\n\n",
		opts.Load.Goroutines, opts.Load.Duration, opts.Source.Lifetime, opts.Source.Latency,
		opts.Peer.EarlyRefresh, opts.Peer.MinRemaining, opts.BaselineDuration)
	var results []scenario.TailResult
	for _, p := range peers {
		r, err := scenario.Tail(ctx, p, opts)
		if err != nil {
			return fmt.Errorf("tail scenario of %s: %w", p.Name, err)
		}
		results = append(results, r)
	}

	w := newTable()
	fmt.Fprintln(w, "peer\tcalls\tp50\tp99\tp99.9\tmax\t>1ms\terrors\tsource calls\t"+
		"base p50\tbase p99\tbase p99.9\tbase max\tbase >1ms\tp99/base p99\t")
	for _, r := range results {
		f, b := r.Refresh, r.Baseline
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t\n",
			r.Peer, f.Calls, dur(f.P50), dur(f.P99), dur(f.P999), dur(f.Max), f.Slow, f.Errors,
			f.SourceCalls, dur(b.P50), dur(b.P99), dur(b.P999), dur(b.Max), b.Slow,
			ratio(f.P99, b.P99))
	}
	w.Flush()

	ref, ok := findTail(results, scenario.SwrtokenName)
	if !ok {
		return nil
	}
	fmt.Println("\nratios peer / swrtoken:")
	w = newTable()
	fmt.Fprintln(w, "peer\tp50\tp99\tp99.9\tmax\tsource calls\tbase p99\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Peer,
			ratio(r.Refresh.P50, ref.Refresh.P50), ratio(r.Refresh.P99, ref.Refresh.P99),
			ratio(r.Refresh.P999, ref.Refresh.P999), ratio(r.Refresh.Max, ref.Refresh.Max),
			ratio(r.Refresh.SourceCalls, ref.Refresh.SourceCalls),
			ratio(r.Baseline.P99, ref.Baseline.P99))
	}
	return w.Flush()
}

func findTail(results []scenario.TailResult, name string) (scenario.TailResult, bool) {
	for _, r := range results {
		if r.Peer == name {
			return r, true
		}
	}
	return scenario.TailResult{}, false
}

func runHerd(ctx context.Context, peers []scenario.Peer, opts scenario.HerdOptions) error {
	fmt.Printf("\n## herd: %d goroutines released at once on a token expired for %v; "+
		"source latency %v, new token lifetime %v\n\n",
		opts.Goroutines, time.Millisecond, opts.Source.Latency, opts.Source.Lifetime)
	var results []scenario.HerdResult
	var ref *scenario.HerdResult
	for _, p := range peers {
		r, err := scenario.Herd(ctx, p, opts)
		if err != nil {
			return fmt.Errorf("herd scenario of %s: %w", p.Name, err)
		}
		results = append(results, r)
		if p.Name == scenario.SwrtokenName {
			ref = &results[len(results)-1]
		}
	}
	w := newTable()
	fmt.Fprintln(w, "peer\tsource calls\terrors\tslowest call\tsource calls / swrtoken\t")
	for _, r := range results {
		rel := "-"
		if ref != nil {
			rel = ratio(r.SourceCalls, ref.SourceCalls)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t\n", r.Peer, r.SourceCalls, r.Errors, dur(r.Max), rel)
	}
	return w.Flush()
}

func runOutage(ctx context.Context, peers []scenario.Peer, opts scenario.OutageOptions) error {
	life := opts.Source.Lifetime
	fmt.Printf("\n## outage: source fails from %v to %v after the first token's issue "+
		"(lifetime %v, early refresh %v); %d goroutines; source latency %v\n\n",
		time.Duration(opts.From*float64(life)), time.Duration(opts.To*float64(life)), life,
		opts.Peer.EarlyRefresh, opts.Load.Goroutines, opts.Source.Latency)
	var results []scenario.OutageResult
	var ref *scenario.OutageResult
	for _, p := range peers {
		r, err := scenario.Outage(ctx, p, opts)
		if err != nil {
			return fmt.Errorf("outage scenario of %s: %w", p.Name, err)
		}
		results = append(results, r)
		if p.Name == scenario.SwrtokenName {
			ref = &results[len(results)-1]
		}
	}
	w := newTable()
	fmt.Fprintln(w, "peer\tcalls\tcaller errors\tsource calls\tsource failures\tp99\tmax\t>1ms\t"+
		"errors / swrtoken\tsource calls / swrtoken\t")
	for _, r := range results {
		relErr, relCalls := "-", "-"
		if ref != nil {
			relErr = ratio(r.Calls.Errors, ref.Calls.Errors)
			relCalls = ratio(r.Calls.SourceCalls, ref.Calls.SourceCalls)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t\n", r.Peer, r.Calls.Calls,
			r.Calls.Errors, r.Calls.SourceCalls, r.SourceFailures, dur(r.Calls.P99),
			dur(r.Calls.Max), r.Calls.Slow, relErr, relCalls)
	}
	return w.Flush()
}

func newTable() *tabwriter.Writer {
	return tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
}

// dur formats d with three significant digits at most.
func dur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
}

// ratio formats a/b. When b is zero it returns "=" if a is zero too, and
// "inf" otherwise.
func ratio[T ~int64 | ~uint64](a, b T) string {
	if b == 0 {
		if a == 0 {
			return "="
		}
		return "inf"
	}
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 2, 64) + "x"
}
