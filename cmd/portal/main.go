// Command portal runs the Portal account service.
//
//	portal [serve] [flags]                  start the server (default)
//	portal migrate [flags]                  apply database migrations and exit
//	portal user disable EMAIL [flags]       disable an account: sessions end, API tokens are revoked
//	portal user enable EMAIL [flags]        let a disabled account log in again
//	portal user end-sessions EMAIL [flags]  sign an account out everywhere
//	portal operator add EMAIL [flags]       make an account an operator of the deployment
//	portal operator remove EMAIL [flags]    undo portal operator add
//	portal operator list [flags]            list the operators (also those of PORTAL_OPERATORS)
//	portal secret-key rotate [flags]        re-seal every stored secret under PORTAL_SECRET_KEY
//	portal version                          print the version
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // time zones on machines without tzdata

	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/config"
	"portal/internal/mail"
	"portal/internal/server"
	"portal/internal/store"
)

// shutdownTimeout bounds how long, after the drain, Shutdown waits for
// requests in flight before it gives up on them.
const shutdownTimeout = 20 * time.Second

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

// run is the whole program; ctx ends it (SIGINT/SIGTERM in main).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var action, email string // of a user or operator command
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "portal", version)
		return nil
	case "serve", "migrate", "purge":
	case "user":
		if len(args) < 2 || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[1], "-") {
			return errors.New("usage: portal user disable|enable|end-sessions EMAIL [flags]")
		}
		action, email, args = args[0], args[1], args[2:]
		if _, ok := userActions[action]; !ok {
			return fmt.Errorf("unknown user command %q (use disable, enable or end-sessions)", action)
		}
	case "operator":
		if len(args) < 1 || strings.HasPrefix(args[0], "-") {
			return errors.New("usage: portal operator add|remove EMAIL [flags], or portal operator list [flags]")
		}
		action, args = args[0], args[1:]
		if _, ok := operatorActions[action]; !ok {
			return fmt.Errorf("unknown operator command %q (use add, remove or list)", action)
		}
		if action != "list" {
			if len(args) < 1 || strings.HasPrefix(args[0], "-") {
				return fmt.Errorf("usage: portal operator %s EMAIL [flags]", action)
			}
			email, args = args[0], args[1:]
		}
	case "secret-key":
		if len(args) < 1 || strings.HasPrefix(args[0], "-") {
			return errors.New("usage: portal secret-key rotate [flags]")
		}
		if action, args = args[0], args[1:]; action != "rotate" {
			return fmt.Errorf("unknown secret-key command %q (use rotate)", action)
		}
	default:
		return fmt.Errorf("unknown command %q (use serve, migrate, purge, user, operator, secret-key or version)", cmd)
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	dbURL := cfg.DatabaseURL
	if !cfg.Postgres() {
		dbURL = cfg.SQLitePath()
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if cmd == "migrate" {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		v, err := db.MigrationVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "database at version %d\n", v)
		return nil
	}
	// serve migrates only when it may (PORTAL_AUTO_MIGRATE) and something
	// is pending; a user or operator command never does.
	if err := ensureSchema(ctx, db, cfg.AutoMigrate && cmd == "serve", logger); err != nil {
		return err
	}
	if cmd == "user" {
		svc := app.New(app.Options{DB: db, BaseURL: cfg.BaseURL, Logger: logger})
		return userActions[action](ctx, svc, email, stdout)
	}
	if cmd == "operator" {
		svc := app.New(app.Options{DB: db, BaseURL: cfg.BaseURL, Logger: logger, Operators: cfg.Operators})
		return operatorActions[action](ctx, svc, email, stdout)
	}
	if cmd == "purge" { // the retention purge, now (app/retention.go)
		r, err := app.New(app.Options{DB: db, BaseURL: cfg.BaseURL, Logger: logger}).PurgeRetention(ctx)
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		fmt.Fprintln(stdout, "purged", r)
		return nil
	}
	if cmd == "secret-key" { // rotate
		box, err := secretBox(cfg, false)
		if err != nil {
			return err
		}
		return rotateSecretKey(ctx, app.New(app.Options{DB: db, BaseURL: cfg.BaseURL, Logger: logger, SecretBox: box}), len(cfg.SecretKeysPrevious), stdout)
	}
	box, err := secretBox(cfg, true) // seals secrets at rest (TOTP secrets, PKCE verifiers)
	if err != nil {
		return err
	}
	logger.Info("secrets at rest", "key_id", box.KeyID(), "previous_keys", len(cfg.SecretKeysPrevious))
	if !cfg.SecureCookies() && !loopbackURL(cfg.BaseURL) {
		logger.Warn("PORTAL_BASE_URL is not https://: session cookies are not Secure and no HSTS is sent; in production, serve Portal over https behind a load balancer that ends TLS and set an https:// PORTAL_BASE_URL",
			"base_url", cfg.BaseURL)
	}
	return serve(ctx, cfg, db, box, logger, stdout)
}

