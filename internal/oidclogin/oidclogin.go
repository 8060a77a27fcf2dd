// Package oidclogin talks to an OpenID Connect provider (Google) for
// Portal's "Sign in with Google": the authorization code flow with PKCE,
// state and nonce (golang.org/x/oauth2 and github.com/coreos/go-oidc/v3).
//
// It knows the protocol only: it builds the authorization URL, exchanges a
// code for an ID token and verifies that token (signature against the
// provider's published keys, issuer, audience, expiry, nonce, and a
// verified email address), and returns who the provider says signed in.
// What Portal does with that (linking, signing in, the rules) is the
// service layer's (internal/app).
//
// The provider's discovery document is fetched on first use, not at start,
// so that Portal starts while the provider cannot be reached; a failed
// fetch is tried again on the next use. Every call to the provider has a
// timeout; a provider that cannot be reached gives ErrUnavailable.
package oidclogin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DefaultTimeout bounds each call to the provider when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Config configures a Provider.
type Config struct {
	ClientID     string
	ClientSecret string
	Issuer       string // e.g. https://accounts.google.com
	RedirectURL  string // Portal's callback, absolute
	// Timeout bounds each call to the provider (discovery, keys, code
	// exchange); DefaultTimeout when 0.
	Timeout time.Duration
	// Transport carries the calls (nil: http.DefaultTransport).
	Transport http.RoundTripper
}

// Provider is one OpenID Connect provider. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	op       *oidc.Provider // nil until discovered
	verifier *oidc.IDTokenVerifier
}

// New returns a Provider; nothing is fetched until it is used.
func New(cfg Config) *Provider {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	return &Provider{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout, Transport: cfg.Transport,
		// The provider's endpoints answer directly; a redirect is not followed
		// to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// ClientID is Portal's client id at the provider.
func (p *Provider) ClientID() string { return p.cfg.ClientID }

// AuthOrigin is the origin (scheme://host[:port]) of the provider's
// sign-in page, to which Portal's forms redirect the browser: that of
// the authorization endpoint once discovered, else the issuer's.
func (p *Provider) AuthOrigin() string {
	raw := p.cfg.Issuer
	p.mu.Lock()
	if p.op != nil {
		raw = p.op.Endpoint().AuthURL
	}
	p.mu.Unlock()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Identity is who the provider says signed in.
type Identity struct {
	Subject string // "sub": stable, the link key
	Email   string // verified by the provider
}

// ErrUnavailable is the answer when the provider cannot be reached or
// answers with a server error (after the timeout at most).
var ErrUnavailable = errors.New("the sign-in provider cannot be reached")

// RefusedError is a code or ID token that the provider refused or that
// failed verification. Reason says why, for the user.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string {
	return "oidclogin: refused: " + e.Reason + ": " + fmt.Sprint(e.Err)
}
func (e *RefusedError) Unwrap() error { return e.Err }

// ctx gives the calls made for ctx the provider's HTTP client (go-oidc
// reads it from the context) and a deadline.
func (p *Provider) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(oidc.ClientContext(ctx, p.client), p.cfg.Timeout)
}

// discover returns the provider, fetching its discovery document on first
// use.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.op != nil {
		return p.op, p.verifier, nil
	}
	// The key set that the provider makes keeps the context it is given
	// (without its cancellation) for its later fetches of the keys: give it
	// the client, whose timeout bounds each fetch.
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), p.client), p.cfg.Timeout)
	defer cancel()
	op, err := oidc.NewProvider(dctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: discovery at %s: %v", ErrUnavailable, p.cfg.Issuer, err)
	}
	p.op = op
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return p.op, p.verifier, nil
}

func (p *Provider) oauth(op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, RedirectURL: p.cfg.RedirectURL,
		Endpoint: op.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email"}}
}

// AuthCodeURL returns the URL of the provider's sign-in page for one flow:
// its state, nonce and PKCE verifier (oauth2.GenerateVerifier).
func (p *Provider) AuthCodeURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	op, _, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return p.oauth(op).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Exchange trades a code for an ID token, verifies it for the flow's nonce
// and returns its subject and verified email address.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (*Identity, error) {
	op, v, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	cctx, cancel := p.ctx(ctx)
	defer cancel()
	tok, err := p.oauth(op).Exchange(cctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, &RefusedError{Reason: "the provider refused the code (it may have been used already or expired)", Err: err}
		}
		return nil, fmt.Errorf("%w: code exchange: %v", ErrUnavailable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, &RefusedError{Reason: "the provider's answer held no ID token", Err: errors.New("no id_token")}
	}
	idt, err := v.Verify(cctx, raw)
	if err != nil {
		return nil, verifyError(err)
	}
	if idt.Nonce != nonce {
		return nil, &RefusedError{Reason: "the ID token's nonce is not the one this sign-in sent", Err: errors.New("nonce mismatch")}
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // a boolean, or "true" from some providers
	}
	if err := idt.Claims(&claims); err != nil {
		return nil, &RefusedError{Reason: "the ID token's claims could not be read", Err: err}
	}
	if idt.Subject == "" {
		return nil, &RefusedError{Reason: "the ID token names no subject", Err: errors.New("no sub")}
	}
	if claims.Email == "" || !(claims.EmailVerified == true || claims.EmailVerified == "true") {
		return nil, &RefusedError{Reason: "the provider has not verified the account's email address", Err: errors.New("email_verified is not true")}
	}
	return &Identity{Subject: idt.Subject, Email: strings.ToLower(claims.Email)}, nil
}

// verifyError classifies a failed ID token verification.
func verifyError(err error) error {
	var exp *oidc.TokenExpiredError
	var nerr net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return &RefusedError{Reason: "the ID token has expired", Err: err}
	case errors.As(err, &nerr), strings.Contains(msg, "fetching keys"):
		return fmt.Errorf("%w: fetching the signing keys: %v", ErrUnavailable, err)
	case strings.Contains(msg, "audience"):
		return &RefusedError{Reason: "the ID token was not issued for Portal (wrong audience)", Err: err}
	case strings.Contains(msg, "issued by a different provider"):
		return &RefusedError{Reason: "the ID token was issued by another provider (wrong issuer)", Err: err}
	case strings.Contains(msg, "signature"):
		return &RefusedError{Reason: "the ID token's signature is not the provider's", Err: err}
	}
	return &RefusedError{Reason: "the ID token is not valid", Err: err}
}
