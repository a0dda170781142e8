// Package demo holds what the server examples share: the handlers of
// their two routes and a scripted browser that visits them and prints
// what happens. Tokens appear only by fingerprint.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// SessionID is the session the browser signs in with.
const SessionID = "sess_demo"

// Account is the handler of a page that requires a session.
var Account = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	claims, _ := swrtoken.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "account of %s", claims.Subject)
})

// Home is the handler of a page for everyone, signed in or not.
var Home = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if claims, ok := swrtoken.ClaimsFromContext(r.Context()); ok {
		fmt.Fprintf(w, "welcome back, %s", claims.Subject)
		return
	}
	fmt.Fprint(w, "welcome, guest")
})

// Renewals receives the session ids that the renewal cache refreshed.
// Pass its OnRefresh method as swrtoken.Options.OnRefresh.
type Renewals chan string

// OnRefresh sends key to r, or drops it when r is full.
func (r Renewals) OnRefresh(key string, _ swrtoken.Entry) {
	select {
	case r <- key:
	default:
	}
}

// Serve serves h on a loopback port, runs Browse against it, and shuts
// the server down.
func Serve(ctx context.Context, out io.Writer, h http.Handler, issuer *swrtokentest.Issuer, renewals Renewals) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "server at http://%s\n", ln.Addr())

	browseErr := Browse(ctx, out, "http://"+ln.Addr().String(), issuer, renewals)
	shutdownErr := srv.Shutdown(ctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(browseErr, shutdownErr)
}

// browser is an HTTP client with a cookie jar, as a browser keeps the
// session cookie.
type browser struct {
	client *http.Client
	base   *url.URL
	out    io.Writer
}

// Browse plays a browser that visits the server at baseURL, which
// mounts Home at / and Account at /account behind a middleware that
// renews cookies from the issuer's tokens, with RenewExpiredWithin set.
// It prints each step to out.
func Browse(ctx context.Context, out io.Writer, baseURL string, issuer *swrtokentest.Issuer, renewals Renewals) error {
	base, err := url.Parse(baseURL)
	if err != nil {
		return err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	b := &browser{client: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: base, out: out}

	fmt.Fprintln(out, "-- signed out")
	b.get(ctx, "/account")
	b.get(ctx, "/")

	fmt.Fprintln(out, "-- signed in, with a fresh token")
	b.setSession(issuer.Mint(SessionID))
	b.get(ctx, "/account")

	fmt.Fprintln(out, "-- 50s later: the token has 10s left, inside the renewal window")
	b.setSession(issuer.MintWith(swrtokentest.MintOptions{
		SessionID: SessionID, IssuedAt: time.Now().Add(-50 * time.Second)}))
	b.get(ctx, "/account")
	select {
	case key := <-renewals:
		fmt.Fprintf(out, "background renewal of %s finished\n", key)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the background renewal: %w", ctx.Err())
	}
	b.get(ctx, "/") // carries the renewed cookie unless the last response did
	b.get(ctx, "/account")

	fmt.Fprintln(out, "-- the browser comes back after its token expired 10s ago")
	b.setSession(issuer.MintWith(swrtokentest.MintOptions{
		SessionID: SessionID, IssuedAt: time.Now().Add(-70 * time.Second)}))
	b.get(ctx, "/account")

	fmt.Fprintf(out, "-- issuer: %d token requests, %d JWKS requests\n",
		issuer.TokenRequests(), issuer.JWKSRequests())
	return nil
}

// setSession stores token as the session cookie, as a sign-in would.
func (b *browser) setSession(token string) {
	b.client.Jar.SetCookies(b.base, []*http.Cookie{{
		Name: swrtoken.DefaultCookieName, Value: token, Path: "/"}})
}

// session returns the session cookie's token, or "".
func (b *browser) session() string {
	for _, c := range b.client.Jar.Cookies(b.base) {
		if c.Name == swrtoken.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// get sends GET path and prints the token sent, the response, and the
// renewed cookie if any. A failed request is printed, not returned, so
// that the script goes on.
func (b *browser) get(ctx context.Context, path string) {
	sent := "no token"
	if token := b.session(); token != "" {
		sent = "token " + swrtoken.Fingerprint(token)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base.JoinPath(path).String(), nil)
	if err != nil {
		fmt.Fprintf(b.out, "GET %s: %v\n", path, err)
		return
	}
	resp, err := b.client.Do(req)
	if err != nil {
		fmt.Fprintf(b.out, "GET %s: %v\n", path, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(b.out, "GET %s: read body: %v\n", path, err)
	}

	fmt.Fprintf(b.out, "GET %-8s with %-18s -> %d %q\n", path, sent, resp.StatusCode,
		strings.TrimSpace(string(body)))
	if challenge := resp.Header.Get("WWW-Authenticate"); challenge != "" {
		fmt.Fprintf(b.out, "    WWW-Authenticate: %s\n", challenge)
	}
	for _, c := range resp.Cookies() {
		if c.Name == swrtoken.DefaultCookieName {
			fmt.Fprintf(b.out, "    Set-Cookie: %s=<token %s>; Max-Age=%d\n",
				c.Name, swrtoken.Fingerprint(c.Value), c.MaxAge)
		}
	}
}

// MissingLines returns the lines that the output of Browse must contain
// and output lacks, for the examples' tests.
func MissingLines(output string) []string {
	var missing []string
	for _, want := range []string{
		`-> 401 "401 Unauthorized: a session token is required"`,
		`-> 200 "welcome, guest"`,
		`-> 200 "account of user_demo"`,
		"background renewal of " + SessionID + " finished",
		"Set-Cookie: __session=<token ",
		"-- issuer: 1 token requests, 1 JWKS requests",
	} {
		if !strings.Contains(output, want) {
			missing = append(missing, want)
		}
	}
	return missing
}
