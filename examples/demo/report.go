package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the outcome of a run.
type report struct {
	Started       time.Time `json:"started"`
	Duration      millis    `json:"duration_ms"` // how long the load ran
	Interrupted   bool      `json:"interrupted"` // the run was stopped before -duration
	Clients       int       `json:"clients"`     // per population
	Rate          float64   `json:"rate"`        // requests per second per client
	Lifetime      millis    `json:"lifetime_ms"`
	IssuerLatency millis    `json:"issuer_latency_ms"`

	RefreshLeeway millis `json:"refresh_leeway_ms"`
	MinRemaining  millis `json:"min_remaining_ms"`
	PollInterval  millis `json:"poll_interval_ms"`
	RenewalWindow millis `json:"renewal_window_ms"`
	ClockLeeway   millis `json:"clock_leeway_ms"`

	IssuerTokenRequests int64 `json:"issuer_token_requests"` // as the issuer counted them

	// MaxStall is the maximum delay of a 10ms timer of the process during
	// the load, which is the longest wait for a CPU. Every latency measured
	// meanwhile includes it.
	MaxStall millis `json:"max_stall_ms"`

	Populations []populationReport `json:"populations"`
}

// populationReport holds the measurements of one population.
type populationReport struct {
	Name        string `json:"name"`
	Description string `json:"description"`

	Requests        int64 `json:"requests"`         // completed, failed ones included
	Failures        int64 `json:"failures"`         // transport errors and non-2xx responses
	TransportErrors int64 `json:"transport_errors"` // included in Failures
	Unauthorized    int64 `json:"unauthorized"`     // 401 responses, counted by the server

	LatencyP50 millis `json:"latency_p50_ms"`
	LatencyP99 millis `json:"latency_p99_ms"`
	LatencyMax millis `json:"latency_max_ms"`

	BlockingFetches   int64 `json:"blocking_fetches"`
	BackgroundFetches int64 `json:"background_fetches"`
	// MaxBlockingFetchesPerKey is the most blocking fetches of one
	// session, or nil when the population cannot tell them apart.
	MaxBlockingFetchesPerKey *int64 `json:"max_blocking_fetches_per_key,omitempty"`
	IssuerCalls              int64  `json:"issuer_calls"`

	ExpiredTokensSent int64 `json:"expired_tokens_sent"` // counted by the server

	// Renewals and SignOuts are set for browsers only.
	Renewals *int64 `json:"renewals,omitempty"`
	SignOuts *int64 `json:"sign_outs,omitempty"`
}

// millis is a duration that JSON shows in milliseconds.
type millis time.Duration

// MarshalJSON writes d as a number of milliseconds.
func (d millis) MarshalJSON() ([]byte, error) {
	return []byte(d.String()), nil
}

// String returns d in milliseconds, with up to three decimals.
func (d millis) String() string {
	ms := float64(d) / float64(time.Millisecond)
	return strconv.FormatFloat(math.Round(ms*1000)/1000, 'f', -1, 64)
}

// report returns the report of p, with the counts of the server.
func (p *population) report(serverCounts *serverCounts) populationReport {
	p.load.mu.Lock()
	latencies := slices.Clone(p.load.latencies)
	p.load.mu.Unlock()
	slices.Sort(latencies)

	fetches := p.fetches()
	r := populationReport{
		Name:              p.name,
		Description:       p.description,
		Requests:          p.load.requests.Load(),
		Failures:          p.load.failures.Load(),
		TransportErrors:   p.load.transport.Load(),
		Unauthorized:      serverCounts.unauthorized.Load(),
		LatencyP50:        millis(percentile(latencies, 0.50)),
		LatencyP99:        millis(percentile(latencies, 0.99)),
		LatencyMax:        millis(percentile(latencies, 1)),
		BlockingFetches:   fetches.blocking,
		BackgroundFetches: fetches.background,
		ExpiredTokensSent: serverCounts.expired.Load(),
	}
	if fetches.maxBlockingPerKey >= 0 {
		r.MaxBlockingFetchesPerKey = &fetches.maxBlockingPerKey
	}
	if p.issuerTransport != nil {
		r.IssuerCalls = p.issuerTransport.requests.Load()
	}
	if p.name == popBrowser {
		var renewals, signOuts int64
		for _, b := range p.browsers {
			renewed, signedOut := b.counts()
			renewals += renewed
			signOuts += signedOut
		}
		r.Renewals, r.SignOuts = &renewals, &signOuts
	}
	return r
}

