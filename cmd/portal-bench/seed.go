package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

// world is the data set a run seeds. Everything in it follows from its
// sizes, so that a later run finds again what an earlier one seeded
// (-reuse): user i is bench-<i>@example.com with benchPassword; the last
// totp users have verified TOTP with benchTOTPSecret; user i is a member
// of organization i mod orgs, a Super User when i < orgs.
//
//   - Organization j has j mod 3 sites. Its members are the users i with
//     i mod orgs = j, by rank i / orgs: Super User, Network Admin,
//     Observer, Network Admin of its first site (Helpdesk without sites),
//     then Observer, Helpdesk and Installer in turn. Every fifth user is
//     also an Observer of one other organization.
//   - Every user with an odd number has a session, seen within the last
//     hour (and expiring a day after), and every tenth user (i mod 10 = 3) an API token, so that
//     the lookups of a request's session or token search large tables.
//     With fewer than 2·sessions users, the odd users have several each,
//     so that there are at least sessions of them. A seeded session's
//     token is derived from its number (sessionToken), for the row that
//     reads through many sessions at once; nobody knows the API tokens'
//     (the benchmark's own are made through the API).
//   - The audit entries are spread over the organizations as 1/(1 + j mod
//     100): in each hundred organizations the first has about 19 times the
//     average, the last a fifth of it. With the same ratio of entries to
//     organizations an organization has the same entries at every scale, so
//     that the first page of organization j costs the same at 1k and at 1M
//     users. An entry's age is a year times u² (u uniform in [0, 1)), so
//     that about 5% fall in the last day, which the first page shows; its
//     author is a member of the organization, and in an organization with
//     sites half of them name one of its sites.
type world struct {
	users, orgs, audit, totp int
	sessions                 int // seeded sessions at least (sessionCount)
}

// benchTOTPSecret is the TOTP secret of every seeded account with a second
// factor (base32, 160 bits).
const benchTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

func (w world) email(i int) string { return fmt.Sprintf("bench-%d@example.com", i) }

// plain is how many users have no second factor: users 0 to plain-1.
func (w world) plain() int { return w.users - w.totp }

func (w world) userID(i int) string    { return benchID(1, uint64(i)) }
func (w world) orgID(j int) string     { return benchID(2, uint64(j)) }
func (w world) siteID(j, s int) string { return benchID(3, uint64(j)<<2|uint64(s)) }

func (w world) firstName(i int) string { return firstNames[i%len(firstNames)] }
func (w world) lastName(i int) string {
	return lastNames[(i/len(firstNames))%len(lastNames)]
}
func (w world) orgName(j int) string { return fmt.Sprintf("%s %d", orgNames[j%len(orgNames)], j) }

func (w world) sites(j int) int { return j % 3 }

// members is how many users have organization j as their own.
func (w world) members(j int) int {
	if j >= w.users {
		return 0
	}
	return (w.users-1-j)/w.orgs + 1
}

// secondOrg is the other organization of every fifth user, or -1.
func (w world) secondOrg(i int) int {
	if i%5 != 4 || w.orgs < 2 {
		return -1
	}
	return (i%w.orgs + 1 + (i/5)%(w.orgs-1)) % w.orgs
}

// role is the privilege of user i in their own organization: scope, role
// and site index (-1: none).
func (w world) role(i int) (scope, role string, site int) {
	j := i % w.orgs
	switch r := i / w.orgs; {
	case r == 0:
		return portal.ScopeOrg, portal.RoleAdmin, -1
	case r == 1:
		return portal.ScopeOrg, portal.RoleWrite, -1
	case r == 2:
		return portal.ScopeOrg, portal.RoleRead, -1
	case r == 3 && w.sites(j) > 0:
		return portal.ScopeSite, portal.RoleWrite, 0
	case r == 3:
		return portal.ScopeOrg, portal.RoleHelpdesk, -1
	default:
		roles := []string{portal.RoleRead, portal.RoleHelpdesk, portal.RoleInstaller}
		return portal.ScopeOrg, roles[r%len(roles)], -1
	}
}

