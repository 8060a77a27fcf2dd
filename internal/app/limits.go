package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"portal"
	"portal/internal/secevent"
	"portal/internal/store"
)

// Rate limits: every limit Portal applies is one rateLimit below, listed in
// rateLimits, and counted in the store's rate_limits table (so all instances
// share the counters) through the methods here only. A key is the limit's
// name and its subject (an account, an address…): "login:ip:192.0.2.1".
//
// Two ways of counting, one per kind of event, and a backoff:
//
//   - reserve, for an attempt whose outcome is not known yet (a login, a
//     sign-up): it is counted before the costly work, so parallel requests
//     cannot all pass a check made before any of them is counted, and a
//     locked key counts nothing. Over max the attempt is given back, the key
//     locked for lock, and the attempt refused; release gives an attempt
//     back when it turns out not to count (a right password). Two limits
//     on one attempt (a login: account and address) count with count and
//     settle, so that the caller chooses the order of the statements, and
//     undo takes back the count of one when the other refuses.
//   - record, for an event that happened (a mail, a wrong password): from
//     the max-th event within the window the key is locked; an event over
//     max is refused with 429, or, for a silent limit, not done at all with
//     an unchanged answer (mail quotas: the answer must not reveal them).
//   - with a backoff (maxLock), either way, the max-th event and every
//     further one in the window lock the key, for lock doubling each time up to maxLock;
//     the event itself goes through (a login is still checked, a wrong code
//     answered): the lock refuses the next ones.
//
// checkLimits refuses early, without writing, while a key is locked. Every
// refusal is tooMany's: 429, a whole number of seconds in Retry-After, and
// "too many <what>; try again in <wait>".
//
// reserve, settle and record return the lock the event set (0: none), so
// that a lockout of the login and second-factor limits is logged once, when
// it is set and will stand (lockedOut: security.lockout); a request refused
// because its key is already locked is the transport's security.rate_limited.
type rateLimit struct {
	name    string        // the key prefix
	keyedOn string        // what the subject is
	window  time.Duration // events are counted in a window from the first one
	max     int           // events allowed in the window
	lock    time.Duration // how long the key is locked (0: never)
	maxLock time.Duration // >0: the lock doubles with each further event, up to this
	silent  bool          // over max: nothing is done and the answer does not change
	what    string        // the refusal's subject; %s is replaced by the key's subject
	readme  string        // how the README's Limits section states it (TestREADMELimits)
}

// The limits. The README's Limits section states each (readme), with its
// numbers; TestREADMELimits checks both.
var (
	limitLoginAccount = &rateLimit{name: "login:acct", keyedOn: "email address", window: 15 * time.Minute, max: 5,
		lock: time.Minute, maxLock: time.Hour, what: "failed logins",
		readme: "After 5 failed logins within 15 minutes an account is locked for 1 minute, doubling with each further failure up to 1 hour"}
	limitLoginAddress = &rateLimit{name: "login:ip", keyedOn: "client address", window: 15 * time.Minute, max: 100,
		lock: 15 * time.Minute, what: "login attempts from your address",
		readme: "a client address is locked for 15 minutes after 100 attempts within 15 minutes that failed or are still being checked"}
	limitSignupAddress = &rateLimit{name: "signup:ip", keyedOn: "client address", window: time.Hour, max: 20,
		lock: time.Hour, what: "sign-up requests from your address",
		readme: "At most 20 sign-ups or verification resends per client address an hour"}
	limitSignupMail = &rateLimit{name: "signupmail", keyedOn: "email address", window: time.Hour, max: 5, silent: true,
		readme: "at most 5 sign-up mails per address an hour"}
	limitEmailChange = &rateLimit{name: "emailchange", keyedOn: "user", window: time.Hour, max: 5,
		lock: time.Hour, what: "email change requests",
		readme: "at most 5 change mails per account an hour"}
	limitOldPassword = &rateLimit{name: "oldpw", keyedOn: "user", window: 15 * time.Minute, max: 5,
		lock: 15 * time.Minute, what: "wrong current passwords",
		readme: "5 wrong old passwords within 15 minutes lock changes for 15 minutes"}
	limitTwoFactor = &rateLimit{name: "2fa", keyedOn: "user", window: 24 * time.Hour, max: 5,
		lock: time.Minute, maxLock: time.Hour, what: "wrong codes, so two-factor authentication is locked",
		readme: "5 wrong two-factor codes within 24 hours lock the second factor for 1 minute, doubling with each further wrong code up to 1 hour"}
	limitRecoverAddress = &rateLimit{name: "recover:ip", keyedOn: "client address", window: time.Hour, max: 20,
		lock: time.Hour, what: "password recovery requests from your address",
		readme: "at most 5 recovery mails per address and 20 recovery requests per client address an hour"}
	limitRecoverMail = &rateLimit{name: "recovermail", keyedOn: "email address", window: time.Hour, max: 5, silent: true,
		readme: "at most 5 recovery mails per address and 20 recovery requests per client address an hour"}
	limitInviteAddress = &rateLimit{name: "invitemail", keyedOn: "email address", window: time.Hour, max: 5,
		what:   "invitations mailed to %s",
		readme: "At most 5 invitation mails per address and 100 per organization an hour"}
	limitInviteOrg = &rateLimit{name: "invitemail:org", keyedOn: "organization", window: time.Hour, max: 100,
		what:   "invitations mailed by this organization",
		readme: "At most 5 invitation mails per address and 100 per organization an hour"}
	limitGoogleStart = &rateLimit{name: "google:ip", keyedOn: "client address", window: time.Hour, max: 60,
		lock: time.Hour, what: "sign-ins with Google started from your address",
		readme: "at most 60 sign-ins with Google started per client address an hour"}

	rateLimits = []*rateLimit{limitLoginAccount, limitLoginAddress, limitSignupAddress, limitSignupMail,
		limitEmailChange, limitOldPassword, limitTwoFactor, limitRecoverAddress, limitRecoverMail,
		limitInviteAddress, limitInviteOrg, limitGoogleStart}
)

