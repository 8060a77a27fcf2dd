package main

import (
	"portal/internal/app"
	"portal/internal/config"
	"portal/internal/oidclogin"
)

// googleProvider is the OpenID Connect provider of "Sign in with Google",
// or nil when PORTAL_GOOGLE_CLIENT_ID is unset (the feature is then
// hidden). Nothing is fetched from the provider until the first sign-in,
// so Portal starts while it cannot be reached.
func googleProvider(cfg *config.Config) *oidclogin.Provider {
	if cfg.GoogleClientID == "" {
		return nil
	}
	return oidclogin.New(oidclogin.Config{ClientID: cfg.GoogleClientID, ClientSecret: cfg.GoogleClientSecret,
		Issuer: cfg.GoogleIssuer, RedirectURL: cfg.BaseURL + app.GoogleCallbackPath})
}
