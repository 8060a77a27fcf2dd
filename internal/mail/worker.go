package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"portal"
)

// Outbox is the mail outbox as the Worker needs it; the store implements it.
// Each method changes one message, except ClaimDue and TakeBack.
type Outbox interface {
	// ClaimDue atomically leases up to limit messages that are due at now
	// and not leased by another worker, for lease, oldest first, in this
	// instance's name, incrementing their Attempts.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]portal.OutboxMessage, error)
	// TakeBack makes the messages still leased in this instance's name
	// due at once: at start, the claims of the process that ran before
	// under the same instance id, which crashed (their attempts stay
	// counted). It returns how many there were.
	TakeBack(ctx context.Context, now time.Time) (int, error)
	// MarkSent records that message id was delivered.
	MarkSent(ctx context.Context, id string, now time.Time) error
	// MarkFailed releases message id for another attempt at nextAttempt;
	// the attempt counts.
	MarkFailed(ctx context.Context, id string, nextAttempt time.Time, lastError string) error
	// Release releases message id for another attempt at nextAttempt, as
	// if its claim had not been made: the attempt does not count.
	Release(ctx context.Context, id string, nextAttempt time.Time, lastError string) error
	// GiveUp records that message id failed for good.
	GiveUp(ctx context.Context, id string, now time.Time, lastError string) error
}

// WorkerOptions tune a Worker; zero values take the defaults.
type WorkerOptions struct {
	Interval    time.Duration // how often to poll the outbox; default 2s
	Lease       time.Duration // how long a claimed message is reserved; default 2m
	Batch       int           // messages claimed at once; default 50
	Senders     int           // messages sent at once; default PoolSize (4)
	MaxAttempts int           // attempts before giving up on temporary failures; default 10
	OnSent      func()        // called after each delivered message (metrics); optional
	OnLogged    func()        // called instead of OnSent when the Sender only logs (no SMTP); optional
	OnFailed    func()        // called for each message that failed for good; optional
	OnRetried   func()        // called for each failed attempt that will be retried; optional
}

// Defaults of WorkerOptions.
const (
	DefaultInterval    = 2 * time.Second
	DefaultLease       = 2 * time.Minute
	DefaultBatch       = 50
	DefaultMaxAttempts = 10
)

// Backoff bounds: of one message after a temporary failure (Backoff), and
// of the whole outbox while the server is away (ServerBackoff).
const (
	BackoffBase       = 30 * time.Second
	BackoffMax        = time.Hour
	ServerBackoffBase = 5 * time.Second
	ServerBackoffMax  = 5 * time.Minute
)

// leaseMargin is the part of a lease that must be left to begin sending a
// message: enough for a slow server to answer each SMTP command
// (SendTimeout each) before the lease lets another instance claim it.
const leaseMargin = 6 * SendTimeout

// maxLastError bounds the error text stored with a failed message.
const maxLastError = 1000

// markTimeout bounds MarkSent/MarkFailed, which run even when ctx is done so
// that a delivered message is not sent again.
const markTimeout = 10 * time.Second

// Worker sends the due messages of an outbox, several at once (Senders).
//
// A failure of one message (Temporary, Permanent) is that message's: it
// is retried with back-off or marked failed, and the others go on. A
// failure of the server (ServerFailure) pauses the whole outbox instead:
// the message is released without counting the attempt, the rest of the
// batch too, and after ServerBackoff a single message probes the server;
// when it is delivered, sending resumes at full speed.
type Worker struct {
	ob     Outbox
	s      Sender
	logger *slog.Logger
	now    func() time.Time
	opts   WorkerOptions
	wake   chan struct{}
	// jitter spreads a back-off delay (tests make it exact).
	jitter func(time.Duration) time.Duration

	mu        sync.Mutex
	downCount int       // consecutive server failures
	downUntil time.Time // no sending before this while the server is away
}

// NewWorker returns a Worker sending ob's messages with s. logger and now may
// be nil (discard, time.Now).
func NewWorker(ob Outbox, s Sender, logger *slog.Logger, now func() time.Time, opts WorkerOptions) *Worker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Senders <= 0 {
		opts.Senders = PoolSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Worker{ob: ob, s: s, logger: logger, now: now, opts: opts, wake: make(chan struct{}, 1), jitter: jitter}
}

// Backoff is the delay before the next attempt after attempt number attempt
// (counting from 1) failed: 30s, 1m, 2m, 4m, … capped at 1h (before jitter).
func Backoff(attempt int) time.Duration {
	return doubling(BackoffBase, BackoffMax, attempt)
}

