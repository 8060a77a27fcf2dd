package app_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// BenchmarkNotifyPipeline measures device events from ingestion to the
// digest mail handed to SMTP, per database. An organization has
// PORTAL_BENCH_SITES sites (default 20) with one device each, and
// PORTAL_BENCH_SUBSCRIBERS members (default 20) who may see every site,
// member i subscribed to site i mod sites. Each iteration ingests
// PORTAL_BENCH_EVENTS events (default 2,000), round robin over the
// devices, through IngestEvents in batches of 500 as a collector would
// send them, while SendDigests runs in a loop beside it and the mail
// worker delivers to the in-process SMTP server. The digest window is
// 1 ms, so the latency is Portal's work, not the window's wait (add
// PORTAL_NOTIFY_WINDOW for a non-critical event in production).
//
// Metrics: events/s is the ingestion rate (events over the time spent in
// IngestEvents); p50-ms and max-ms are, over the mails, the time from the
// IngestEvents call of the oldest event a mail holds to the SMTP server
// accepting that mail; mails/op is how many digests went out per
// iteration; drain-s how long the last of them took after ingestion ended.
// The figure (100,000 events, 1,000 sites, 1,000 subscribers):
//
//	PORTAL_BENCH_EVENTS=100000 PORTAL_BENCH_SITES=1000 PORTAL_BENCH_SUBSCRIBERS=1000 \
//	  go test ./internal/app -run '^$' -bench NotifyPipeline -benchtime 1x -timeout 30m
func BenchmarkNotifyPipeline(b *testing.B) {
	events := benchSize(b, "PORTAL_BENCH_EVENTS", 2000)
	sites := benchSize(b, "PORTAL_BENCH_SITES", 20)
	subscribers := benchSize(b, "PORTAL_BENCH_SUBSCRIBERS", 20)
	const batch = 500
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := testenv.OpenDB(b, d)
			srv := smtptest.Start(b)
			inner, err := mail.NewSender(srv.URL(), "Portal <no-reply@portal.example>", nil)
			if err != nil {
				b.Fatal(err)
			}
			ts := &timedSender{inner: inner, more: make(chan struct{}, 1)}
			w := mail.NewWorker(store.Outbox{DB: db, Instance: "bench"}, ts, nil, time.Now, mail.WorkerOptions{Interval: 50 * time.Millisecond})
			svc := app.New(app.Options{DB: db, Hasher: authn.NewHasher(64, 1, 1, 2), Now: time.Now, BaseURL: "http://portal.test",
				MailQueued: w.Wake, NotifyWindow: time.Millisecond})
			wctx, stop := context.WithCancel(ctx)
			workerDone := make(chan struct{})
			go func() { defer close(workerDone); w.Run(wctx) }()
			b.Cleanup(func() { stop(); <-workerDone })

			// The organization, its sites and devices, its subscribers.
			setup := &testService{svc: svc, db: db, clock: testenv.NewClock(time.Now()), h: authn.NewHasher(64, 1, 1, 2)}
			owner := setup.addUsers(b, benchPassword, "owner@bench.example")[0]
			oa := &app.Actor{User: owner, Session: &portal.Session{ID: "bench"}, IP: "192.0.2.1"}
			org, err := svc.CreateOrg(ctx, oa, app.OrgInput{Name: valuePtr("Bench")})
			if err != nil {
				b.Fatal(err)
			}
			siteIDs := make([]string, sites)
			devices := make([]app.DeviceInput, sites)
			for i := range sites {
				s, err := svc.CreateSite(ctx, oa, org.ID, app.SiteInput{Name: valuePtr(fmt.Sprintf("Site %04d", i))})
				if err != nil {
					b.Fatal(err)
				}
				siteIDs[i] = s.ID
				devices[i] = app.DeviceInput{Serial: fmt.Sprintf("BENCH%06d", i), MAC: fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff), Site: s.ID}
			}
			for i := 0; i < sites; i += app.MaxDevicesAtOnce {
				res, err := svc.AddDevices(ctx, oa, org.ID, devices[i:min(i+app.MaxDevicesAtOnce, sites)])
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r.Error != "" {
						b.Fatal(r.Error)
					}
				}
			}
			now := time.Now()
			var subs []*portal.User
			err = db.Write(ctx, func(tx *store.Tx) error {
				for i := range subscribers {
					u := &portal.User{ID: uuid.NewString(), Email: fmt.Sprintf("sub%05d@bench.example", i), PasswordHash: "x", EmailVerified: true,
						PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
					if err := tx.CreatePrivilege(ctx, &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: org.ID, Scope: portal.ScopeOrg, Role: portal.RoleRead}, now.UnixMilli()); err != nil {
						return err
					}
					subs = append(subs, u)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			for i, u := range subs {
				a := &app.Actor{User: u, Session: &portal.Session{ID: "bench"}, IP: "192.0.2.1"}
				if err := svc.Subscribe(ctx, a, org.ID, siteIDs[i%sites]); err != nil {
					b.Fatal(err)
				}
			}

			var ingest, drain time.Duration
			var lat []time.Duration
			mails := 0
			b.ResetTimer()
			for b.Loop() {
				var ingested atomic.Bool
				queued := make(chan int, 1)
				go func() { // the background work's digest loop
					total := 0
					defer func() { queued <- total }()
					for {
						last := ingested.Load()
						n, err := svc.SendDigests(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						total += n
						if n == 0 {
							if last {
								return
							}
							time.Sleep(10 * time.Millisecond) // a poll interval, as RunCleanup's ticker
						}
					}
				}()
				for i := 0; i < events; i += batch {
					in := make([]app.EventInput, 0, batch)
					mark := ts.begin()
					for j := i; j < min(i+batch, events); j++ {
						in = append(in, app.EventInput{MAC: devices[j%sites].MAC, Type: "config_changed", Severity: "info", Text: fmt.Sprintf("batch#%d", mark)})
					}
					start := time.Now()
					res, err := svc.IngestEvents(ctx, oa, org.ID, in)
					ingest += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Error != "" {
							b.Fatal(r.Error)
						}
					}
				}
				ingested.Store(true)
				end := time.Now()
				n := <-queued
				mails += n
				ts.wait(mails)
				drain += time.Since(end)
			}
			b.StopTimer()
			lat = ts.latencies()
			if len(lat) == 0 {
				b.Fatal("no mail delivered")
			}
			slices.Sort(lat)
			b.ReportMetric(float64(events*b.N)/ingest.Seconds(), "events/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(mails)/float64(b.N), "mails/op")
			b.ReportMetric(drain.Seconds()/float64(b.N), "drain-s")
		})
	}
}