// loopbackURL reports whether a URL's host is this machine (localhost or a
// loopback address), where plain HTTP is only development.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// ensureSchema checks that the database's schema is the one this binary
// needs, reading only, so that serve can run with a database role that may
// read and write rows but not change the schema. With pending migrations
// it applies them when migrate is true, and otherwise, or when applying
// them fails (such a role), it refuses to start and says to run
// `portal migrate`.
func ensureSchema(ctx context.Context, db *store.DB, migrate bool, logger *slog.Logger) error {
	st, err := db.Schema(ctx)
	if err != nil {
		return fmt.Errorf("read the database's schema version: %w", err)
	}
	if !st.Pending {
		return nil
	}
	behind := fmt.Sprintf("the database schema is at version %d and this Portal needs version %d", st.Current, st.Target)
	if !migrate {
		return fmt.Errorf("%s: run `portal migrate` (with a database role that may change the schema), then start again", behind)
	}
	logger.Info("applying database migrations", "from", st.Current, "to", st.Target)
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("%s, and applying the migrations failed (%w): run `portal migrate` with a database role that may change the schema, then start again", behind, err)
	}
	return nil
}

// userActions are the operator's commands on one account (portal user
// ACTION EMAIL): each prints what it did; an unknown address is an error.
var userActions = map[string]func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error{
	"disable": func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error {
		r, err := svc.DisableUser(ctx, email)
		if err != nil {
			return err
		}
		was := ""
		if r.WasDisabled {
			was = " (it was already disabled)"
		}
		fmt.Fprintf(stdout, "disabled %s%s: %s ended, %s revoked; login and password recovery are refused until `portal user enable %s`\n",
			r.User.Email, was, plural(r.SessionsEnded, "session"), plural(r.APITokensRevoked, "API token"), r.User.Email)
		return nil
	},
	"enable": func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error {
		r, err := svc.EnableUser(ctx, email)
		if err != nil {
			return err
		}
		if !r.WasDisabled {
			fmt.Fprintf(stdout, "%s is not disabled: nothing changed\n", r.User.Email)
			return nil
		}
		fmt.Fprintf(stdout, "enabled %s: it can log in again (API tokens revoked when it was disabled stay revoked)\n", r.User.Email)
		return nil
	},
	"end-sessions": func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error {
		r, err := svc.EndUserSessions(ctx, email)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signed %s out everywhere: %s ended (API tokens left as they are)\n", r.User.Email, plural(r.SessionsEnded, "session"))
		return nil
	},
}