func (l *rateLimit) key(subject string) string { return l.name + ":" + subject }

// lockFor is how long the n-th event in the window locks the key.
func (l *rateLimit) lockFor(n int) time.Duration {
	if l.maxLock == 0 {
		return l.lock
	}
	return min(l.lock<<min(n-l.max, 10), l.maxLock)
}

// tooMany is the refusal of an event of subject for d: 429 with d rounded
// up to whole seconds (the Retry-After header).
func (l *rateLimit) tooMany(subject string, d time.Duration) *portal.Error {
	secs := max(1, int((d+time.Second-1)/time.Second))
	what := l.what
	if strings.Contains(what, "%s") {
		what = fmt.Sprintf(what, subject)
	}
	wait := fmt.Sprintf("%d seconds", secs)
	switch {
	case secs == 1:
		wait = "1 second"
	case secs >= 120:
		wait = fmt.Sprintf("%d minutes", (secs+59)/60)
	}
	return &portal.Error{Code: portal.ETOOMANY, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many %s; try again in %s", what, wait)}
}

// limitKey is a limit with the subject of one key.
type limitKey struct {
	limit   *rateLimit
	subject string
}

// checkLimits refuses (429) while one of keys is locked, with the latest
// lock among them; it writes nothing (the cheap early answer), and reads
// all keys in one query.
func (s *Service) checkLimits(ctx context.Context, now time.Time, keys ...limitKey) error {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.limit.key(k.subject)
	}
	locks, err := s.db.LockedUntilEach(ctx, names...)
	if err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	var refused *portal.Error
	for i, k := range keys {
		if locked := locks[i]; locked.After(now) && (refused == nil || locked.Sub(now) > refused.RetryAfter) {
			refused = k.limit.tooMany(k.subject, locked.Sub(now))
		}
	}
	if refused != nil {
		return refused
	}
	return nil
}

// reserve counts an attempt of subject before the work it limits (see
// rateLimit). It returns the refusal (nil when the attempt goes through)
// separately from err, so that the caller's transaction still commits the
// lock it wrote, and how long this attempt locked the key (0: it did not).
func (l *rateLimit) reserve(ctx context.Context, tx *store.Tx, subject string, now time.Time) (*portal.Error, time.Duration, error) {
	r, err := l.count(ctx, tx, subject, now)
	if err != nil {
		return nil, 0, err
	}
	return r.settle(ctx, tx)
}

// reservation is an attempt counted by count (one statement) and not yet
// settled.
type reservation struct {
	l       *rateLimit
	subject string
	now     time.Time
	n       int       // attempts in the window, this one included when counted
	locked  time.Time // the key's lock: after now, nothing was counted
}

// count counts an attempt of subject unless its key is locked; settle
// then applies the limit to it.
func (l *rateLimit) count(ctx context.Context, tx *store.Tx, subject string, now time.Time) (reservation, error) {
	r, err := countAll(ctx, tx, now, limitKey{l, subject})
	if err != nil {
		return reservation{}, err
	}
	return r[0], nil
}

// countAll is count for each of keys, in one statement: their limits must
// share one window. The keys' rows are written in the order given.
func countAll(ctx context.Context, tx *store.Tx, now time.Time, keys ...limitKey) ([]reservation, error) {
	names := make([]string, len(keys))
	for i, k := range keys {
		if k.limit.window != keys[0].limit.window {
			return nil, fmt.Errorf("rate limits %s and %s are counted together but have different windows", keys[0].limit.name, k.limit.name)
		}
		names[i] = k.limit.key(k.subject)
	}
	attempts, err := tx.ReserveAttempts(ctx, now, keys[0].limit.window, names...)
	if err != nil {
		return nil, fmt.Errorf("rate limit %s: %w", keys[0].limit.name, err)
	}
	r := make([]reservation, len(keys))
	for i, k := range keys {
		r[i] = reservation{l: k.limit, subject: k.subject, now: now, n: attempts[i].N, locked: attempts[i].Locked}
	}
	return r, nil
}

