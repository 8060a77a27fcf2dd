package oidclogin_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"portal/internal/oidclogin"
)

// A provider made by hand for the ID tokens that the in-process providers
// of the server tests do not mint: tokens with another algorithm, keys that
// the token brings itself, access tokens, discovery documents that lie or
// redirect (ASVS V9.1.2, V9.1.3, V9.2.2, V10.5.3, V11.6.1, V13.2.5, V15.3.2).

const (
	testClient = "portal-client"
	testNonce  = "nonce-of-this-sign-in"
)

type handOP struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	mu   sync.Mutex
	algs []string         // id_token_signing_alg_values_supported
	iss  string           // the issuer the discovery document names ("" : the server's URL)
	body map[string]any   // the token endpoint's answer
	hits map[string]int   // requests by path
	hook http.HandlerFunc // when set, answers the discovery document instead
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func startHandOP(t *testing.T) *handOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &handOP{key: key, algs: []string{"RS256"}, hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		op.hits[r.URL.Path]++
		hook, iss, algs := op.hook, op.iss, op.algs
		op.mu.Unlock()
		if hook != nil {
			hook(w, r)
			return
		}
		if iss == "" {
			iss = op.srv.URL
		}
		writeJSON(w, map[string]any{"issuer": iss, "authorization_endpoint": op.srv.URL + "/authorize", "token_endpoint": op.srv.URL + "/token",
			"jwks_uri": op.srv.URL + "/jwks", "id_token_signing_alg_values_supported": algs, "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"keys": []any{op.jwk(&key.PublicKey, "k1")}})
	})
	mux.HandleFunc("/attacker-jwks", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		op.hits[r.URL.Path]++
		op.mu.Unlock()
		http.NotFound(w, r)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		body := op.body
		op.mu.Unlock()
		writeJSON(w, body)
	})
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (op *handOP) jwk(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

// claims are those of a sound ID token for testClient and testNonce.
func (op *handOP) claims() map[string]any {
	now := time.Now()
	return map[string]any{"iss": op.srv.URL, "aud": testClient, "sub": "sub-1", "email": "ann@gmail.example", "email_verified": true,
		"nonce": testNonce, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

// sign makes a JWS of claims with the header given; alg RS256 signs with
// key, HS256 with hmacKey, none not at all.
func sign(t *testing.T, header, claims map[string]any, key *rsa.PrivateKey, hmacKey []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	switch header["alg"] {
	case "RS256":
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64(sig)
	case "HS256":
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	default:
		return input + "."
	}
}

// exchange answers the code with body and returns what Exchange makes of it.
func (op *handOP) exchange(t *testing.T, body map[string]any) (*oidclogin.Identity, error) {
	t.Helper()
	op.mu.Lock()
	op.body = body
	op.mu.Unlock()
	p := oidclogin.New(oidclogin.Config{ClientID: testClient, ClientSecret: "s", Issuer: op.srv.URL, RedirectURL: "https://portal.example/cb", Timeout: 10 * time.Second})
	return p.Exchange(context.Background(), "code", "verifier-verifier-verifier-verifier-verifier", testNonce)
}

func tokenAnswer(idToken string) map[string]any {
	a := map[string]any{"access_token": "opaque-access-token", "token_type": "Bearer", "expires_in": 3600}
	if idToken != "" {
		a["id_token"] = idToken
	}
	return a
}

// TestIDTokenRefusals: only an RS256 token signed with a key the issuer
// publishes, and meant as an ID token for Portal, is accepted; whatever the
// discovery document advertises, `none` and HS256 (keyed with the public
// key, the classic confusion) are refused, and so are keys that the token
// carries or points to itself, and access tokens in place of the ID token.
func TestIDTokenRefusals(t *testing.T) {
	op := startHandOP(t)
	rs := map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}
	if id, err := op.exchange(t, tokenAnswer(sign(t, rs, op.claims(), op.key, nil))); err != nil || id.Subject != "sub-1" {
		t.Fatalf("a sound token: %v, %v", id, err)
	}

	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubJWK, _ := json.Marshal(op.jwk(&op.key.PublicKey, "k1"))
	accessClaims := op.claims()
	accessClaims["aud"] = "https://api.provider.example"
	delete(accessClaims, "nonce")
	for _, algs := range [][]string{{"RS256"}, {"RS256", "HS256", "none"}} {
		op.mu.Lock()
		op.algs = algs
		op.mu.Unlock()
		for name, body := range map[string]map[string]any{
			"alg none":                         tokenAnswer(sign(t, map[string]any{"alg": "none", "typ": "JWT"}, op.claims(), nil, nil)),
			"HS256 keyed with the public key":  tokenAnswer(sign(t, map[string]any{"alg": "HS256", "kid": "k1"}, op.claims(), nil, pubJWK)),
			"HS256 keyed with the modulus":     tokenAnswer(sign(t, map[string]any{"alg": "HS256", "kid": "k1"}, op.claims(), nil, op.key.PublicKey.N.Bytes())),
			"a key the token carries (jwk)":    tokenAnswer(sign(t, map[string]any{"alg": "RS256", "kid": "k2", "jwk": op.jwk(&attacker.PublicKey, "k2")}, op.claims(), attacker, nil)),
			"a key the token points to (jku)":  tokenAnswer(sign(t, map[string]any{"alg": "RS256", "kid": "k1", "jku": op.srv.URL + "/attacker-jwks"}, op.claims(), attacker, nil)),
			"no ID token, an access token":     tokenAnswer(""),
			"the access token as the ID token": tokenAnswer(sign(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "at+jwt"}, accessClaims, op.key, nil)),
		} {
			id, err := op.exchange(t, body)
			var refused *oidclogin.RefusedError
			if err == nil || !errors.As(err, &refused) {
				t.Errorf("%s (discovery advertising %v): identity %v, error %v; want a refusal", name, algs, id, err)
			}
		}
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if n := op.hits["/attacker-jwks"]; n != 0 {
		t.Errorf("the key set a token pointed to (jku) was fetched %d times", n)
	}
}

// TestDiscoveryFailsClosed: a discovery document that names another issuer
// than the configured one, or a provider endpoint that redirects elsewhere,
// stops the sign-in before any token is trusted; the redirect is not
// followed.
func TestDiscoveryFailsClosed(t *testing.T) {
	elsewhere := startHandOP(t) // a sound provider on another host
	op := startHandOP(t)
	op.mu.Lock()
	op.iss = "https://accounts.other.example"
	op.mu.Unlock()
	if _, err := op.exchange(t, tokenAnswer(sign(t, map[string]any{"alg": "RS256", "kid": "k1"}, op.claims(), op.key, nil))); !errors.Is(err, oidclogin.ErrUnavailable) || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("a discovery document naming another issuer: %v, want the provider unavailable for its issuer", err)
	}

	op = startHandOP(t)
	op.mu.Lock()
	op.hook = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+"/.well-known/openid-configuration", http.StatusFound)
	}
	op.mu.Unlock()
	p := oidclogin.New(oidclogin.Config{ClientID: testClient, ClientSecret: "s", Issuer: op.srv.URL, RedirectURL: "https://portal.example/cb", Timeout: 10 * time.Second})
	if u, err := p.AuthCodeURL(context.Background(), "state", testNonce, "verifier-verifier-verifier-verifier-verifier"); err == nil {
		t.Errorf("a redirected discovery document was used: %s", u)
	}
	elsewhere.mu.Lock()
	followed := elsewhere.hits["/.well-known/openid-configuration"]
	elsewhere.mu.Unlock()
	if followed != 0 {
		t.Errorf("the redirect to another host was followed %d times", followed)
	}
}
