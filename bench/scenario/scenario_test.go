package scenario

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Settings of the default scenarios: a 2s token from a source that takes
// 100ms, refreshed 1s before it expires.
var (
	twoSecondSource = SourceOptions{Latency: 100 * time.Millisecond, Lifetime: 2 * time.Second}
	twoSecondPeer   = PeerOptions{EarlyRefresh: time.Second, MinRemaining: 200 * time.Millisecond}
)

func peerByName(t *testing.T, name string) Peer {
	t.Helper()
	for _, p := range Peers() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no peer named %q", name)
	return Peer{}
}

func TestHerdSwrtokenFetchesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := Herd(context.Background(), peerByName(t, SwrtokenName), HerdOptions{
			Source:        SourceOptions{Latency: 100 * time.Millisecond, Lifetime: time.Hour},
			Peer:          twoSecondPeer,
			Goroutines:    1000,
			PrimeLifetime: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.SourceCalls != 1 {
			t.Errorf("source calls = %d, want 1", res.SourceCalls)
		}
		if res.Errors != 0 {
			t.Errorf("errors = %d, want 0", res.Errors)
		}
		if res.Max != 100*time.Millisecond {
			t.Errorf("slowest call = %v, want the source latency, 100ms", res.Max)
		}
	})
}

func TestOutageSwrtokenHidesErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := Outage(context.Background(), peerByName(t, SwrtokenName), OutageOptions{
			Source: twoSecondSource,
			Peer:   twoSecondPeer,
			Load:   LoadOptions{Goroutines: 4, Pace: 5 * time.Millisecond},
			From:   0.4,
			To:     0.75,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.SourceFailures == 0 {
			t.Errorf("source failures = 0, want at least 1: the outage missed every refresh")
		}
		if res.Calls.Errors != 0 {
			t.Errorf("caller-visible errors = %d, want 0", res.Calls.Errors)
		}
		// The last retry before the token turns unusable is due two fetch
		// durations early, so it lands before any caller has to wait.
		if res.Calls.Max != 0 {
			t.Errorf("slowest call = %v, want 0: no call should wait for the source", res.Calls.Max)
		}
	})
}

func TestTailSwrtokenNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := Tail(context.Background(), peerByName(t, SwrtokenName), TailOptions{
			Source:           twoSecondSource,
			Peer:             twoSecondPeer,
			Load:             LoadOptions{Goroutines: 4, Duration: 10 * time.Second, Pace: 5 * time.Millisecond},
			BaselineDuration: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		// A refresh every 1.1s: the 1s leeway plus the 100ms fetch, which
		// MinBackoff (1s from the end of the last fetch) allows.
		if got := res.Refresh.SourceCalls; got < 8 || got > 10 {
			t.Errorf("source calls in 10s = %d, want 8 to 10", got)
		}
		if res.Refresh.Max != 0 {
			t.Errorf("slowest call = %v, want 0: no call should wait for the source", res.Refresh.Max)
		}
		if res.Refresh.Errors != 0 {
			t.Errorf("errors = %d, want 0", res.Refresh.Errors)
		}
		if res.Baseline.SourceCalls != 0 {
			t.Errorf("baseline source calls = %d, want 0", res.Baseline.SourceCalls)
		}
		if res.Baseline.Calls == 0 {
			t.Errorf("baseline calls = 0, want some")
		}
	})
}

// TestScenariosRunEveryPeer runs each scenario on each peer with a source
// that returns at once. With a latency, a peer that holds a mutex while it
// waits for the source would stop fake time, because goroutines that wait
// for a mutex do not count as blocked.
func TestScenariosRunEveryPeer(t *testing.T) {
	source := SourceOptions{Lifetime: 2 * time.Second}
	load := LoadOptions{Goroutines: 4, Duration: 3 * time.Second, Pace: 10 * time.Millisecond}
	for _, peer := range Peers() {
		t.Run(peer.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				tail, err := Tail(ctx, peer, TailOptions{
					Source: source, Peer: twoSecondPeer, Load: load, BaselineDuration: time.Second,
				})
				if err != nil {
					t.Fatalf("tail: %v", err)
				}
				if tail.Refresh.SourceCalls == 0 {
					t.Errorf("tail source calls = 0, want at least 1 refresh in 3s of 2s tokens")
				}
				if tail.Refresh.Calls == 0 || tail.Baseline.Calls == 0 {
					t.Errorf("tail calls = %d, baseline calls = %d, want both above 0",
						tail.Refresh.Calls, tail.Baseline.Calls)
				}

				herd, err := Herd(ctx, peer, HerdOptions{
					Source: source, Peer: twoSecondPeer, Goroutines: 100, PrimeLifetime: time.Second,
				})
				if err != nil {
					t.Fatalf("herd: %v", err)
				}
				if herd.SourceCalls == 0 {
					t.Errorf("herd source calls = 0, want at least 1 for an expired token")
				}

				outage, err := Outage(ctx, peer, OutageOptions{
					Source: source, Peer: twoSecondPeer, Load: load, From: 0.4, To: 0.75,
				})
				if err != nil {
					t.Fatalf("outage: %v", err)
				}
				if outage.SourceFailures == 0 {
					t.Errorf("outage source failures = 0, want at least 1")
				}
			})
		})
	}
}