// settle is reserve's answer to the attempt counted: the refusal of a
// locked key; the lock of a backoff from the max-th attempt on (the
// attempt goes through); or, over max without a backoff, the attempt
// given back, the key locked and the attempt refused. lock is how long
// this attempt locked the key (0: it did not; nor when the key was locked
// already).
func (r reservation) settle(ctx context.Context, tx *store.Tx) (refused *portal.Error, lock time.Duration, err error) {
	l, key, now := r.l, r.l.key(r.subject), r.now
	switch {
	case r.locked.After(now):
		return l.tooMany(r.subject, r.locked.Sub(now)), 0, nil
	case l.maxLock > 0 && r.n >= l.max:
		lock = l.lockFor(r.n)
		if err := l.lockKey(ctx, tx, key, now.Add(lock)); err != nil {
			return nil, 0, err
		}
		return nil, lock, nil
	case l.maxLock == 0 && r.n > l.max:
		if err := tx.ReleaseAttempt(ctx, key); err != nil {
			return nil, 0, fmt.Errorf("rate limit %s: %w", l.name, err)
		}
		if err := l.lockKey(ctx, tx, key, now.Add(l.lock)); err != nil {
			return nil, 0, err
		}
		return l.tooMany(r.subject, l.lock), l.lock, nil
	}
	return nil, 0, nil
}

// undo takes back an attempt counted and not settled, because another
// limit refused it: the key is left as it was before count (a locked key,
// which count left alone, too).
func (r reservation) undo(ctx context.Context, tx *store.Tx) error {
	if r.locked.After(r.now) {
		return nil
	}
	if err := tx.UnreserveAttempt(ctx, r.l.key(r.subject), r.now); err != nil {
		return fmt.Errorf("rate limit %s: %w", r.l.name, err)
	}
	return nil
}

// release gives back an attempt reserved for subject that turned out not to
// count.
func (l *rateLimit) release(ctx context.Context, tx *store.Tx, subject string) error {
	if err := tx.ReleaseAttempt(ctx, l.key(subject)); err != nil {
		return fmt.Errorf("rate limit %s: %w", l.name, err)
	}
	return nil
}

// reset forgets the events of subject and lifts its lock.
func (l *rateLimit) reset(ctx context.Context, tx *store.Tx, subject string) error {
	if err := tx.ResetLimit(ctx, l.key(subject)); err != nil {
		return fmt.Errorf("rate limit %s: %w", l.name, err)
	}
	return nil
}

// record counts an event of subject that happened (see rateLimit) and
// returns how many there were in the window, and how long the key was
// locked by this one (0: not locked). An event over max (n > max) is
// refused: a silent limit leaves it to the caller, which does nothing more
// and answers the same; otherwise err is the 429 refusal, which rolls the
// caller's transaction back, count included. With a backoff the event is
// never refused here: the lock refuses the next ones.
func (l *rateLimit) record(ctx context.Context, tx *store.Tx, subject string, now time.Time) (n int, lock time.Duration, err error) {
	key := l.key(subject)
	if n, err = tx.CountEvent(ctx, key, now, l.window); err != nil {
		return 0, 0, fmt.Errorf("rate limit %s: %w", l.name, err)
	}
	if l.lock > 0 && n >= l.max {
		lock = l.lockFor(n)
		if err := l.lockKey(ctx, tx, key, now.Add(lock)); err != nil {
			return 0, 0, err
		}
	}
	if n > l.max && !l.silent && l.maxLock == 0 {
		return n, lock, l.tooMany(subject, l.window)
	}
	return n, lock, nil
}

// lockedOut logs the lock an event of l set (secevent.Lockout), once: when
// the lock is set and stands (a login's lock of the account stands unless
// the password is right). It names the limit, what was locked ("account"
// or "address") and for how long; the user by id when known, never the
// address or a secret.
func (s *Service) lockedOut(ctx context.Context, l *rateLimit, userID string, lock time.Duration) {
	kind := "account" // keyed on the account's email address or the user
	if l.keyedOn == "client address" {
		kind = "address"
	}
	secevent.Log(ctx, s.log, secevent.Lockout, userID, "limit", l.name, "key_kind", kind, "locked_seconds", int(lock/time.Second))
}

func (l *rateLimit) lockKey(ctx context.Context, tx *store.Tx, key string, until time.Time) error {
	if err := tx.Lock(ctx, key, until); err != nil {
		return fmt.Errorf("rate limit %s: lock: %w", l.name, err)
	}
	return nil
}