// ServerBackoff is the pause after the n-th server failure in a row: 5s,
// 10s, 20s, … capped at 5m (before jitter).
func ServerBackoff(n int) time.Duration {
	return doubling(ServerBackoffBase, ServerBackoffMax, n)
}

func doubling(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// jitter adds up to a fifth of d at random, so that messages (and
// instances) that failed together do not all retry at the same moment.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/5+1)
}

// Wake makes a running Worker process the outbox now rather than at the next
// interval. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run takes back the claims this instance left behind (a crash), then
// processes the outbox every Interval, and whenever Wake is called, until
// ctx is done.
func (w *Worker) Run(ctx context.Context) {
	if n, err := w.ob.TakeBack(ctx, w.now()); err != nil {
		w.logger.ErrorContext(ctx, "mail: take back this instance's earlier claims (they wait for their lease instead)", "err", err)
	} else if n > 0 {
		w.logger.WarnContext(ctx, "mail: took back messages this instance had claimed before it stopped; they are sent again now", "messages", n)
	}
	ticker := time.NewTicker(w.opts.Interval)
	defer ticker.Stop()
	for {
		w.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-w.wake:
		}
	}
}

// drain runs batches while they come back full.
func (w *Worker) drain(ctx context.Context) {
	for ctx.Err() == nil {
		sent, failed, err := w.RunOnce(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.logger.ErrorContext(ctx, "mail: outbox", "err", err)
			}
			return
		}
		if sent+failed < w.opts.Batch {
			return
		}
	}
}

// paused reports whether the server is away: until when, and whether
// only one message may probe it.
func (w *Worker) paused(now time.Time) (until time.Time, probe bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Before(w.downUntil) {
		return w.downUntil, true
	}
	return time.Time{}, w.downCount > 0
}

