// Package scenario runs swrtoken and the token caches that Go programs use
// today through the same scenarios. Every cache is driven by the same fake
// token source, a Source, wrapped in the interface that cache expects, and
// configured by one PeerOptions so that all of them refresh alike.
//
// The scenarios:
//
//   - Tail: goroutines read tokens as fast as they can while tokens expire
//     and are refreshed, and the call latencies go into a Histogram. A
//     baseline runs the same load on a token that needs no refresh.
//   - Herd: goroutines are released at once on an expired token, and the
//     Source calls they cause are counted.
//   - Outage: the Source fails for part of the first token's life while
//     goroutines read, and the errors they see are counted.
//
// The scenarios call the time package directly, as the peers do, so inside
// a testing/synctest bubble they run on fake time. Some peers hold a mutex
// while they fetch (oauth2.ReuseTokenSource and cloud.google.com/go/auth).
// A goroutine waiting for a mutex does not let fake time advance, so in a
// bubble those peers need a Source latency of zero.
package scenario