// operatorActions are the commands on the deployment's operators, who
// read the survey's results (portal operator ACTION [EMAIL]): each prints
// what it did; an unknown address is an error.
var operatorActions = map[string]func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error{
	"add": func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error {
		u, added, err := svc.AddOperator(ctx, email)
		if err != nil {
			return err
		}
		if !added {
			fmt.Fprintf(stdout, "%s is already an operator: nothing changed\n", u.Email)
			return nil
		}
		fmt.Fprintf(stdout, "%s is now an operator: the user menu shows Survey Results\n", u.Email)
		return nil
	},
	"remove": func(ctx context.Context, svc *app.Service, email string, stdout io.Writer) error {
		u, removed, err := svc.RemoveOperator(ctx, email)
		if err != nil {
			return err
		}
		if !removed {
			fmt.Fprintf(stdout, "%s was not made an operator with `portal operator add`: nothing changed\n", u.Email)
		} else {
			fmt.Fprintf(stdout, "%s is no longer an operator by `portal operator add`\n", u.Email)
		}
		ops, err := svc.ListOperators(ctx)
		if err != nil {
			return err
		}
		for _, o := range ops {
			if strings.EqualFold(o.Email, u.Email) && o.Setting {
				fmt.Fprintf(stdout, "%s stays an operator while PORTAL_OPERATORS names it\n", u.Email)
			}
		}
		return nil
	},
	"list": func(ctx context.Context, svc *app.Service, _ string, stdout io.Writer) error {
		ops, err := svc.ListOperators(ctx)
		if err != nil {
			return err
		}
		if len(ops) == 0 {
			fmt.Fprintln(stdout, "no operators: name them in PORTAL_OPERATORS or with `portal operator add EMAIL`")
			return nil
		}
		for _, o := range ops {
			var by []string
			if o.Setting {
				by = append(by, "PORTAL_OPERATORS")
			}
			if o.Added {
				by = append(by, "portal operator add, "+o.Since.Format(time.DateOnly))
			}
			name := o.Name
			if name == "" {
				name = "(no account yet)"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", o.Email, name, strings.Join(by, "; "))
		}
		return nil
	},
}

// plural says "1 session", "2 sessions".
func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// secretBox returns the box that seals secrets at rest under the current
// key (secretKey) and opens them under it or PORTAL_SECRET_KEY_PREVIOUS's.
func secretBox(cfg *config.Config, generate bool) (*authn.SecretBox, error) {
	key, err := secretKey(cfg, generate)
	if err != nil {
		return nil, err
	}
	box, err := authn.NewSecretBox(key, cfg.SecretKeysPrevious...)
	if err != nil { // config.Validate compared them with PORTAL_SECRET_KEY; this is the generated key
		return nil, fmt.Errorf("PORTAL_SECRET_KEY_PREVIOUS: %s (%s)", strings.TrimPrefix(err.Error(), "authn: "), filepath.Join(cfg.DataDir, "secret.key"))
	}
	return box, nil
}

// rotateSecretKey is `portal secret-key rotate`: it re-seals every stored
// secret under the current key and says whether the previous keys
// (previous of them configured) can go.
func rotateSecretKey(ctx context.Context, svc *app.Service, previous int, stdout io.Writer) error {
	r, err := svc.ResealSecrets(ctx)
	if err != nil {
		return fmt.Errorf("secret-key rotate: %w", err)
	}
	if r.Resealed() == 0 {
		fmt.Fprintf(stdout, "nothing to re-seal: every stored secret is sealed under the current secret key (key id %s)\n", r.KeyID)
	} else {
		fmt.Fprintf(stdout, "re-sealed %s under the current secret key (key id %s): %s, %s\n", plural(r.Resealed(), "value"), r.KeyID,
			plural(r.TwoFactorSecrets, "two-factor secret"), plural(r.SignInFlows, "Google sign-in")+" under way")
	}
	if r.UnreadableFlows > 0 {
		fmt.Fprintf(stdout, "%s under way could not be opened with any configured key: they fail, and expire within %s\n",
			plural(int64(r.UnreadableFlows), "Google sign-in"), plural(int64(app.OAuthFlowTTL/time.Minute), "minute"))
	}
	if n := len(r.UnreadableTwoFactor); n > 0 {
		return fmt.Errorf("%s could not be opened with PORTAL_SECRET_KEY or PORTAL_SECRET_KEY_PREVIOUS (of %s): keep PORTAL_SECRET_KEY_PREVIOUS, add to it the key that sealed them and run `portal secret-key rotate` again; without that key, these users must sign in with a recovery code and set up two-factor authentication again",
			plural(int64(n), "two-factor secret"), strings.Join(r.UnreadableTwoFactor, ", "))
	}
	if previous > 0 {
		fmt.Fprintln(stdout, "every stored secret is now sealed under PORTAL_SECRET_KEY: remove PORTAL_SECRET_KEY_PREVIOUS from the configuration of every instance, and restart them")
	} else {
		fmt.Fprintln(stdout, "every stored secret is now sealed under PORTAL_SECRET_KEY")
	}
	return nil
}

// secretKey returns PORTAL_SECRET_KEY, or with SQLite a key generated once
// into the data directory (when generate is true; otherwise a missing one
// is an error).
func secretKey(cfg *config.Config, generate bool) ([]byte, error) {
	if cfg.SecretKey != "" {
		key, err := authn.ParseKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("PORTAL_SECRET_KEY: %w", err)
		}
		return key, nil
	}
	path := filepath.Join(cfg.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key, err := authn.ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	if !generate {
		return nil, fmt.Errorf("no secret key: PORTAL_SECRET_KEY is unset and %s does not exist (is this the server's PORTAL_DATA_DIR?)", path)
	}
	key := make([]byte, authn.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write generated secret key: %w", err)
	}
	return key, nil
}

func serve(ctx context.Context, cfg *config.Config, db *store.DB, box *authn.SecretBox, logger *slog.Logger, stdout io.Writer) error {
	sender, err := mail.NewSender(cfg.SMTPURL, cfg.MailFrom, logger, mail.WithExtraRootCAs(cfg.SMTPCAs...))
	if err != nil {
		return fmt.Errorf("mail settings (PORTAL_SMTP_URL, PORTAL_SMTP_CA_FILE, PORTAL_MAIL_FROM): %w", err)
	}
	metrics := server.NewMetrics(nil)
	// The outbox's leases carry this instance's name, so that after a crash
	// the restarted process takes its claims back at once.
	worker := mail.NewWorker(store.Outbox{DB: db, Instance: cfg.Instance()}, sender, logger, time.Now, mail.WorkerOptions{
		OnSent:    func() { metrics.Mails.WithLabelValues("sent").Inc() },
		OnLogged:  func() { metrics.Mails.WithLabelValues("logged").Inc() },
		OnFailed:  func() { metrics.Mails.WithLabelValues("failed").Inc() },
		OnRetried: func() { metrics.Mails.WithLabelValues("retried").Inc() },
	})
	svc := app.New(app.Options{DB: db, BaseURL: cfg.BaseURL, Logger: logger, MailQueued: worker.Wake, SecretBox: box,
		OnLogin: func(outcome string) { metrics.Logins.WithLabelValues(outcome).Inc() }, Google: googleProvider(cfg),
		DeviceTimeout: cfg.DeviceTimeout, NotifyWindow: cfg.NotifyWindow, Operators: cfg.Operators})
	// draining is set on SIGTERM: /readyz answers 503 and every answer
	// closes its connection, for the drain period before Shutdown.
	var draining atomic.Bool
	handler, err := server.NewServer(server.Options{Service: svc, Logger: logger, SecureCookies: cfg.SecureCookies(),
		Ready: db.Ready, Metrics: metrics, Version: version, TrustedProxies: cfg.TrustedProxies,
		MetricsAllow: cfg.MetricsAllow, MetricsElsewhere: cfg.MetricsAddr != "", Draining: draining.Load})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: closeWhileDraining(&draining, handler), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	// With PORTAL_METRICS_ADDR, /metrics has a listener of its own (and is
	// not on the main one).
	var metricsLn net.Listener
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("PORTAL_METRICS_ADDR: %w", err)
		}
		metricsSrv = &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	}

	metrics.SetMailQueue(db.MailQueue, time.Now)
	metrics.SetPools(db.Pools())
	metrics.SetAuthCache(svc.AuthCacheEntries)
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	logger.Info("mail: outbox worker", "instance", cfg.Instance())
	go func() {
		defer close(workerDone)
		worker.Run(workerCtx)
		if c, ok := sender.(io.Closer); ok {
			c.Close() // QUIT the pooled SMTP connections
		}
	}()
	go svc.RunCleanup(workerCtx, time.Hour)

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Portal %s listening on http://%s (public URL %s, database %s)\n", version, ln.Addr(), cfg.BaseURL, db.Dialect())
	logger.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL, "database", string(db.Dialect()))
	if metricsSrv != nil {
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
		fmt.Fprintf(stdout, "Metrics on http://%s/metrics\n", metricsLn.Addr())
		logger.Info("metrics listening", "addr", metricsLn.Addr().String())
	}

	select {
	case err := <-errc:
		srv.Close()
		if metricsSrv != nil {
			metricsSrv.Close()
		}
		stopWorker()
		<-workerDone
		return err
	case <-ctx.Done():
	}
	// A load balancer keeps sending requests until its health check sees
	// /readyz fail, and clients on keep-alive connections send theirs on
	// connections it already holds: first say not ready and close each
	// connection after its answer, while still accepting new ones; only
	// after the drain period stop listening and finish what is in flight.
	draining.Store(true)
	logger.Info("shutting down: draining (/readyz answers 503, connections close after their answer)", "drain", cfg.ShutdownDrain.String())
	if cfg.ShutdownDrain > 0 {
		drain := time.NewTimer(cfg.ShutdownDrain)
		select {
		case <-drain.C:
		case err := <-errc: // a listener failed: nothing left to drain there
			drain.Stop()
			logger.Warn("serving ended during the drain", "err", err)
		}
	}
	logger.Info("shutting down: no longer accepting connections, finishing in-flight requests", "timeout", shutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if metricsSrv != nil {
		err = errors.Join(err, metricsSrv.Shutdown(shutCtx))
	}
	stopWorker()
	<-workerDone
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// closeWhileDraining answers with "Connection: close" once draining is set,
// so that every keep-alive connection ends after its next answer and its
// client reconnects (to another instance, once the load balancer has seen
// /readyz fail). Unlike http.Server.SetKeepAlivesEnabled(false), it does
// not close idle connections at once: a request already on its way on one
// of them would be reset, and only a client that retries would recover it.
// Connections that stay idle through the drain are closed by Shutdown.
func closeWhileDraining(draining *atomic.Bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