// percentile returns the nearest-rank percentile q (0 < q <= 1) of
// sorted, or 0 when it is empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// problems returns what makes the run fail: any failure, expired token
// or sign-out of the swr and browser populations. The blocking
// population is there to show the stalls, and may fail.
func (r *report) problems() []string {
	var found []string
	for _, p := range r.Populations {
		if p.Name == popBlocking {
			continue
		}
		if p.Failures > 0 {
			found = append(found, fmt.Sprintf("%s: %d failed requests, want 0", p.Name, p.Failures))
		}
		if p.ExpiredTokensSent > 0 {
			found = append(found, fmt.Sprintf("%s: %d requests sent with an expired token, want 0",
				p.Name, p.ExpiredTokensSent))
		}
		if p.SignOuts != nil && *p.SignOuts > 0 {
			found = append(found, fmt.Sprintf("%s: %d sign-outs, want 0", p.Name, *p.SignOuts))
		}
	}
	return found
}

// writeText writes r as a table per population, then one result line
// per population.
func (r *report) writeText(w io.Writer) error {
	fmt.Fprintf(w, "%d clients per population, %v requests/s each, for %v",
		r.Clients, r.Rate, time.Duration(r.Duration).Round(100*time.Millisecond))
	if r.Interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	fmt.Fprintf(w, "\ntokens live %v, the issuer responds after %v; refresh leeway %v, "+
		"min remaining %v, poll interval %v, renewal window %v\n",
		time.Duration(r.Lifetime), time.Duration(r.IssuerLatency), time.Duration(r.RefreshLeeway),
		time.Duration(r.MinRemaining), time.Duration(r.PollInterval).Round(time.Millisecond),
		time.Duration(r.RenewalWindow))
	fmt.Fprintln(w, "every client signed in before the load: swr and blocking clients fetched their first token, "+
		"browsers got a cookie minted by the issuer")

	for _, p := range r.Populations {
		fmt.Fprintf(w, "\n%s: %s\n", p.Name, p.Description)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		row := func(name, value string) { fmt.Fprintf(tw, "  %s\t%s\n", name, value) }
		row("requests", strconv.FormatInt(p.Requests, 10))
		row("failures", fmt.Sprintf("%d (%d transport errors)", p.Failures, p.TransportErrors))
		row("401 responses", strconv.FormatInt(p.Unauthorized, 10))
		row("latency p50 / p99 / max", fmt.Sprintf("%s / %s / %s ms", p.LatencyP50, p.LatencyP99, p.LatencyMax))
		fetches := fmt.Sprintf("%d blocking, %d background", p.BlockingFetches, p.BackgroundFetches)
		if p.MaxBlockingFetchesPerKey != nil {
			fetches += fmt.Sprintf(" (at most %d blocking per session)", *p.MaxBlockingFetchesPerKey)
		}
		row("token fetches", fetches)
		row("issuer calls", strconv.FormatInt(p.IssuerCalls, 10))
		row("expired tokens sent", strconv.FormatInt(p.ExpiredTokensSent, 10))
		if p.Renewals != nil {
			row("cookie renewals", strconv.FormatInt(*p.Renewals, 10))
			row("sign-outs", strconv.FormatInt(*p.SignOuts, 10))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nissuer: %d token requests in all\n", r.IssuerTokenRequests)
	fmt.Fprintf(w, "longest stall of this process (a 10ms timer firing late): %sms\n\n", r.MaxStall)
	for _, p := range r.Populations {
		if _, err := fmt.Fprintln(w, p.resultLine()); err != nil {
			return err
		}
	}
	return nil
}

// resultLine returns the machine-readable line of p: "result " and
// key=value pairs separated by spaces.
func (p populationReport) resultLine() string {
	pairs := []string{
		"population=" + p.Name,
		fmt.Sprintf("requests=%d", p.Requests),
		fmt.Sprintf("failures=%d", p.Failures),
		fmt.Sprintf("transport_errors=%d", p.TransportErrors),
		fmt.Sprintf("unauthorized=%d", p.Unauthorized),
		"p50_ms=" + p.LatencyP50.String(),
		"p99_ms=" + p.LatencyP99.String(),
		"max_ms=" + p.LatencyMax.String(),
		fmt.Sprintf("blocking_fetches=%d", p.BlockingFetches),
		fmt.Sprintf("background_fetches=%d", p.BackgroundFetches),
	}
	if p.MaxBlockingFetchesPerKey != nil {
		pairs = append(pairs, fmt.Sprintf("max_blocking_fetches_per_key=%d", *p.MaxBlockingFetchesPerKey))
	}
	pairs = append(pairs,
		fmt.Sprintf("issuer_calls=%d", p.IssuerCalls),
		fmt.Sprintf("expired_tokens_sent=%d", p.ExpiredTokensSent))
	if p.Renewals != nil {
		pairs = append(pairs,
			fmt.Sprintf("renewals=%d", *p.Renewals),
			fmt.Sprintf("sign_outs=%d", *p.SignOuts))
	}
	return "result " + strings.Join(pairs, " ")
}

// writeJSON writes r as an indented JSON document.
func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
