package swrtoken

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Middleware is an HTTP middleware that authenticates requests by the
// session JWT they carry, as a bearer token or in a session cookie, and
// keeps the session cookies of browsers fresh.
//
// RequireAuth and Optional return the handlers to mount, with
// http.ServeMux.Handle or with a router's Use and With. A request whose
// token verifies reaches the next handler with the claims in its context
// (ClaimsFromContext, TokenFromContext).
//
// Verification checks the signature against an allow-list of algorithms
// and the keys of MiddlewareOptions, then the exp (required), nbf and iat
// claims with a leeway, and the iss, aud and azp claims when configured.
// A token seen again within its lifetime is found in a bounded cache of
// verified tokens by its SHA-256 hash, and only its time checks run.
//
// # Renewal
//
// With a RenewalCache, a cookie token in its renewal window does not
// delay its request, which is served with that token. The cache
// refreshes the session's token in the background, once per session
// however many requests arrive. When the handler writes the response
// header, the response gets a Set-Cookie with the newer token if the
// cache holds one by then. Otherwise a later response gets it. Tokens
// from the Authorization header are never renewed, because such clients
// renew their own, with a Transport for example.
//
// A Middleware is safe for concurrent use. Close stops the JWKS refresh.
type Middleware struct {
	opts     MiddlewareOptions
	verifier *verifier

	// background is cancelled by Close. It bounds the verifications of
	// renewed tokens that run off the response path, which pending
	// counts, and warming is set while one runs.
	background context.Context
	cancel     context.CancelFunc
	warming    atomic.Bool

	mu      sync.Mutex     // guards the calls to pending.Add and cancel
	pending sync.WaitGroup // verifications off the response path

	closeOnce sync.Once
}

// NewMiddleware returns a middleware configured by opts. It returns an
// error for options that would accept no token or accept tokens unsafely.
// With a JWKSURL it fetches the key set before it returns, waiting up to
// JWKSTimeout, and starts a goroutine that refreshes it until Close.
func NewMiddleware(opts MiddlewareOptions) (*Middleware, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	v, err := newVerifier(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Middleware{opts: opts, verifier: v, background: ctx, cancel: cancel}, nil
}

// Close stops the background refresh of the JWKS and cancels, then waits
// for, the verification of a renewed token that runs off the response
// path. Requests are still verified with the keys fetched so far, and
// tokens with an unknown key ID still cause a rate-limited fetch. Close
// leaves RenewalCache open, because its owner may share it. Calling Close
// again does nothing.
func (m *Middleware) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.cancel()
		m.mu.Unlock()
		m.pending.Wait()
		m.verifier.close()
	})
	return nil
}

// RequireAuth is a middleware that lets a request reach next only when
// it carries a valid token. Others get the response of ErrorHandler, by
// default 401 Unauthorized. Behind Optional of the same Middleware, it
// uses the outcome of Optional instead of verifying again.
func (m *Middleware) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next, true)
	})
}

// Optional is a middleware for pages that work both signed in and out: a
// request without a token, or with a token that is rejected, reaches next
// without claims in its context. A valid token is handled as by
// RequireAuth, renewal included. Wrap the routes that must be signed in
// with RequireAuth as well.
func (m *Middleware) Optional(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next, false)
	})
}

// serve authenticates r and calls next, or rejects r when required.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler, required bool) {
	ctx := r.Context()
	if prior, ok := ctx.Value(verifiedContextKey).(*verifiedToken); ok && prior.checkedBy == m {
		if required && prior.claims == nil {
			m.opts.ErrorHandler(w, r, prior.err)
			return
		}
		next.ServeHTTP(w, r)
		return
	}

	now := time.Now()
	token, source, err := m.extract(r)
	var ver *verification
	renewed := false
	if err == nil {
		token, ver, renewed, err = m.authenticate(r, token, source, now)
	}
	if err != nil {
		m.reject(w, r, next, required, err)
		return
	}
	m.serveVerified(w, r, next, token, source, ver, renewed, now)
}

// authenticate verifies token. When it is an expired cookie token that
// may be renewed, authenticate renews it and returns the new token with
// renewed set. Errors wrap ErrInvalidToken.
func (m *Middleware) authenticate(r *http.Request, token string, source tokenSource, now time.Time) (string, *verification, bool, error) {
	ver, err := m.verifier.verify(r.Context(), token, now)
	if err == nil {
		return token, ver, false, nil
	}
	if !m.canRenewExpired(ver, err, source, now) {
		return token, nil, false, invalidToken(token, err)
	}
	newToken, newVer, err := m.renewExpired(r.Context(), token, ver, now)
	if err != nil {
		return token, nil, false, invalidToken(token, err)
	}
	return newToken, newVer, true, nil
}

// serveVerified calls next with the verified token in the request's
// context. A token that authenticate renewed goes into the session
// cookie, and a cookie token in its renewal window starts a renewal.
func (m *Middleware) serveVerified(w http.ResponseWriter, r *http.Request, next http.Handler, token string, source tokenSource, ver *verification, renewed bool, now time.Time) {
	ctx := r.Context()
	r = r.WithContext(context.WithValue(ctx, verifiedContextKey,
		&verifiedToken{raw: token, claims: ver.claims, checkedBy: m}))

	var hw *headerWriter
	switch {
	case renewed:
		key := m.opts.RenewalKey(ver.claims)
		w, hw = wrapWriter(w, func(h http.Header) {
			m.setCookie(ctx, h, token, ver.expiry, key)
		})
	case source == sourceCookie && m.opts.RenewalCache != nil && m.inRenewalWindow(ver, now):
		if key := m.opts.RenewalKey(ver.claims); key != "" {
			w, hw = m.startRenewal(ctx, w, key, token, ver.expiry)
		}
	}
	next.ServeHTTP(w, r)
	if hw != nil {
		// A handler that wrote nothing leaves the header to net/http,
		// which sends it after this returns, so the cookie must be in it
		// by then.
		hw.prepare()
	}
}

// reject handles a request without a valid token: it calls ErrorHandler
// when required, and otherwise next without claims, recording err for a
// RequireAuth further in.
func (m *Middleware) reject(w http.ResponseWriter, r *http.Request, next http.Handler, required bool, err error) {
	if !errors.Is(err, ErrNoToken) {
		// The error names the token by its fingerprint where there is one.
		m.log(r.Context(), slog.LevelDebug, "swrtoken: token rejected", slog.Any("error", err))
	}
	if required {
		m.opts.ErrorHandler(w, r, err)
		return
	}
	ctx := context.WithValue(r.Context(), verifiedContextKey, &verifiedToken{err: err, checkedBy: m})
	next.ServeHTTP(w, r.WithContext(ctx))
}

// log writes a record to the Logger, if there is one.
func (m *Middleware) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if m.opts.Logger != nil {
		m.opts.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