// auditCounts returns how many audit entries each organization gets.
func (w world) auditCounts() []int {
	weight := func(j int) float64 { return 1 / float64(1+j%100) }
	var total float64
	for j := range w.orgs {
		total += weight(j)
	}
	out := make([]int, w.orgs)
	var cum float64
	prev := 0
	for j := range w.orgs {
		cum += weight(j)
		next := int(float64(w.audit) * cum / total)
		if j == w.orgs-1 {
			next = w.audit
		}
		out[j], prev = next-prev, next
	}
	return out
}

func (w world) siteCount() int {
	n := 0
	for j := range w.orgs {
		n += w.sites(j)
	}
	return n
}

// hasToken tells which users have a seeded API token.
func (w world) hasToken(i int) bool { return i%10 == 3 }

// sessionCount is how many sessions are seeded: one per odd user, or
// w.sessions if more; sessionUser(k) is the user of session k, the odd
// users in turn.
func (w world) sessionCount() int     { return max(w.users/2, w.sessions) }
func (w world) sessionUser(k int) int { return (2*k + 1) % w.users }

// sessionToken is seeded session k's token. It is derived from k, so that
// a run on a database seeded earlier (-reuse) knows it too: a seeded
// database is the benchmark's and nobody else's.
func sessionToken(k int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "portal-bench session %d", k))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (w world) tokenCount() int { return (w.users + 6) / 10 }

// tokenHash is a seeded session's or token's hash: 64 hex digits, as
// SHA-256 gives, of a token nobody has.
func tokenHash(kind, n uint64) string {
	x := splitmix(kind<<56 ^ n)
	y := splitmix(x)
	z := splitmix(y)
	return fmt.Sprintf("%016x%016x%016x%016x", x, y, z, splitmix(z))
}

func (w world) privilegeCount() int {
	n := w.users
	for i := range w.users {
		if w.secondOrg(i) >= 0 {
			n++
		}
	}
	return n
}

// benchID is a UUID (version 4 layout) made from a kind and a number, the
// same in every run.
func benchID(kind, n uint64) string {
	hi := splitmix(kind<<56 ^ n)
	lo := splitmix(hi ^ kind)
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], hi)
	binary.BigEndian.PutUint64(u[8:], lo)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

