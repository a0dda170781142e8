package swrtoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// inRenewalWindow reports whether the token of ver is close enough to
// its end at now to be renewed: within RenewalWindow of its exp claim.
// The window is at most half the token's lifetime, so that a short-lived
// token is not renewed on every request.
func (m *Middleware) inRenewalWindow(ver *verification, now time.Time) bool {
	window := m.opts.RenewalWindow
	if !ver.issuedAt.IsZero() {
		window = min(window, ver.expiry.Sub(ver.issuedAt)/2)
	}
	return ver.expiry.Sub(now) <= window
}

// newerToken returns the token cached for key if it is usable and newer
// than the token with text token and exp claim expiry.
func (m *Middleware) newerToken(key, token string, expiry time.Time) (Token, bool) {
	e, state := m.opts.RenewalCache.Lookup(key)
	if state == Unusable || e.Token.Value == token || !e.Token.Expiry.After(expiry) {
		return Token{}, false
	}
	return e.Token, true
}

// startRenewal starts the renewal of a cookie token in its renewal
// window: a background refresh for key unless the cache already holds a
// newer token, which the cache runs once per key however many requests
// ask. It returns w wrapped so that, when the response header is about
// to be sent, the newest usable token goes into a Set-Cookie header.
func (m *Middleware) startRenewal(ctx context.Context, w http.ResponseWriter, key, token string, expiry time.Time) (http.ResponseWriter, *headerWriter) {
	if _, ok := m.newerToken(key, token, expiry); !ok {
		m.opts.RenewalCache.Refresh(ctx, key)
	}
	return wrapWriter(w, func(h http.Header) {
		newer, ok := m.newerToken(key, token, expiry)
		if !ok {
			return
		}
		if ver, ok := m.verifyRenewed(ctx, newer.Value, key); ok {
			m.setCookie(ctx, h, newer.Value, ver.expiry, key)
		}
	})
}

// verifyRenewed reports whether token, fetched by the renewal cache for
// key, may go into the browser's cookie: it verifies in full, as any
// request's token does, and belongs to the same renewal key. This keeps
// a fetcher that returns a wrong token, for another session or from
// another issuer, from signing the browser in as someone else. The
// verified-token cache makes the check cost one signature verification
// per new token.
//
// It runs while the response header is written, so it must not wait for
// the network. It verifies with a context that is already done, so only
// keys fetched before count. A token signed with a key the middleware has
// not fetched yet, after the issuer rotated its keys for example, is
// verified off the response path instead, where the JWKS may be fetched,
// and a later response carries the cookie.
func (m *Middleware) verifyRenewed(ctx context.Context, token, key string) (*verification, bool) {
	ver, err := m.verifier.verify(doneContext, token, time.Now())
	if errors.Is(err, jwt.ErrTokenUnverifiable) {
		m.verifyInBackground(token)
		m.log(ctx, slog.LevelDebug, "swrtoken: renewed token signed with a key not fetched yet, cookie deferred",
			slog.String("key", key), slog.String("fingerprint", Fingerprint(token)))
		return nil, false
	}
	if err == nil && m.opts.RenewalKey(ver.claims) != key {
		err = errors.New("the token is for another renewal key")
	}
	if err != nil {
		m.log(ctx, slog.LevelWarn, "swrtoken: renewed token rejected, cookie not renewed",
			slog.String("key", key), slog.String("fingerprint", Fingerprint(token)),
			slog.Any("error", err))
		return nil, false
	}
	return ver, true
}

// doneContext is a context that is already cancelled.
var doneContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// verifyInBackground verifies token on a goroutine, bounded by
// JWKSTimeout and by Close, so that the keys it needs are fetched and the
// result is in the verified-token cache for the next response. At most
// one such verification runs at a time: the JWKS fetches of unknown key
// IDs are rate limited anyway.
func (m *Middleware) verifyInBackground(token string) {
	if !m.warming.CompareAndSwap(false, true) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.background.Err() != nil {
		m.warming.Store(false) // closed
		return
	}
	m.pending.Add(1)
	go func() {
		defer m.pending.Done()
		defer m.warming.Store(false)
		ctx, cancel := context.WithTimeout(m.background, m.opts.JWKSTimeout)
		defer cancel()
		m.verifier.verify(ctx, token, time.Now())
	}()
}

