// Package browsertest runs GUI tests in a real, headless Chromium driven by
// github.com/chromedp/chromedp.
//
// New starts a browser for one test and returns the context of its first
// tab. The browser is found through PORTAL_TEST_CHROMIUM, /usr/bin/chromium
// or "chromium" in PATH; without one the test is skipped, unless
// PORTAL_TEST_REQUIRE_BROWSER=1, which makes it fail. Screenshot writes a
// full-page PNG into PORTAL_TEST_SCREENSHOTS (or a folder made once per test
// run under the system's temporary directory) and logs where it is;
// ScreenshotWindow writes only what the window shows.
// ExpectNewTab follows a link or form that opens a new tab.
//
//	ctx := browsertest.New(t)
//	browsertest.Do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("h1")))
//	browsertest.Screenshot(t, ctx, "start")
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// Width and Height are the size of what a tab shows (its viewport, in CSS
// pixels): a common laptop screen, the desktop size the GUI is looked at
// in. PhoneWidth and PhoneHeight are the screen of a phone held upright,
// for Phone.
const (
	Width       = 1366
	Height      = 900
	PhoneWidth  = 390
	PhoneHeight = 844
)

// Timeout bounds one browser test, so that a page that never shows what the
// test waits for fails the test instead of hanging it.
const Timeout = 2 * time.Minute

// FindChromium returns the path of the Chromium binary, or "" when there is
// none: $PORTAL_TEST_CHROMIUM, /usr/bin/chromium, or chromium in PATH.
func FindChromium() string {
	if p := os.Getenv("PORTAL_TEST_CHROMIUM"); p != "" {
		return p
	}
	if st, err := os.Stat("/usr/bin/chromium"); err == nil && !st.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// New starts a headless Chromium for t and returns the context of its
// first tab. The browser, its temporary profile and every tab close when
// the test ends. Exceptions and Content-Security-Policy violations in the
// page fail the test; other console errors are logged.
func New(t *testing.T) context.Context {
	t.Helper()
	exe := FindChromium()
	if exe == "" {
		msg := "Chromium not found (set PORTAL_TEST_CHROMIUM, or install the Debian package chromium: apt-get install chromium)"
		if os.Getenv("PORTAL_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + "; PORTAL_TEST_REQUIRE_BROWSER=1 requires it")
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("Chromium at %s: %v", exe, err)
	}

	out := &syncBuffer{}
	// Headless, and nothing that reaches out to the network by itself
	// (this machine's network is closed: background networking, component
	// updates and first-run tasks would fail or stall), plus a fresh
	// profile and the window size. No chromedp defaults.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(Width, Height),
		chromedp.CombinedOutput(out),
	)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: close the browser before removing
	// its profile (t.TempDir's cleanup was registered first).
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		if log := browserLog(out.String()); t.Failed() && log != "" {
			t.Logf("Chromium output:\n%s", tail(log, 4000))
		}
	})
	// The first action starts the browser and binds its life to ctx, which
	// has no deadline; the returned context adds one for the test's steps.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v\n%s", exe, err, tail(browserLog(out.String()), 4000))
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	t.Cleanup(cancel)
	Desktop(t, ctx)
	watchConsole(t, ctx)
	return ctx
}

// Desktop makes what the tab of ctx shows Width×Height CSS pixels. The
// window alone does not: headless Chromium takes the height of its tab
// strip and toolbar from it.
func Desktop(t testing.TB, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(Width, Height)); err != nil {
		t.Fatalf("browser: the desktop size: %v", err)
	}
}

// Do runs browser actions in order and fails the test at the first error.
// It starts once the page in the tab has finished loading (Ready), so that
// an action after a click that navigated does not run on the page being
// replaced.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	Ready(t, ctx)
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v (at %s)", err, location(ctx))
	}
}

// readyWait bounds the wait for a page to load, and for a read to find a
// document that is not being replaced.
const readyWait = 30 * time.Second

