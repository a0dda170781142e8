// Package swrtokentest provides a token issuer for tests, in the way
// net/http/httptest provides servers.
//
// An Issuer generates its own signing keys, serves them as a JWKS, and
// serves a session token endpoint in the shape of Clerk's Backend API:
//
//	GET  /.well-known/jwks.json
//	POST /v1/sessions/{session_id}/tokens
//	POST /v1/sessions/{session_id}/tokens/{template}
//
// The token endpoint requires the header "Authorization: Bearer" followed
// by Issuer.SecretKey, and responds {"object":"token","jwt":"..."}. The
// JWT carries the claims iat, nbf, exp, sub, sid, iss, azp, a jti that
// differs for every token the issuer mints, aud when Options.Audience is
// set, and with a template a "tpl" claim that names it. Errors have Clerk's shape:
// {"errors":[{"message":...,"long_message":...,"code":...}]}.
//
// Knobs set the token lifetime, a latency, a clock offset, injected
// failures, revoked sessions and key rotation, all while the issuer
// serves. Mint and MintWith make tokens directly, with any claim changed.
//
// NewIssuer listens on a loopback port. NewUnstartedIssuer does not
// listen: its Client calls the handler in-process, which is what tests
// inside a testing/synctest bubble need, because fake time does not
// advance while a goroutine waits on a real socket.
package swrtokentest

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Issuer is an in-process token issuer for tests. It is safe for
// concurrent use, except that Start must not run concurrently with other
// methods.
type Issuer struct {
	// URL is the base URL of the issuer, a loopback URL such as
	// http://127.0.0.1:port, with no trailing slash. It is empty until
	// Start.
	URL string

	// SecretKey is the bearer secret the token endpoint requires.
	SecretKey string

	opts    Options
	handler http.Handler

	// closeCtx is cancelled by Close, to end the latency waits in
	// progress so that closing does not wait for them.
	closeCtx context.Context
	cancel   context.CancelFunc

	tokenRequests atomic.Int64
	jwksRequests  atomic.Int64
	minted        atomic.Uint64 // tokens minted, to number the jti claims

	mu          sync.Mutex // guards the fields below
	server      *httptest.Server
	closed      bool
	keys        []*signingKey // every key generated, oldest first
	current     *signingKey   // the key that signs new tokens
	lifetime    time.Duration
	latency     time.Duration
	clockOffset time.Duration
	windows     []failureWindow
	fraction    failureFraction
	revoked     map[string]bool
}

// NewIssuer returns an issuer listening on a loopback address. The caller
// must call Close when done. It panics if opts.Algorithm is not supported
// or no key can be generated, because a test cannot go on without them.
func NewIssuer(opts Options) *Issuer {
	i := NewUnstartedIssuer(opts)
	i.Start()
	return i
}

// NewUnstartedIssuer returns an issuer that does not listen. Use its
// Handler or Client in-process, or call Start. It panics as NewIssuer
// does.
func NewUnstartedIssuer(opts Options) *Issuer {
	opts = opts.withDefaults()
	key, err := newSigningKey(opts.KeyID, opts.Algorithm)
	if err != nil {
		panic(err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	i := &Issuer{
		SecretKey: opts.SecretKey,
		opts:      opts,
		closeCtx:  ctx,
		cancel:    cancel,
		keys:      []*signingKey{key},
		current:   key,
		lifetime:  opts.Lifetime,
		latency:   opts.Latency,
		revoked:   make(map[string]bool),
	}
	i.handler = i.newHandler()
	return i
}

// Start starts listening on a loopback address and sets URL. It panics if
// the issuer was already started or closed.
func (i *Issuer) Start() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.server != nil || i.closed {
		panic("swrtokentest: Start called on an issuer that was already started or closed")
	}
	i.server = httptest.NewServer(i.handler)
	i.URL = i.server.URL
}

// Close stops the issuer. It ends the latency waits in progress, and for a
// started issuer it closes the listener and waits for the requests in
// progress to finish. Calling Close again does nothing.
func (i *Issuer) Close() {
	i.mu.Lock()
	server := i.server
	already := i.closed
	i.closed = true
	i.mu.Unlock()
	if already {
		return
	}
	i.cancel()
	if server != nil {
		server.Close()
	}
}

// Handler returns the handler that serves the issuer's routes.
func (i *Issuer) Handler() http.Handler {
	return i.handler
}

// Client returns a client that reaches the issuer. For a started issuer
// it is the httptest server's client, whose idle connections Close closes.
// For an unstarted one, it serves each request by calling Handler on the
// caller's goroutine, and it only accepts requests for UnstartedURL.
func (i *Issuer) Client() *http.Client {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.server != nil {
		return i.server.Client()
	}
	return &http.Client{Transport: inProcessTransport{issuer: i}}
}

// BaseURL returns URL once the issuer is started, and UnstartedURL
// before. Client reaches the issuer at this address either way.
func (i *Issuer) BaseURL() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.baseURL()
}

