package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"portal"
)

// Outbox is the mail outbox as the Worker needs it; the store implements it.
type Outbox interface {
	// ClaimDue atomically leases up to limit messages that are due at now and
	// not leased by another worker, for lease, incrementing their Attempts.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]portal.OutboxMessage, error)
	// MarkSent records that message id was delivered.
	MarkSent(ctx context.Context, id string, now time.Time) error
	// MarkFailed releases message id for another attempt at nextAttempt.
	MarkFailed(ctx context.Context, id string, nextAttempt time.Time, lastError string) error
}

// WorkerOptions tune a Worker; zero values take the defaults.
type WorkerOptions struct {
	Interval    time.Duration // how often to poll the outbox; default 2s
	Lease       time.Duration // how long a claimed message is reserved; default 2m
	Batch       int           // messages claimed at once; default 20
	MaxAttempts int           // attempts before giving up; default 10
	OnSent      func()        // called after each delivered message (metrics); optional
	OnLogged    func()        // called instead of OnSent when the Sender only logs (no SMTP); optional
	OnFailed    func()        // called after each failed attempt (metrics); optional
}

// Defaults of WorkerOptions.
const (
	DefaultInterval    = 2 * time.Second
	DefaultLease       = 2 * time.Minute
	DefaultBatch       = 20
	DefaultMaxAttempts = 10
)

// Backoff bounds and the delay after giving up.
const (
	BackoffBase = 30 * time.Second
	BackoffMax  = time.Hour
	GiveUpDelay = 100 * 365 * 24 * time.Hour
)

// maxLastError bounds the error text stored with a failed message.
const maxLastError = 1000

// markTimeout bounds MarkSent/MarkFailed, which run even when ctx is done so
// that a delivered message is not sent again.
const markTimeout = 10 * time.Second

// Worker sends the due messages of an outbox.
type Worker struct {
	ob     Outbox
	s      Sender
	logger *slog.Logger
	now    func() time.Time
	opts   WorkerOptions
	wake   chan struct{}
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
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Worker{ob: ob, s: s, logger: logger, now: now, opts: opts, wake: make(chan struct{}, 1)}
}

// Backoff is the delay before the next attempt after attempt number attempt
// (counting from 1) failed: 30s, 1m, 2m, 4m, … capped at 1h.
func Backoff(attempt int) time.Duration {
	d := BackoffBase
	for i := 1; i < attempt && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

// Wake makes a running Worker process the outbox now rather than at the next
// interval. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run processes the outbox every Interval, and whenever Wake is called,
// until ctx is done.
func (w *Worker) Run(ctx context.Context) {
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

// RunOnce claims one batch of due messages and tries to send each. It
// returns how many were sent and how many attempts failed; err reports
// outbox errors (a failed delivery is not an error of RunOnce).
func (w *Worker) RunOnce(ctx context.Context) (sent, failed int, err error) {
	msgs, err := w.ob.ClaimDue(ctx, w.now(), w.opts.Lease, w.opts.Batch)
	if err != nil {
		return 0, 0, fmt.Errorf("mail: claim due messages: %w", err)
	}
	var errs []error
	for _, m := range msgs {
		if ctx.Err() != nil {
			// The rest stay leased and are retried when the lease expires.
			break
		}
		ok, markErr := w.process(ctx, m)
		if markErr != nil {
			errs = append(errs, markErr)
		}
		switch {
		case ok:
			sent++
		case ctx.Err() == nil:
			failed++
		}
	}
	return sent, failed, errors.Join(errs...)
}

// process sends one claimed message and records the outcome.
func (w *Worker) process(ctx context.Context, m portal.OutboxMessage) (ok bool, err error) {
	sendErr := w.s.Send(ctx, m)
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()

	if sendErr == nil {
		if d, ok := w.s.(Deliverer); ok && !d.Delivers() {
			// Only logged, by the Sender itself ("mail: not sent").
			if w.opts.OnLogged != nil {
				w.opts.OnLogged()
			}
		} else {
			if w.opts.OnSent != nil {
				w.opts.OnSent()
			}
			w.logger.InfoContext(ctx, "mail: sent", "id", m.ID, "to", m.To, "subject", m.Subject, "attempt", m.Attempts)
		}
		if err := w.ob.MarkSent(markCtx, m.ID, w.now()); err != nil {
			// Delivered, but it will be sent again when the lease expires.
			return true, fmt.Errorf("mail: mark %s sent: %w", m.ID, err)
		}
		return true, nil
	}

	if ctx.Err() != nil {
		// Shutting down: not the message's fault. It stays leased and is
		// retried when the lease expires.
		w.logger.InfoContext(markCtx, "mail: send interrupted", "id", m.ID, "err", sendErr)
		return false, nil
	}

	if w.opts.OnFailed != nil {
		w.opts.OnFailed()
	}
	now := w.now()
	lastError := portal.Truncate(sendErr.Error(), maxLastError)
	var next time.Time
	if m.Attempts >= w.opts.MaxAttempts {
		next = now.Add(GiveUpDelay)
		w.logger.ErrorContext(ctx, "mail: giving up", "id", m.ID, "to", m.To, "subject", m.Subject,
			"attempts", m.Attempts, "err", sendErr)
	} else {
		next = now.Add(Backoff(m.Attempts))
		w.logger.WarnContext(ctx, "mail: send failed; will retry", "id", m.ID, "to", m.To,
			"attempt", m.Attempts, "next_attempt", next, "err", sendErr)
	}
	if err := w.ob.MarkFailed(markCtx, m.ID, next, lastError); err != nil {
		return false, fmt.Errorf("mail: mark %s failed: %w", m.ID, err)
	}
	return false, nil
}