// Ready waits until the tab's document has finished loading
// (document.readyState is "complete"). A navigation in progress replaces
// the document, which makes the check itself fail for a moment: those
// errors are waited out too.
func Ready(t testing.TB, ctx context.Context) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState`))
		if err == nil && state == "complete" {
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("browser: the page did not finish loading within %s (state %q, %v; at %s)", readyWait, state, err, location(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transient reports whether err comes from reading a document that a
// navigation replaced meanwhile: the read is worth trying again on the new one.
func transient(err error) bool {
	msg := err.Error()
	for _, s := range []string{"No node with given id found", "Cannot find context with specified id",
		"Execution context was destroyed", "Could not find node with given id", "Node is detached from document",
		"Inspected target navigated or closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Get runs one browser action that returns a value, failing the test on
// error. It reads a page that has finished loading (Ready), and reads again
// when a navigation replaced the document during the read (transient).
func Get[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		Ready(t, ctx)
		v, err := chromedp.Run(ctx, a)
		if err == nil {
			return v
		}
		if !transient(err) || ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("browser: %v (at %s)", err, location(ctx))
		}
	}
}

// location is the URL of the tab, for error messages.
func location(ctx context.Context) string {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(c, chromedp.Location())
	if err != nil {
		return "unknown page"
	}
	return u
}

// watchConsole fails the test on an uncaught exception or a
// Content-Security-Policy violation in the tab of ctx, and logs the other
// console errors (such as the failed load of a 4xx page).
func watchConsole(t *testing.T, ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			switch {
			case m.IsException(), strings.Contains(m.Text, "Content Security Policy"), m.Source == "security":
				t.Errorf("browser console (%s): %s", m.URL, m.String())
			case m.Type == chromedp.ConsoleError:
				t.Logf("browser console (%s): %s", m.URL, m.String())
			}
		}
	}()
}

// ExpectNewTab prepares for an action of the tab of ctx that opens a new
// tab (a link or form with target="_blank", window.open). Call it before
// the action; the returned func waits for the new tab and returns a
// context for it, which closes at the end of the test.
func ExpectNewTab(t *testing.T, ctx context.Context) (wait func() context.Context) {
	t.Helper()
	ch := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	return func() context.Context {
		t.Helper()
		select {
		case id, ok := <-ch:
			if !ok {
				t.Fatal("browser: waiting for a new tab: the tab that should open it is gone")
			}
			tab, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
			t.Cleanup(cancel)
			Do(t, tab) // attach
			Desktop(t, tab)
			watchConsole(t, tab)
			return tab
		case <-time.After(15 * time.Second):
			t.Fatal("browser: no new tab opened within 15s")
		case <-ctx.Done():
			t.Fatalf("browser: waiting for a new tab: %v", ctx.Err())
		}
		return nil
	}
}

// Tabs lists the open tabs (page targets) of the browser of ctx.
func Tabs(t testing.TB, ctx context.Context) []*target.Info {
	t.Helper()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatalf("browser: list tabs: %v", err)
	}
	var pages []*target.Info
	for _, in := range infos {
		if in.Type == "page" {
			pages = append(pages, in)
		}
	}
	return pages
}

// AnswerDialogs answers every JavaScript dialog (alert, confirm, prompt)
// of the tab of ctx from now on, accepting it or not, and sends its message
// on the returned channel (which keeps the last 16 unread).
func AnswerDialogs(t testing.TB, ctx context.Context, accept bool) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	opened := chromedp.Events(ctx, page.JavascriptDialogOpening)
	msgs := make(chan string, 16)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ev, err := range opened {
			if err != nil {
				return
			}
			select {
			case msgs <- ev.Message:
			default:
			}
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept}); err != nil && ctx.Err() == nil {
				t.Errorf("browser: answer dialog %q: %v", ev.Message, err)
			}
		}
	}()
	return msgs
}

var shots struct {
	once sync.Once
	dir  string
	err  error
	mu   sync.Mutex
	seq  map[string]int // per test, to keep the files in step order
}

// ScreenshotDir returns the folder for screenshots: $PORTAL_TEST_SCREENSHOTS,
// or a folder made once per test run under os.TempDir().
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	shots.once.Do(func() {
		if d := os.Getenv("PORTAL_TEST_SCREENSHOTS"); d != "" {
			shots.dir, shots.err = d, os.MkdirAll(d, 0o755)
			return
		}
		shots.dir, shots.err = os.MkdirTemp("", "portal-screenshots-"+time.Now().Format("20060102-150405")+"-")
	})
	if shots.err != nil {
		t.Fatalf("screenshot folder: %v", shots.err)
	}
	return shots.dir
}

// Screenshot writes a full-page PNG of the tab of ctx as
// <test>-<nn>-<name>.png in ScreenshotDir, and logs the folder with the
// test's first screenshot.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	screenshot(t, ctx, name, chromedp.FullScreenshot(100))
}

// ScreenshotWindow is Screenshot of what the window shows, where the page
// is scrolled to: what the user sees.
func ScreenshotWindow(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	screenshot(t, ctx, name, chromedp.CaptureScreenshot())
}

func screenshot(t testing.TB, ctx context.Context, name string, capture chromedp.Action[[]byte]) {
	t.Helper()
	dir := ScreenshotDir(t)
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	test := safeName(t.Name())
	shots.mu.Lock()
	if shots.seq == nil {
		shots.seq = map[string]int{}
	}
	shots.seq[test]++
	n := shots.seq[test]
	shots.mu.Unlock()
	file := filepath.Join(dir, fmt.Sprintf("%s-%02d-%s.png", test, n, safeName(name)))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if n == 1 {
		t.Logf("screenshots: %s", dir)
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// browserLog drops Chromium's complaints about the missing D-Bus of a
// container, which drown everything else.
func browserLog(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.Contains(line, "dbus/") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

// WaitText waits until an element that matches the CSS selector sel shows
// text containing want, across page loads, and fails the test with what the
// page shows instead. It compares with the rendered text (innerText: table
// cells apart, CSS capitals) and with the text of the HTML (textContent),
// each with its white space collapsed.
func WaitText(t testing.TB, ctx context.Context, sel, want string) {
	t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%s), e => [e.innerText, e.textContent].map(s => s.replace(/\s+/g, " ").trim()).join(" | "))`, jsString(sel))
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
		if err == nil {
			got = texts
			for _, s := range texts {
				if strings.Contains(s, want) {
					return
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("browser: waited 10s for %q to show %q; it shows %q (at %s)", sel, want, got, location(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitLocation waits until the URL of the tab satisfies ok and returns it.
func WaitLocation(t testing.TB, ctx context.Context, what string, ok func(url string) bool) string {
	t.Helper()
	var u string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			if u = loc; ok(u) {
				return u
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("browser: waited 10s for the tab to show %s; it is at %q", what, u)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return `"` + r.Replace(s) + `"`
}

// WaitTrue waits until the JavaScript expression js is true in the tab of
// ctx, across page loads; what says what it means, for the failure.
func WaitTrue(t testing.TB, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")")); err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("browser: waited 10s for %s (%s) (at %s)", what, js, location(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Phone makes the tab of ctx a phone screen width×height CSS pixels wide
// (mobile, with touch) until the returned func gives it the desktop size
// again.
func Phone(t testing.TB, ctx context.Context, width, height int64) (restore func()) {
	t.Helper()
	Do(t, ctx, chromedp.EmulateViewport(width, height, chromedp.EmulateMobile))
	return func() {
		t.Helper()
		if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			t.Fatalf("browser: clear the phone emulation: %v", err)
		}
		if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: false}); err != nil {
			t.Fatalf("browser: clear the touch emulation: %v", err)
		}
		Desktop(t, ctx)
	}
}
