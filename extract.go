package swrtoken

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// tokenSource is the origin of a request's token.
type tokenSource int

const (
	sourceNone tokenSource = iota
	sourceHeader
	sourceCookie
	sourceExtract // MiddlewareOptions.Extract
)

// extract returns the token of r and where it came from. The error wraps
// ErrNoToken when r carries none, and ErrInvalidToken when r carries a
// token that cannot be accepted whatever its content: too long, empty,
// or more than one.
func (m *Middleware) extract(r *http.Request) (string, tokenSource, error) {
	if m.opts.Extract != nil {
		token, err := m.opts.Extract(r)
		switch {
		case err != nil && !errors.Is(err, ErrNoToken) && !errors.Is(err, ErrInvalidToken):
			return "", sourceExtract, fmt.Errorf("%w: %w", ErrInvalidToken, err)
		case err != nil:
			return "", sourceExtract, err
		case token == "":
			return "", sourceNone, ErrNoToken
		}
		return token, sourceExtract, m.checkLength(token)
	}

	token, found, err := m.bearerToken(r)
	if found || err != nil {
		return token, sourceHeader, err
	}
	cookies := r.CookiesNamed(m.opts.CookieName)
	switch {
	case len(cookies) > 1:
		// Two cookies of one name come from different paths or domains,
		// for example one set by a sibling subdomain. Neither can be
		// trusted to be the current session's.
		return "", sourceCookie, fmt.Errorf("%w: %w: %d %s cookies",
			ErrInvalidToken, errManyTokens, len(cookies), m.opts.CookieName)
	case len(cookies) == 0 || cookies[0].Value == "":
		return "", sourceNone, ErrNoToken
	}
	token = cookies[0].Value
	return token, sourceCookie, m.checkLength(token)
}

// bearerToken returns the token of the request header that carries
// "Bearer <token>", and whether there was one. Headers with another
// scheme are ignored.
func (m *Middleware) bearerToken(r *http.Request) (token string, found bool, err error) {
	for _, v := range r.Header.Values(m.opts.Header) {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		if found {
			return "", true, fmt.Errorf("%w: %w: several bearer tokens in %s",
				ErrInvalidToken, errManyTokens, m.opts.Header)
		}
		found = true
		token = strings.TrimSpace(rest)
	}
	if found && token == "" {
		return "", true, fmt.Errorf("%w: %w", ErrInvalidToken, errEmptyToken)
	}
	if found {
		err = m.checkLength(token)
	}
	return token, found, err
}

// checkLength rejects a token longer than MaxTokenLength before any work
// is spent on it.
func (m *Middleware) checkLength(token string) error {
	if len(token) > m.opts.MaxTokenLength {
		return fmt.Errorf("%w: %w: %d bytes, limit %d",
			ErrInvalidToken, errTokenTooLong, len(token), m.opts.MaxTokenLength)
	}
	return nil
}
