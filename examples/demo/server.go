package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/swrtoken/swrtoken"
	"github.com/swrtoken/swrtoken/swrtokentest"
)

// serverCounts counts, on the API server, the requests of one
// population.
type serverCounts struct {
	requests     atomic.Int64 // requests that arrived
	unauthorized atomic.Int64 // 401 responses
	expired      atomic.Int64 // requests whose token had expired on arrival
}

// apiServer is the API protected by the session middleware. It renews
// browser cookies through a RenewalCache that fetches from the issuer.
type apiServer struct {
	URL string

	server     *http.Server
	served     chan error
	middleware *swrtoken.Middleware
	renewals   *swrtoken.Cache
	logger     *slog.Logger

	// issuerTransport sends the renewal fetches, and jwksClient the JWKS
	// requests. Their idle connections are closed at shutdown.
	issuerTransport *countingTransport
	jwksClient      *http.Client

	counts map[string]*serverCounts // by population; never written after start
}

// startServer starts the API server on a loopback port, verifying tokens
// with the issuer's JWKS.
func startServer(issuer *swrtokentest.Issuer, cfg config, t timing, logger *slog.Logger) (*apiServer, error) {
	s := &apiServer{
		served:          make(chan error, 1),
		logger:          logger,
		issuerTransport: &countingTransport{base: newTransport()},
		jwksClient:      &http.Client{Transport: newTransport(), Timeout: 10 * time.Second},
		counts:          make(map[string]*serverCounts),
	}
	for _, name := range allPopulations {
		s.counts[name] = new(serverCounts)
	}

	s.renewals = swrtoken.NewCache(&swrtoken.SessionTokenFetcher{
		BaseURL:   issuer.URL,
		SecretKey: issuer.SecretKey,
		Client:    &http.Client{Transport: s.issuerTransport},
	}, cacheOptions(t, logger))
	mw, err := swrtoken.NewMiddleware(swrtoken.MiddlewareOptions{
		JWKSURL:        issuer.JWKSURL(),
		HTTPClient:     s.jwksClient,
		Leeway:         t.ClockLeeway,
		RenewalCache:   s.renewals,
		RenewalWindow:  t.RenewalWindow,
		InsecureCookie: true, // plain HTTP on loopback; keep Secure in production
		ErrorHandler:   s.reject,
		Logger:         logger,
	})
	if err != nil {
		s.renewals.Close()
		return nil, fmt.Errorf("create the session middleware: %w", err)
	}
	s.middleware = mw

	mux := http.NewServeMux()
	mux.Handle("GET /api/{population}/hello", s.observe(mw.RequireAuth(http.HandlerFunc(hello))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.closeParts()
		return nil, fmt.Errorf("listen on 127.0.0.1 for the API server: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.server.Serve(ln) }()
	return s, nil
}

// cacheOptions returns the options of every cache of the run.
func cacheOptions(t timing, logger *slog.Logger) swrtoken.Options {
	return swrtoken.Options{
		RefreshLeeway: t.RefreshLeeway,
		MinRemaining:  t.MinRemaining,
		Logger:        logger,
	}
}

// hello is the protected API endpoint.
func hello(w http.ResponseWriter, r *http.Request) {
	claims, _ := swrtoken.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "hello, %s\n", claims.Subject)
}

// observe is a middleware that counts the requests of each population
// and the tokens that had expired when they arrived, before the session
// middleware verifies them. It reads exp without verifying the signature,
// which is enough to measure the client, and rejects unknown
// populations with 404.
func (s *apiServer) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrival := time.Now()
		counts, ok := s.counts[r.PathValue("population")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		counts.requests.Add(1)
		if token := requestToken(r); token != "" {
			if _, exp, err := swrtoken.ParseJWTTimes(token); err == nil && !arrival.Before(exp) {
				counts.expired.Add(1)
				s.logger.Warn("demo: request sent with an expired token",
					"population", r.PathValue("population"),
					"fingerprint", swrtoken.Fingerprint(token),
					"expired_for", arrival.Sub(exp))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requestToken returns the token of r as the middleware finds it: the
// bearer token, else the session cookie, else "".
func requestToken(r *http.Request) string {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok &&
		strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	if c, err := r.Cookie(swrtoken.DefaultCookieName); err == nil {
		return c.Value
	}
	return ""
}

// reject is the middleware's ErrorHandler: it counts the 401 responses
// of each population and writes the default response.
func (s *apiServer) reject(w http.ResponseWriter, r *http.Request, err error) {
	if counts, ok := s.counts[r.PathValue("population")]; ok {
		counts.unauthorized.Add(1)
	}
	swrtoken.DefaultErrorHandler(w, r, err)
}

// close shuts the server down, waiting for the requests in progress
// within ctx, and stops the middleware and the renewal cache.
func (s *apiServer) close(ctx context.Context) error {
	err := s.server.Shutdown(ctx)
	if serveErr := <-s.served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve the API: %w", serveErr))
	}
	s.closeParts()
	return err
}

// closeParts stops the middleware and the renewal cache, and closes the
// idle connections of the clients.
func (s *apiServer) closeParts() {
	if s.middleware != nil {
		s.middleware.Close()
	}
	s.renewals.Close()
	s.issuerTransport.CloseIdleConnections()
	s.jwksClient.CloseIdleConnections()
}

// countingTransport is an http.RoundTripper that counts the requests it
// sends.
type countingTransport struct {
	base     *http.Transport
	requests atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	return t.base.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the base transport,
// as http.Client.CloseIdleConnections expects of a transport.
func (t *countingTransport) CloseIdleConnections() {
	t.base.CloseIdleConnections()
}

// newTransport returns an HTTP transport of its own, so that closing its
// idle connections at the end leaves no goroutine behind. It uses no
// proxy, because every server of the demo is on loopback.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConnsPerHost = 64
	return t
}