// canRenewExpired reports whether a token that failed verification with
// err can be renewed: its only fault is an exp claim less than
// RenewExpiredWithin past the end of the leeway, it came from the
// session cookie, and renewal is on.
func (m *Middleware) canRenewExpired(ver *verification, err error, source tokenSource, now time.Time) bool {
	return ver != nil && source == sourceCookie && m.opts.RenewalCache != nil &&
		m.opts.RenewExpiredWithin > 0 && errors.Is(err, jwt.ErrTokenExpired) &&
		now.Before(ver.keepUntil)
}

// renewExpired returns a new token for the session of the expired token
// ver, waiting for the fetch within ctx, and the new token's
// verification. The new token must verify in full and belong to the same
// renewal key.
func (m *Middleware) renewExpired(ctx context.Context, token string, ver *verification, now time.Time) (string, *verification, error) {
	key := m.opts.RenewalKey(ver.claims)
	if key == "" {
		return "", nil, fmt.Errorf("%w: the token has no renewal key", errRenewalFailed)
	}
	renewed, err := m.opts.RenewalCache.Token(ctx, key)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", errRenewalFailed, err)
	}
	if renewed == token {
		return "", nil, fmt.Errorf("%w: the cache returned the expired token", errRenewalFailed)
	}
	newVer, err := m.verifier.verify(ctx, renewed, now)
	if err != nil {
		return "", nil, fmt.Errorf("%w: new token %s: %w", errRenewalFailed, Fingerprint(renewed), err)
	}
	if got := m.opts.RenewalKey(newVer.claims); got != key {
		return "", nil, fmt.Errorf("%w: new token is for key %q, want %q", errRenewalFailed, got, key)
	}
	return renewed, newVer, nil
}

// setCookie adds to h the session cookie that carries token, whose exp
// claim is expiry, unless the handler set a cookie of that name itself,
// at sign-out for example.
//
// The cookie ends with its token, plus Leeway and RenewExpiredWithin:
// past that the token is rejected anyway, and the browser should stop
// sending it. Max-Age counts from the response, so that a wrong browser
// clock does not shorten or lengthen it; Expires is the same moment, for
// clients that ignore Max-Age.
func (m *Middleware) setCookie(ctx context.Context, h http.Header, token string, expiry time.Time, key string) {
	prefix := m.opts.CookieName + "="
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, prefix) {
			return
		}
	}

	now := time.Now()
	maxAge := expiry.Add(m.verifier.keep).Sub(now)
	seconds := int((maxAge + time.Second - 1) / time.Second)
	if seconds <= 0 {
		return
	}
	c := &http.Cookie{
		Name:     m.opts.CookieName,
		Value:    token,
		Path:     "/",
		Domain:   m.opts.CookieDomain,
		MaxAge:   seconds,
		Expires:  now.Add(time.Duration(seconds) * time.Second),
		Secure:   !m.opts.InsecureCookie,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if err := c.Valid(); err != nil {
		// Cookie.String would drop the invalid bytes and log to the
		// standard logger. The error is not logged: it quotes a byte of
		// the token.
		m.log(ctx, slog.LevelWarn, "swrtoken: renewed token contains bytes not allowed in a cookie",
			slog.String("key", key), slog.String("fingerprint", Fingerprint(token)))
		return
	}

	h.Add("Set-Cookie", c.String())
	addVary(h, "Cookie")
	h.Set("Cache-Control", privateCacheControl(h.Values("Cache-Control")))
	m.log(ctx, slog.LevelDebug, "swrtoken: session cookie renewed",
		slog.String("key", key), slog.String("fingerprint", Fingerprint(token)))
}

// addVary adds field to the Vary header unless it is listed already.
func addVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, field) {
				return
			}
		}
	}
	h.Add("Vary", field)
}

// privateCacheControl returns the Cache-Control directives values
// changed so that shared caches do not store a response that sets a
// session cookie: public and s-maxage are dropped and private is added,
// unless no-store or private is there already.
func privateCacheControl(values []string) string {
	var kept []string
	private := false
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			d = strings.TrimSpace(d)
			name, _, _ := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "", "public", "s-maxage":
				continue
			case "private", "no-store":
				private = true
			}
			kept = append(kept, d)
		}
	}
	if !private {
		kept = append(kept, "private")
	}
	return strings.Join(kept, ", ")
}
