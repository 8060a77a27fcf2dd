package app

import (
	"context"
	"math"
	"sync"
	"time"

	"portal"
	"portal/internal/store"
)

// The authentication cache.
//
// Every authenticated request needs the session (or API token), its user,
// the second factor, the password policy and two-factor requirement of the
// user's organizations, and most then read the user's privileges. Read
// from the database each time, that is five round trips before the
// handler's own work. This cache keeps them in memory, per session token
// or API key, and trusts them only while nothing that could take a right
// away has changed since they were read, by anyone:
//
//   - The database keeps a counter, auth_epoch (migration 00019). Triggers
//     move it on every change of that kind: a session or token deleted or
//     changed (except the slide of its expiry or last use, and a session
//     owing its second factor passing it, new token included: such a
//     session is never cached, migration 00023), a user changed or
//     deleted, a second factor (except the last TOTP step accepted), a
//     membership or role, an organization (its policies, settings or
//     name), a site renamed or deleted (cached privileges carry both
//     names, migration 00025), a Google link. They fire for every
//     writer: this instance, the other instances, the `portal` commands.
//   - The same triggers log, in the same transaction, whom each move
//     concerns (auth_changes, migration 00024): the user of the session,
//     token, second factor, membership or Google link, or the user
//     changed; the members of an organization changed (migration 00026);
//     everyone (NULL) for an organization deleted, a site renamed or
//     deleted. Every value of the counter has its rows, committed with
//     it.
//   - Each request reads the counter first, and in the same statement
//     the log rows after the cache's value (follow): one round trip. The
//     requests waiting at the same time share that read; each gets one
//     that began after it came, and the read catches the cache up to the
//     value it read before any of them goes on: it drops the entries of
//     the users the rows name; everything on a row for everyone, on
//     authChangesRead rows or more, or when the log no longer reaches back
//     to the cache's value (the clean-up keeps the last
//     store.AuthChangesKept values). An entry read under an older value
//     than the cache's is not stored; a request that read an older value
//     is served from the cache, which has seen every change before its
//     read and more. So a revocation takes effect on the next request on
//     every instance, as before, and a logout, a profile edit or a role
//     change costs the other users' entries nothing.
//   - Time is checked on every request, from what is cached: the session's
//     expiry, the password's age against the policy, the grace period of a
//     two-factor requirement. A session due for its once-a-minute slide,
//     an API token due for its last-use stamp, or one whose expiry has
//     passed goes the uncached way, which writes and decides as before.
//   - Only the common case is cached: a session or token of an enabled
//     user with no password reset pending, not a recovery session and not
//     one owing its second factor.
//
// Within one request, what was cached serves the request's later reads of
// the user's privileges, session expiry setting and Google link
// (authFacts) only while the process committed no write since the request
// began (store.DB.Writes): a request that changes a membership and then
// reads it gets what it wrote.
type authCache struct {
	mu      sync.Mutex
	epoch   int64 // the auth_epoch value the cache has caught up with
	entries map[string]*authEntry
	byUser  map[string][]string // keys of entries, by user ID (may name replaced entries)
	// reads shares the requests' reads of the counter and the log
	// (Service.follow) among the requests that wait at the same time.
	reads store.SharedReads
}

// authCacheMax bounds the entries; a full cache is emptied. An entry of a
// member of one organization holds about 1.45 KB of heap
// (BenchmarkAuthCacheMemory: 14 MiB for 10,000 sessions), so a full cache
// is about 70 MiB.
const authCacheMax = 50_000

// authReadGather bounds how long a read of the counter that follows
// another waits for more requests to share it (store.SharedReads.Gather).
// The wait ends as soon as no request joins; a request that finds no read
// under way never waits.
const authReadGather = time.Millisecond

// authEntry is what authenticated one session or API token.
type authEntry struct {
	sess      *portal.Session // nil for an API token
	token     *store.APIToken // nil for a session
	user      *portal.User
	enrolment store.Enrolment
	facts     *authFacts
}

// authFacts are the user's standing in their organizations, read with
// the authentication: what Authenticate needs (the password policies'
// expiry, two-factor requirements) and what the request's reads of the
// user's own account need (privileges, session lifetimes, Google link).
// Of the policies only the expiry is kept, not the whole EffectivePolicy
// with its rules' texts: a cached entry holds a fifth less memory
// (BenchmarkAuthCacheMemory), and the pages that show the rules read them
// afresh (PasswordPolicyFor).
type authFacts struct {
	passwordExpiry int // days, EffectivePolicy.ExpiryInDays: 0 for none
	reqs           []store.TwoFactorRequirement
	privs          []*portal.Privilege
	limits         sessionLimits // of the user's sessions (session_lifetime.go)
	google         *GoogleLink
}

// Keys of the cache: a session token's hash and an API key's hash are
// both SHA-256 hex, so each gets its own prefix.
func sessionKey(hash string) string { return "s:" + hash }
func tokenKey(hash string) string   { return "t:" + hash }

// authChangesRead bounds the rows of auth_changes one catch-up reads; a
// cache further behind is emptied instead.
const authChangesRead = 1000

// get returns the entry of key if the cache holds one valid at epoch, the
// auth_epoch value the request read: the cache has caught up with epoch
// before the request gets it (follow), and may have gone further since,
// which only ever drops more. So a request that read an older value than
// the cache's is served from what is there: every change committed before
// its read has been seen, and its user's entry dropped if the change
// concerned them. (Such a request must not store what it reads: put.)
func (c *authCache) get(key string, epoch int64) *authEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch > c.epoch {
		return nil // not caught up with (follow does before it returns epoch)
	}
	return c.entries[key]
}