var (
	firstNames = []string{"Ada", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
		"Kenji", "Lena", "Mateo", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Sven", "Tara"}
	lastNames = []string{"Andersen", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jansen",
		"Kowalski", "Laurent", "Moreau", "Novak", "Olsen", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka"}
	orgNames  = []string{"Northwind Networks", "Harbor Clinics", "Alpine Schools", "Riverside Retail", "Summit Logistics", "Lakeside Hotels"}
	siteNames = []string{"Headquarters", "Warehouse", "Branch"}
	timezones = []string{"Europe/Paris", "America/New_York", "Asia/Tokyo"}
)

// auditKinds are the audit entries seeded, as the service words them.
var auditKinds = []struct {
	site          bool // names one of the organization's sites
	message       string
	before, after string
}{
	{true, "Updated site %s", `{"timezone":"UTC"}`, `{"timezone":"Europe/Paris"}`},
	{true, "Renamed device %s", `{"name":"ap-1"}`, `{"name":"ap-lobby"}`},
	{true, "Created site %s", "", ""},
	{true, "Removed device %s", "", ""},
	{false, "Updated organization %s", `{"session_expiry":1440}`, `{"session_expiry":720}`},
	{false, "Invited %s as Observer", "", ""},
	{false, "Changed the role of %s to Network Admin", `{"role":"read"}`, `{"role":"write"}`},
	{false, "Updated password policy of %s", `{"min_length":8}`, `{"min_length":12}`},
}

// seedWorld loads w into db in bulk, printing a progress bar on progress.
// The secrets of the second factors are sealed with box. The audit entries
// load beside the rest (no foreign key ties them); on SQLite the loads
// queue for the one write connection.
func seedWorld(ctx context.Context, db *store.DB, w world, box *authn.SecretBox, progress io.Writer) error {
	hash, err := portalHasher().Hash(ctx, benchPassword)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	nowMS := now.UnixMilli()
	total := int64(w.users + w.totp + w.orgs + w.siteCount() + w.privilegeCount() + w.sessionCount() + w.tokenCount() + w.audit)
	bar := startBar(progress, total)
	defer bar.stop()

	users := func(yield func([]any) bool) {
		for i := range w.users {
			email := w.email(i)
			if !yield([]any{w.userID(i), email, store.EmailKey(email), w.firstName(i), w.lastName(i), hash, true, nowMS, nowMS, nowMS}) {
				return
			}
		}
	}
	twoFactor := func(yield func([]any) bool) {
		for i := w.plain(); i < w.users; i++ {
			sealed, _ := box.Seal([]byte(benchTOTPSecret)) // AES-GCM cannot fail here
			if !yield([]any{w.userID(i), sealed, true, int64(0), nowMS, nowMS}) {
				return
			}
		}
	}
	orgs := func(yield func([]any) bool) {
		for j := range w.orgs {
			if !yield([]any{w.orgID(j), w.orgName(j), nowMS, nowMS}) {
				return
			}
		}
	}
	sites := func(yield func([]any) bool) {
		for j := range w.orgs {
			for s := range w.sites(j) {
				if !yield([]any{w.siteID(j, s), w.orgID(j), siteNames[s] + " " + fmt.Sprint(j), timezones[s], "FR", "", "", nowMS, nowMS}) {
					return
				}
			}
		}
	}
	privileges := func(yield func([]any) bool) {
		for i := range w.users {
			j := i % w.orgs
			scope, role, s := w.role(i)
			var site any
			if s >= 0 {
				site = w.siteID(j, s)
			}
			if !yield([]any{benchID(4, uint64(i)), w.userID(i), w.orgID(j), site, scope, role, nowMS}) {
				return
			}
			if k := w.secondOrg(i); k >= 0 {
				if !yield([]any{benchID(5, uint64(i)), w.userID(i), w.orgID(k), nil, portal.ScopeOrg, portal.RoleRead, nowMS}) {
					return
				}
			}
		}
	}
	sessions := func(yield func([]any) bool) {
		for k := range w.sessionCount() {
			i := w.sessionUser(k)
			seen := nowMS - int64(splitmix(uint64(k))%uint64(time.Hour/time.Millisecond)) // so that every one outlives a run
			passed := i >= w.plain()                                                      // a user with TOTP gave a code
			if !yield([]any{benchID(7, uint64(k)), authn.HashToken(sessionToken(k)), w.userID(i), tokenHash(8, uint64(k))[:43],
				seen, seen, seen + int64(24*time.Hour/time.Millisecond), seen, passed, fmt.Sprintf("203.0.113.%d", i%250+1), "Mozilla/5.0", false}) {
				return
			}
		}
	}
	tokens := func(yield func([]any) bool) {
		for i := range w.users {
			if w.hasToken(i) && !yield([]any{benchID(9, uint64(i)), w.userID(i), "ci", tokenHash(9, uint64(i)), nowMS}) {
				return
			}
		}
	}
	audit := func(yield func([]any) bool) {
		const year = 365 * 24 * time.Hour
		n := uint64(0)
		for j, count := range w.auditCounts() {
			rng := rand.New(rand.NewPCG(uint64(j), 14))
			ages := make([]int64, count)
			for k := range ages {
				u := rng.Float64()
				ages[k] = int64(float64(year/time.Millisecond) * u * u)
			}
			slices.Sort(ages)
			members := max(1, w.members(j))
			for _, age := range slices.Backward(ages) { // oldest first
				kind := auditKinds[rng.IntN(len(auditKinds))]
				admin := j + rng.IntN(members)*w.orgs
				site, subject := portal.NilID, w.orgName(j)
				if kind.site && w.sites(j) > 0 {
					s := rng.IntN(w.sites(j))
					site, subject = w.siteID(j, s), siteNames[s]+" "+fmt.Sprint(j)
				} else if kind.site {
					kind = auditKinds[len(auditKinds)-1]
				}
				n++
				if !yield([]any{benchID(6, n), nowMS - age, w.userID(admin), w.firstName(admin) + " " + w.lastName(admin),
					w.orgID(j), site, fmt.Sprintf(kind.message, subject), kind.before, kind.after,
					fmt.Sprintf("198.51.100.%d", 1+admin%250), ""}) {
					return
				}
			}
		}
	}

	type load struct {
		table string
		cols  []string
		rows  iter.Seq[[]any]
	}
	chains := [][]load{
		{
			{"users", []string{"id", "email", "email_lower", "first_name", "last_name", "password_hash", "email_verified", "password_modified_at", "created_at", "modified_at"}, users},
			{"two_factor", []string{"user_id", "secret", "verified", "last_step", "created_at", "verified_at"}, twoFactor},
			{"orgs", []string{"id", "name", "created_at", "modified_at"}, orgs},
			{"sites", []string{"id", "org_id", "name", "timezone", "country_code", "address", "notes", "created_at", "modified_at"}, sites},
			{"privileges", []string{"id", "user_id", "org_id", "site_id", "scope", "role", "created_at"}, privileges},
			{"sessions", []string{"id", "token_hash", "user_id", "csrf_token", "created_at", "last_seen_at", "expires_at", "auth_at", "two_factor_passed", "ip", "user_agent", "password_only"}, sessions},
			{"api_tokens", []string{"id", "user_id", "name", "key_hash", "created_at"}, tokens},
		},
		{
			{"audit_logs", []string{"id", "ts", "admin_id", "admin_name", "org_id", "site_id", "message", "before_json", "after_json", "src_ip", "api_token_name"}, audit},
		},
	}
	errs := make([]error, len(chains))
	var wg sync.WaitGroup
	for c, chain := range chains {
		wg.Go(func() {
			for _, l := range chain {
				src := &seqSource{count: &bar.done}
				src.next, src.stop = iter.Pull(l.rows)
				err := db.WithoutIndexes(ctx, l.table, func() error {
					_, err := db.BulkInsert(ctx, l.table, l.cols, src)
					return err
				}, func(name string, i, n int) {
					bar.setPhase(c, fmt.Sprintf("indexing %s %d/%d", l.table, i+1, n))
				})
				bar.setPhase(c, "")
				src.stop()
				if err != nil {
					errs[c] = fmt.Errorf("%s: %w", l.table, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	bar.setPhase(0, "planner statistics")
	return db.Analyze(ctx)
}

// seqSource is a store.RowSource over an iterator, counting rows.
type seqSource struct {
	next  func() ([]any, bool)
	stop  func()
	cur   []any
	count *atomic.Int64
}

func (s *seqSource) Next() bool {
	v, ok := s.next()
	if ok {
		s.cur = v
		s.count.Add(1)
	}
	return ok
}

func (s *seqSource) Values() ([]any, error) { return s.cur, nil }
func (s *seqSource) Err() error             { return nil }

// bar prints a progress bar with the rate and the time left on one line,
// twice a second, until stop.
type bar struct {
	w      io.Writer
	total  int64
	done   atomic.Int64
	mu     sync.Mutex
	phases map[int]string // what each chain of loads does besides loading rows
	start  time.Time
	// loaded is how long the rows took (0 until they are all in; the
	// printing goroutine's own).
	loaded time.Duration
	quit   chan struct{}
	ended  sync.WaitGroup
}

func startBar(w io.Writer, total int64) *bar {
	b := &bar{w: w, total: max(total, 1), start: time.Now(), quit: make(chan struct{}), phases: map[int]string{}}
	b.ended.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.quit:
				b.print(true)
				return
			case <-t.C:
				b.print(false)
			}
		}
	})
	return b
}

func (b *bar) setPhase(chain int, p string) {
	b.mu.Lock()
	b.phases[chain] = p
	b.mu.Unlock()
}

func (b *bar) stop() {
	close(b.quit)
	b.ended.Wait()
}

func (b *bar) print(final bool) {
	done := b.done.Load()
	el := time.Since(b.start)
	if done == b.total && b.loaded == 0 {
		b.loaded = el
	}
	rate := float64(done) / max(el.Seconds(), 1e-3)
	if b.loaded > 0 {
		rate = float64(done) / max(b.loaded.Seconds(), 1e-3)
	}
	const width = 30
	fill := int(float64(width) * float64(done) / float64(b.total))
	line := fmt.Sprintf("seeding [%s%s] %3.0f%% %s/%s rows, %s rows/s", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		100*float64(done)/float64(b.total), count(done), count(b.total), count(int64(rate)))
	switch {
	case final:
		fmt.Fprintf(b.w, "\r%-120s\n", line+fmt.Sprintf(": rows in %s, then indexes and statistics, %s in all",
			b.loaded.Round(time.Second/10), el.Round(time.Second/10)))
		return
	case done < b.total && rate > 0:
		line += fmt.Sprintf(", ETA %s", (time.Duration(float64(b.total-done)/rate) * time.Second).Round(time.Second))
	}
	b.mu.Lock()
	for _, k := range slices.Sorted(maps.Keys(b.phases)) {
		if p := b.phases[k]; p != "" {
			line += ", " + p
		}
	}
	b.mu.Unlock()
	fmt.Fprintf(b.w, "\r%-120s", line)
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// checkWorld checks that db holds w, seeded by an earlier run (-reuse):
// its last user and organization exist and the next ones do not, and it
// has at least w.audit audit entries.
func checkWorld(ctx context.Context, db *store.DB, w world) error {
	hint := fmt.Errorf("the database does not hold what -users %d -orgs %d -audit %d -totp %d seed: seed it without -reuse", w.users, w.orgs, w.audit, w.totp)
	if _, err := db.GetUserByEmail(ctx, w.email(w.users-1)); err != nil {
		return fmt.Errorf("%w (user %d: %v)", hint, w.users-1, err)
	}
	if _, err := db.GetUserByEmail(ctx, w.email(w.users)); err == nil {
		return fmt.Errorf("%w (it has more users)", hint)
	}
	if _, err := db.GetOrg(ctx, w.orgID(w.orgs-1)); err != nil {
		return fmt.Errorf("%w (organization %d: %v)", hint, w.orgs-1, err)
	}
	if _, err := db.GetOrg(ctx, w.orgID(w.orgs)); err == nil {
		return fmt.Errorf("%w (it has more organizations)", hint)
	}
	if w.totp > 0 {
		tf, err := db.GetTwoFactor(ctx, w.userID(w.plain()))
		if err != nil || !tf.Verified {
			return fmt.Errorf("%w (user %d has no verified second factor)", hint, w.plain())
		}
	}
	if _, err := db.GetSessionByTokenHash(ctx, authn.HashToken(sessionToken(w.sessionCount()-1))); err != nil {
		return fmt.Errorf("%w (seeded session %d: %v; an earlier version of this command seeded sessions of unknown tokens)", hint, w.sessionCount()-1, err)
	}
	if n, err := db.CountRows(ctx, "sessions"); err != nil || n < int64(w.sessionCount()) {
		return fmt.Errorf("%w (%d sessions: %v)", hint, n, err)
	}
	n, err := db.CountRows(ctx, "audit_logs")
	if err != nil {
		return err
	}
	if n < int64(w.audit) {
		return fmt.Errorf("%w (%d audit entries)", hint, n)
	}
	return nil
}

// benchBox is the secret box of benchKey.
func benchBox() (*authn.SecretBox, error) {
	key, err := benchKey(os.Getenv)
	if err != nil {
		return nil, err
	}
	return authn.NewSecretBox(key)
}

// benchKey is the key that seals the seeded TOTP secrets: PORTAL_SECRET_KEY
// when set (the key of a running Portal, -url), else one fixed for the
// benchmark, so that a database seeded once serves later runs.
func benchKey(getenv func(string) string) ([]byte, error) {
	if k := getenv("PORTAL_SECRET_KEY"); k != "" {
		return authn.ParseKey(k)
	}
	sum := sha256.Sum256([]byte("portal-bench TOTP secrets"))
	return sum[:], nil
}
