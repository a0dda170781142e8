package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"time"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// newBrowserPopulation creates the browsers, each signed in with a
// session cookie that the issuer minted for its session.
func newBrowserPopulation(env *environment) (*population, error) {
	p := &population{
		name:         popBrowser,
		description:  "cookie jars that send only the __session cookie, which the middleware renews",
		apiTransport: newTransport(),
		// The middleware's renewal fetches are the issuer calls of the
		// browsers.
		issuerTransport: env.server.issuerTransport,
	}
	base, err := url.Parse(env.server.URL)
	if err != nil {
		return nil, fmt.Errorf("parse the API URL %q: %w", env.server.URL, err)
	}
	for i := range env.cfg.Clients {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, fmt.Errorf("create a cookie jar: %w", err)
		}
		b := &browser{
			http:    &http.Client{Jar: jar, Transport: p.apiTransport},
			url:     env.apiURL(popBrowser),
			base:    base,
			session: sessionID(popBrowser, i),
			issuer:  env.issuer,
			keep:    env.timing.ClockLeeway,
			logger:  env.logger,
		}
		b.signIn()
		p.browsers = append(p.browsers, b)
		p.clients = append(p.clients, b)
	}
	renewals := env.server.renewals
	p.fetches = func() fetchCounts {
		stats := renewals.Stats()
		return fetchCounts{
			blocking:          int64(stats.Fetches - stats.BackgroundFetches),
			background:        int64(stats.BackgroundFetches),
			maxBlockingPerKey: -1,
		}
	}
	return p, nil
}

// browser is a client of the browser population: it keeps a cookie jar
// and sends only its session cookie, as a browser does.
type browser struct {
	http    *http.Client
	url     string
	base    *url.URL
	session string
	issuer  *swrtokentest.Issuer
	keep    time.Duration // how long a cookie outlives its token
	logger  *slog.Logger

	mu       sync.Mutex // guards the fields below and sign-ins
	renewed  string     // the last renewed token received
	renewals int64      // renewed tokens received
	signOuts int64      // times the session was lost
}

// signIn stores a new session cookie, as a sign-in page would. The cookie
// ends with its token plus the middleware's clock leeway, as the cookies
// that the middleware renews do.
func (b *browser) signIn() {
	token := b.issuer.Mint(b.session)
	cookie := &http.Cookie{Name: swrtoken.DefaultCookieName, Value: token, Path: "/", HttpOnly: true}
	if _, exp, err := swrtoken.ParseJWTTimes(token); err == nil {
		cookie.Expires = exp.Add(b.keep)
	}
	b.http.Jar.SetCookies(b.base, []*http.Cookie{cookie})
}

// cookie returns the token of the session cookie, or "".
func (b *browser) cookie() string {
	for _, c := range b.http.Jar.Cookies(b.base) {
		if c.Name == swrtoken.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

func (b *browser) do(ctx context.Context) (int, error) {
	sent := b.cookie()
	status, err := get(ctx, b.http, b.url, func(resp *http.Response) {
		for _, c := range resp.Cookies() {
			if c.Name == swrtoken.DefaultCookieName && c.Value != "" && c.Value != sent {
				b.noteRenewal(c.Value)
			}
		}
	})
	if status == http.StatusUnauthorized {
		b.noteSignOut(sent)
	}
	return status, err
}

// noteRenewal counts token, a renewed token, unless it was counted by a
// concurrent response already.
func (b *browser) noteRenewal(token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if token != b.renewed {
		b.renewed = token
		b.renewals++
	}
}

// noteSignOut handles a 401 response to a request sent with the token
// sent: unless the jar holds another token by now, the session is lost,
// so it counts a sign-out and signs in again.
func (b *browser) noteSignOut(sent string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if current := b.cookie(); current != "" && current != sent {
		return
	}
	b.signOuts++
	b.logger.Warn("demo: browser signed out", "session", b.session,
		"fingerprint", swrtoken.Fingerprint(sent))
	b.signIn()
}

// counts returns the renewals and sign-outs of b.
func (b *browser) counts() (renewals, signOuts int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.renewals, b.signOuts
}