// RunOnce claims one batch of due messages and sends them, Senders at a
// time. It returns how many were sent and how many attempts failed
// (messages released because of the server or a shutdown are neither);
// err reports outbox errors (a failed delivery is not an error of RunOnce).
// While the server is away it sends nothing until the pause ends, and then
// a single message.
func (w *Worker) RunOnce(ctx context.Context) (sent, failed int, err error) {
	now := w.now()
	limit := w.opts.Batch
	if until, probe := w.paused(now); !until.IsZero() {
		return 0, 0, nil
	} else if probe {
		limit = 1
	}
	msgs, err := w.ob.ClaimDue(ctx, now, w.opts.Lease, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("mail: claim due messages: %w", err)
	}
	// A message is not begun when too little of its lease is left for
	// it: another instance may claim it once the lease expires.
	begin := now.Add(w.opts.Lease - min(leaseMargin, w.opts.Lease/2))
	var (
		mu   sync.Mutex
		errs []error
		next int
		wg   sync.WaitGroup
	)
	for range min(w.opts.Senders, len(msgs)) {
		wg.Go(func() {
			for {
				mu.Lock()
				if next == len(msgs) {
					mu.Unlock()
					return
				}
				m := msgs[next]
				next++
				mu.Unlock()
				res, markErr := w.process(ctx, m, begin)
				mu.Lock()
				if markErr != nil {
					errs = append(errs, markErr)
				}
				switch res {
				case resultSent:
					sent++
				case resultFailed:
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return sent, failed, errors.Join(errs...)
}

type result int

const (
	resultSent     result = iota
	resultFailed          // the attempt counted (retried later or given up)
	resultReleased        // not attempted, or the server's fault: released uncounted
)

// process sends one claimed message, unless its lease ends before begin,
// and records the outcome.
func (w *Worker) process(ctx context.Context, m portal.OutboxMessage, begin time.Time) (result, error) {
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()

	if w.now().After(begin) {
		// Left alone (it may be another instance's by now): it is claimed
		// again when its lease expires.
		w.logger.WarnContext(ctx, "mail: lease nearly over before sending; left for the next claim", "id", m.ID)
		return resultReleased, nil
	}

	// Shutting down, or the server went away while this message waited
	// in the batch: release it for whoever sends next, without an attempt.
	if ctx.Err() != nil {
		return w.release(markCtx, m, w.now(), "not sent: shutting down")
	}
	if until, _ := w.paused(w.now()); !until.IsZero() {
		return w.release(markCtx, m, until, "not sent: the SMTP server is unavailable")
	}

	sendErr := w.s.Send(ctx, m)
	if sendErr == nil {
		w.serverUp(ctx)
		if d, ok := w.s.(Deliverer); ok && !d.Delivers() {
			// Only logged, by the Sender itself ("mail: not sent").
			if w.opts.OnLogged != nil {
				w.opts.OnLogged()
			}
		} else {
			if w.opts.OnSent != nil {
				w.opts.OnSent()
			}
		}
		// Marked right after the server's acceptance: a crash between the
		// two is the only way a message is sent twice.
		if err := w.ob.MarkSent(markCtx, m.ID, w.now()); err != nil {
			// Delivered, but it will be sent again when the lease expires.
			return resultSent, fmt.Errorf("mail: mark %s sent: %w", m.ID, err)
		}
		if d, ok := w.s.(Deliverer); !ok || d.Delivers() {
			w.logger.InfoContext(ctx, "mail: sent", "id", m.ID, "to_domain", domainOf(m.To), "subject", m.Subject, "attempt", m.Attempts)
		}
		return resultSent, nil
	}

	now := w.now()
	lastError := portal.Truncate(sendErr.Error(), maxLastError)
	kind := KindOf(sendErr)
	switch {
	case ctx.Err() != nil:
		// Shutting down: not the message's fault.
		w.logger.InfoContext(markCtx, "mail: send interrupted", "id", m.ID, "err", sendErr)
		return w.release(markCtx, m, now, lastError)
	case kind == ServerFailure:
		until := w.serverDown(ctx, now, sendErr)
		w.retried()
		return w.release(markCtx, m, until, lastError)
	case kind == Permanent || m.Attempts >= w.opts.MaxAttempts:
		if w.opts.OnFailed != nil {
			w.opts.OnFailed()
		}
		w.logger.ErrorContext(ctx, "mail: failed; giving up", "id", m.ID, "to_domain", domainOf(m.To), "subject", m.Subject,
			"attempts", m.Attempts, "kind", kind.String(), "err", withoutAddresses(sendErr.Error()))
		if err := w.ob.GiveUp(markCtx, m.ID, now, lastError); err != nil {
			return resultFailed, fmt.Errorf("mail: mark %s failed: %w", m.ID, err)
		}
		return resultFailed, nil
	default:
		w.retried()
		next := now.Add(w.jitter(Backoff(m.Attempts)))
		w.logger.WarnContext(ctx, "mail: send failed; will retry", "id", m.ID, "to_domain", domainOf(m.To),
			"attempt", m.Attempts, "next_attempt", next, "err", withoutAddresses(sendErr.Error()))
		if err := w.ob.MarkFailed(markCtx, m.ID, next, lastError); err != nil {
			return resultFailed, fmt.Errorf("mail: mark %s failed: %w", m.ID, err)
		}
		return resultFailed, nil
	}
}

func (w *Worker) retried() {
	if w.opts.OnRetried != nil {
		w.opts.OnRetried()
	}
}

func (w *Worker) release(ctx context.Context, m portal.OutboxMessage, next time.Time, lastError string) (result, error) {
	if err := w.ob.Release(ctx, m.ID, next, lastError); err != nil {
		return resultReleased, fmt.Errorf("mail: release %s: %w", m.ID, err)
	}
	return resultReleased, nil
}

// serverDown records a server failure and returns the end of the pause.
func (w *Worker) serverDown(ctx context.Context, now time.Time, err error) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Before(w.downUntil) {
		return w.downUntil // another sender of the batch already noticed
	}
	w.downCount++
	w.downUntil = now.Add(w.jitter(ServerBackoff(w.downCount)))
	level := slog.LevelWarn
	if w.downCount > 1 {
		level = slog.LevelError
	}
	w.logger.Log(ctx, level, "mail: SMTP server unavailable; sending paused, no message loses an attempt",
		"failures_in_a_row", w.downCount, "retry_at", w.downUntil, "err", err)
	return w.downUntil
}

// serverUp ends a pause after a delivery.
func (w *Worker) serverUp(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.downCount > 0 {
		w.logger.InfoContext(ctx, "mail: SMTP server available again; sending resumed", "after_failures", w.downCount)
	}
	w.downCount, w.downUntil = 0, time.Time{}
}

// The log names a message by its outbox id and its recipient's domain, never
// the address: whoever needs the address reads the outbox row by its id.
// An SMTP reply quoted in an error may hold the address too.
var emailLike = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)

// domainOf returns the part of an address after its last '@'.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// withoutAddresses replaces the e-mail addresses in s with <address>.
func withoutAddresses(s string) string { return emailLike.ReplaceAllString(s, "<address>") }
