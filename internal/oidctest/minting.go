package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Flaws of a minted ID token.
const (
	FlawNone          = ""
	FlawAudience      = "audience"       // issued for another client
	FlawIssuer        = "issuer"         // "iss" is another provider
	FlawExpired       = "expired"        // "exp" has passed
	FlawSignature     = "signature"      // signed with a key the provider does not publish
	FlawNonce         = "nonce"          // not the nonce of the request
	FlawEmailVerified = "email_verified" // the address is not verified
	// FlawDiscoveryIssuer makes the discovery document name another issuer
	// (set it before the first use: discovery is read once).
	FlawDiscoveryIssuer = "discovery_issuer"
)

// Minting is a small provider that issues, for any code, an ID token with
// the flaw the test sets (Flaw). Its authorization endpoint sends the
// browser straight back with a code, remembering the request's nonce.
// It is for refusal tests only: Start is the real provider.
type Minting struct {
	Server   *httptest.Server
	Issuer   string
	ClientID string
	Subject  string
	Email    string

	mu     sync.Mutex
	flaw   string
	nonces map[string]string    // code → nonce
	as     map[string][2]string // code → subject and email (AuthorizeAs)
	key    *rsa.PrivateKey
	other  *rsa.PrivateKey
}

// StartMinting runs a minting provider for the client id clientID.
func StartMinting(t testing.TB, clientID string) *Minting {
	t.Helper()
	m := &Minting{ClientID: clientID, Subject: "minted-subject-1", Email: "minted@example.com", nonces: map[string]string{}, as: map[string][2]string{}}
	var err error
	if m.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if m.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	m.Server = httptest.NewUnstartedServer(nil)
	m.Issuer = "http://" + m.Server.Listener.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", m.discovery)
	mux.HandleFunc("GET /keys", m.keys)
	mux.HandleFunc("GET /authorize", m.authorize)
	mux.HandleFunc("POST /token", m.token)
	m.Server.Config.Handler = mux
	m.Server.Start()
	t.Cleanup(m.Server.Close)
	return m
}

// SetFlaw sets the flaw of the next ID tokens.
func (m *Minting) SetFlaw(flaw string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flaw = flaw
}

// Authorize answers an authorization URL as the provider would after a
// sign-in: it returns the code and the state to send to Portal.
func (m *Minting) Authorize(t testing.TB, authURL string) (code, state string) {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization URL without PKCE, nonce or state: %s", authURL)
	}
	code = rand.Text()
	m.mu.Lock()
	m.nonces[code] = q.Get("nonce")
	m.mu.Unlock()
	return code, q.Get("state")
}

// AuthorizeAs is Authorize for the Google account subject with address
// email instead of Subject and Email: its code's ID token names them.
func (m *Minting) AuthorizeAs(t testing.TB, authURL, subject, email string) (code, state string) {
	t.Helper()
	code, state = m.Authorize(t, authURL)
	m.mu.Lock()
	m.as[code] = [2]string{subject, email}
	m.mu.Unlock()
	return code, state
}

func (m *Minting) discovery(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	issuer := m.Issuer
	if m.flaw == FlawDiscoveryIssuer {
		issuer = "https://issuer.example.com"
	}
	m.mu.Unlock()
	writeJSON(w, map[string]any{
		"issuer": issuer, "authorization_endpoint": m.Issuer + "/authorize", "token_endpoint": m.Issuer + "/token",
		"jwks_uri": m.Issuer + "/keys", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
	})
}

func (m *Minting) keys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &m.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (m *Minting) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code := rand.Text()
	m.mu.Lock()
	m.nonces[code] = q.Get("nonce")
	m.mu.Unlock()
	u, _ := url.Parse(q.Get("redirect_uri"))
	back := u.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	u.RawQuery = back.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (m *Minting) token(w http.ResponseWriter, r *http.Request) {
	code := r.PostFormValue("code")
	m.mu.Lock()
	nonce, ok := m.nonces[code]
	delete(m.nonces, code)
	flaw := m.flaw
	subject, email := m.Subject, m.Email
	if as, found := m.as[code]; found {
		subject, email = as[0], as[1]
		delete(m.as, code)
	}
	m.mu.Unlock()
	if !ok || r.PostFormValue("code_verifier") == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": m.Issuer, "aud": m.ClientID, "sub": subject, "email": email, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": nonce}
	key := m.key
	switch flaw {
	case FlawAudience:
		claims["aud"] = "some-other-client"
	case FlawIssuer:
		claims["iss"] = "https://issuer.example.com"
	case FlawExpired:
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case FlawSignature:
		key = m.other
	case FlawNonce:
		claims["nonce"] = "not-the-nonce-of-the-request"
	case FlawEmailVerified:
		claims["email_verified"] = false
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