// AuthCacheEntries is how many sessions and API tokens this instance holds
// the authentication of (at most authCacheMax), for /metrics.
func (s *Service) AuthCacheEntries() int {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return len(s.auth.entries)
}

// put stores e under key if it was read under the cache's current epoch.
func (c *authCache) put(key string, epoch int64, e *authEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return // read before a change the cache has seen
	}
	if c.entries == nil || len(c.entries) >= authCacheMax {
		c.entries, c.byUser = make(map[string]*authEntry), make(map[string][]string)
	}
	if old := c.entries[key]; old == nil || old.user.ID != e.user.ID {
		c.byUser[e.user.ID] = append(c.byUser[e.user.ID], key)
	}
	c.entries[key] = e
}

// follow reads auth_epoch and, in the same statement, the rows of
// auth_changes since the cache's value (store.AuthEpochChanges), and
// catches the cache up to the value n it read: it drops the entries of the
// users the rows name, or empties the cache when a row names everyone,
// when the rows no longer reach back to the cache's value (pruned:
// store.AuthChangesKept) or when there are authChangesRead of them. It
// returns n, the request's value. The requests share its reads
// (authCache.reads): each gets a read that began after it came, and that
// read has caught the cache up before any of them goes on, so one round
// trip serves both the counter and the catch-up. Reads run one at a time,
// each from the value the one before left.
//
// Every value up to n was committed with its rows, in the snapshot the
// statement read. An entry stored while the statement runs was read under
// the cache's old value: it is dropped with the others of its user, and
// any stored after was read under n. When the cache is empty, only the
// counter is read: whatever is stored meanwhile is dropped.
func (s *Service) follow(ctx context.Context) (int64, error) {
	c := &s.auth
	c.mu.Lock()
	from, empty := c.epoch, len(c.entries) == 0
	c.mu.Unlock()
	after := from
	if empty {
		after = math.MaxInt64 // nothing to drop: the counter alone
	}
	n, changes, err := s.db.AuthEpochChanges(ctx, after, authChangesRead)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= c.epoch {
		return n, nil // nothing new
	}
	all := empty || len(changes) == 0 || changes[0].Epoch != from+1 || len(changes) >= authChangesRead
	for _, ch := range changes {
		if all || ch.UserID == "" {
			all = true
			break
		}
		for _, key := range c.byUser[ch.UserID] {
			if e := c.entries[key]; e != nil && e.user.ID == ch.UserID {
				delete(c.entries, key)
			}
		}
		delete(c.byUser, ch.UserID)
	}
	if all {
		c.entries, c.byUser = nil, nil
	}
	c.epoch = n
	return n, nil
}

// authStart is the moment a request's authentication began: the process's
// write count, then the auth_epoch value, read in that order.
type authStart struct {
	writes uint64
	epoch  int64
}

func (s *Service) authStart(ctx context.Context) (authStart, error) {
	w := s.db.Writes()
	n, err := s.auth.reads.Get(ctx, s.follow)
	return authStart{writes: w, epoch: n}, err
}

// loadFacts reads the user's authFacts from the database: all but the
// Google link in one statement (store.UserAccess); reqs are kept only when
// the user has no verified second factor (they cannot matter otherwise).
func (s *Service) loadFacts(ctx context.Context, u *portal.User, e store.Enrolment) (*authFacts, error) {
	acc, err := s.db.UserAccess(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	f := &authFacts{passwordExpiry: combinePolicies(acc.Policies()).ExpiryInDays, privs: acc.Privileges}
	if !e.Verified {
		f.reqs = acc.TwoFactorRequirements()
	}
	f.limits = accessLimits(acc)
	if f.google, err = s.GoogleLinkOf(ctx, u.ID); err != nil {
		return nil, err
	}
	return f, nil
}

// actorFrom makes the request's actor from e, with the time-dependent
// states computed at now. The session and user are copies: a request may
// change its own.
func (s *Service) actorFrom(e *authEntry, start authStart, ip string, now time.Time) *Actor {
	u := *e.user
	a := &Actor{User: &u, IP: ip, facts: e.facts, factsAt: start.writes}
	if e.sess != nil {
		sess := *e.sess
		a.Session = &sess
	} else {
		a.APITokenID, a.APITokenName = e.token.ID, e.token.Name
	}
	if e.sess == nil || !e.sess.PasswordOnly {
		a.PasswordExpired = passwordExpiredAt(&u, e.facts.passwordExpiry, now)
	}
	a.TwoFactor = twoFactorStateAt(a, e.enrolment, e.facts.reqs, now)
	return a
}

// cacheable reports whether an authentication is of the kind the cache
// keeps (see the comment at the top).
func cacheable(a *Actor) bool {
	return !a.User.Disabled() && !a.User.PasswordResetRequired && !a.TwoFactor.Pending &&
		(a.Session == nil || !a.Session.PasswordOnly)
}

// currentFacts returns the actor's cached facts if they still hold: no
// write of this process committed since the request began.
func (s *Service) currentFacts(a *Actor) *authFacts {
	if a.facts == nil || s.db.Writes() != a.factsAt {
		return nil
	}
	return a.facts
}

// privileges returns the actor's privileges: cached, or from the database.
func (s *Service) privileges(ctx context.Context, a *Actor) ([]*portal.Privilege, error) {
	if f := s.currentFacts(a); f != nil {
		return f.privs, nil
	}
	return s.db.ListPrivileges(ctx, a.User.ID)
}