// JWKSURL returns the URL of the issuer's JWKS document, under BaseURL.
func (i *Issuer) JWKSURL() string {
	return i.BaseURL() + jwksPath
}

// baseURL is BaseURL for a caller that holds i.mu.
func (i *Issuer) baseURL() string {
	if i.server != nil {
		return i.server.URL
	}
	return UnstartedURL
}

// issuerClaim returns the iss claim of new tokens. The caller holds i.mu.
func (i *Issuer) issuerClaim() string {
	if i.opts.Issuer != "" {
		return i.opts.Issuer
	}
	return i.baseURL()
}

// SigningKey returns the key that signs new tokens, to sign hand-made
// tokens with it.
func (i *Issuer) SigningKey() (kid string, key crypto.Signer) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current.id, i.current.signer
}

// PublicKey returns the public key with the given kid, or nil when the
// JWKS does not contain it: the issuer never had it, or RemoveKey dropped
// it.
func (i *Issuer) PublicKey(kid string) crypto.PublicKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := i.findKey(kid)
	if k == nil || !k.published {
		return nil
	}
	return k.signer.Public()
}

// RotateKey generates a key with the issuer's algorithm, adds it to the
// JWKS and signs new tokens with it. The previous key stays in the JWKS
// until RemoveKey drops it. It returns the new key's kid, of the form
// "k2", "k3" and so on.
func (i *Issuer) RotateKey() (kid string) {
	key, err := newSigningKey("", i.opts.Algorithm)
	if err != nil {
		panic(err.Error())
	}

	i.mu.Lock()
	defer i.mu.Unlock()
	key.id = i.newKeyID()
	i.keys = append(i.keys, key)
	i.current = key
	return key.id
}

// RemoveKey drops the key with the given kid from the JWKS. If it was the
// current key, the newest key left in the JWKS signs new tokens, or a new
// key when none is left. MintWith can still sign with a removed key, to
// make tokens that verifiers must reject. An unknown kid is ignored.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := i.findKey(kid)
	if k == nil || !k.published {
		return
	}
	k.published = false
	if k != i.current {
		return
	}
	for _, other := range slices.Backward(i.keys) {
		if other.published {
			i.current = other
			return
		}
	}
	key, err := newSigningKey(i.newKeyID(), i.opts.Algorithm)
	if err != nil {
		panic(err.Error())
	}
	i.keys = append(i.keys, key)
	i.current = key
}

// findKey returns the key with the given kid, published or not, or nil.
// The caller holds i.mu.
func (i *Issuer) findKey(kid string) *signingKey {
	for _, k := range i.keys {
		if k.id == kid {
			return k
		}
	}
	return nil
}

// newKeyID returns the first of "k2", "k3"... that no key has, counting
// from the number of keys. The caller holds i.mu.
func (i *Issuer) newKeyID() string {
	for n := len(i.keys) + 1; ; n++ {
		id := fmt.Sprintf("k%d", n)
		if i.findKey(id) == nil {
			return id
		}
	}
}

// SetLifetime sets the lifetime of the tokens minted from now on. Zero
// or less restores DefaultLifetime.
func (i *Issuer) SetLifetime(d time.Duration) {
	if d <= 0 {
		d = DefaultLifetime
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.lifetime = d
}

// SetLatency sets how long the token endpoint waits before it responds,
// for the requests that arrive from now on. Zero or less means no delay.
func (i *Issuer) SetLatency(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.latency = max(d, 0)
}

// SetClockOffset sets the issuer's clock to Options.Now plus d, to
// simulate an issuer whose clock is ahead of the local one (d > 0) or
// behind it (d < 0). It moves the iat, nbf and exp claims of new tokens.
func (i *Issuer) SetClockOffset(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clockOffset = d
}

// RevokeSession makes the token endpoint respond 404 with the code
// "resource_not_found" for sessionID from now on, as for a session that
// ended. Mint still mints tokens for it.
func (i *Issuer) RevokeSession(sessionID string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revoked[sessionID] = true
}

// TokenRequests returns the number of requests the token endpoint has
// received, the failed and rejected ones included.
func (i *Issuer) TokenRequests() int64 {
	return i.tokenRequests.Load()
}

// JWKSRequests returns the number of requests for the JWKS document.
func (i *Issuer) JWKSRequests() int64 {
	return i.jwksRequests.Load()
}