// benchSize reads a positive size from the environment variable name.
func benchSize(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

var batchMark = regexp.MustCompile(`batch#(\d+)`)

// timedSender delivers through inner and records, for each mail accepted,
// the time since the ingestion of the oldest batch it holds.
type timedSender struct {
	inner mail.Sender
	more  chan struct{} // a mail was delivered

	mu      sync.Mutex
	started []time.Time // by batch mark
	lat     []time.Duration
	n       int // mails delivered
}

// begin returns the mark of a batch about to be ingested, and notes when.
func (s *timedSender) begin() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, time.Now())
	return len(s.started) - 1
}

func (s *timedSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	if err := s.inner.Send(ctx, m); err != nil {
		return err
	}
	at := time.Now()
	oldest := -1
	for _, x := range batchMark.FindAllStringSubmatch(m.Text, -1) {
		if n, err := strconv.Atoi(x[1]); err == nil && (oldest < 0 || n < oldest) {
			oldest = n
		}
	}
	s.mu.Lock()
	if oldest >= 0 && oldest < len(s.started) {
		s.lat = append(s.lat, at.Sub(s.started[oldest]))
	}
	s.n++
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
	return nil
}

// wait returns once n mails in all have been delivered.
func (s *timedSender) wait(n int) {
	for {
		s.mu.Lock()
		done := s.n >= n
		s.mu.Unlock()
		if done {
			return
		}
		<-s.more
	}
}

func (s *timedSender) latencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lat)
}
