package app

import "portal/internal/authn"

// AuthCacheEntry returns the authentication cache's entry (authcache.go)
// for a session token, or for an API key when apiKey is set, or nil: a
// request served from the cache leaves the same entry in place, one read
// from the database stores a new one (for tests).
func AuthCacheEntry(s *Service, secret string, apiKey bool) any {
	key := sessionKey(authn.HashToken(secret))
	if apiKey {
		key = tokenKey(authn.HashToken(secret))
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if e := s.auth.entries[key]; e != nil {
		return e
	}
	return nil
}

// AuthCacheServes reports whether a request of secret's that read epoch as
// auth_epoch's value would be served from the authentication cache
// (authCache.get; for tests).
func AuthCacheServes(s *Service, secret string, apiKey bool, epoch int64) bool {
	key := sessionKey(authn.HashToken(secret))
	if apiKey {
		key = tokenKey(authn.HashToken(secret))
	}
	return s.auth.get(key, epoch) != nil
}

// DropAuthCache empties the authentication cache, so that the next
// authentication reads the database (for benchmarks of that path).
func DropAuthCache(s *Service) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.entries, s.auth.byUser = nil, nil
}
