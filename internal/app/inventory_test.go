package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestInventoryCSV: a CSV file with malformed MACs, duplicate serials,
// unknown sites and a broken row keeps its good rows and reports each bad
// one with its line and reason; 10,001 rows are refused whole with a
// clear message and add nothing; on both databases.
func TestInventoryCSV(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, testStart, nil)
		ann := &app.Actor{User: ts.addUsers(t, "correct horse 1", "ann@example.com")[0], Session: &portal.Session{ID: uuid.NewString()}, IP: "192.0.2.1"}
		org, err := ts.svc.CreateOrg(ctx, ann, app.OrgInput{Name: ptrOf("Acme")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.svc.CreateSite(ctx, ann, org.ID, app.SiteInput{Name: ptrOf("HQ")}); err != nil {
			t.Fatal(err)
		}
		csv := strings.Join([]string{
			"Serial,MAC,Name,Model,Site",
			"S1,aa:bb:cc:00:00:01,Lobby,AP45,hq",
			"S2,AABB.CC00.0002,Hall,AP45,",
			"S3,not-a-mac,Bad,AP45,HQ",
			"s1,aa:bb:cc:00:00:04,Dup,AP45,HQ",
			"S5,aa:bb:cc:00:00:05,Lost,AP45,Mars",
			`S6,"aa:bb:cc:00:00:06,Broken`,
			"",
		}, "\n")
		rep, err := ts.svc.AddDevicesCSV(ctx, ann, org.ID, strings.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 6 || rep.Added != 2 || len(rep.Bad) != 4 {
			t.Fatalf("report: %+v", rep)
		}
		want := []struct {
			line int
			says string
		}{{4, "is not a MAC address"}, {5, "serial S1 is also in line 2"}, {6, `unknown site "Mars"`}, {7, "MAC address"}}
		for i, w := range want {
			if b := rep.Bad[i]; b.Line != w.line || !strings.Contains(b.Error, w.says) {
				t.Errorf("bad row %d: %+v, want line %d saying %q", i, b, w.line, w.says)
			}
		}
		// Again: every row is already there (or still bad).
		rep, err = ts.svc.AddDevicesCSV(ctx, ann, org.ID, strings.NewReader(csv))
		if err != nil || rep.Added != 0 || !strings.Contains(rep.Bad[0].Error, "is already in the inventory") {
			t.Errorf("second upload: %+v %v", rep, err)
		}

		var b strings.Builder
		b.WriteString("serial,mac\n")
		for i := range 10001 {
			fmt.Fprintf(&b, "M%05d,02:00:00:00:%02x:%02x\n", i, i>>8, i&255)
		}
		_, err = ts.svc.AddDevicesCSV(ctx, ann, org.ID, strings.NewReader(b.String()))
		if portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), "the file has 10001 rows: at most 10000") {
			t.Errorf("10,001 rows: %v", err)
		}
		_, total, err := ts.svc.ListDevices(ctx, ann, org.ID, app.DeviceFilter{Page: portal.Page{Limit: 10, Page: 1}})
		if err != nil || total != 2 {
			t.Errorf("after the refused file: %d devices, %v", total, err)
		}
		// Without the column line: refused.
		if _, err := ts.svc.AddDevicesCSV(ctx, ann, org.ID, strings.NewReader("S9,aa:bb:cc:00:00:09\n")); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("no header: %v", err)
		}
		// 10,000 rows are taken.
		b.Reset()
		b.WriteString("serial,mac\n")
		for i := range 10000 {
			fmt.Fprintf(&b, "M%05d,02:00:00:00:%02x:%02x\n", i, i>>8, i&255)
		}
		rep, err = ts.svc.AddDevicesCSV(ctx, ann, org.ID, strings.NewReader(b.String()))
		if err != nil || rep.Added != 10000 {
			t.Errorf("10,000 rows: %+v %v", rep, err)
		}
	})
}

// TestCleanupLoopDisconnectsSilentDevices: the clean-up loop (RunCleanup)
// marks a device silent for the device timeout disconnected, with its
// device_down event; with the injected clock, on both databases.
func TestCleanupLoopDisconnectsSilentDevices(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, testStart, nil)
		ann := &app.Actor{User: ts.addUsers(t, "correct horse 1", "ann@example.com")[0], Session: &portal.Session{ID: uuid.NewString()}, IP: "192.0.2.1"}
		org, err := ts.svc.CreateOrg(ctx, ann, app.OrgInput{Name: ptrOf("Acme")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.svc.AddDevices(ctx, ann, org.ID, []app.DeviceInput{{Serial: "S1", MAC: "02:00:00:00:00:01"}}); err != nil {
			t.Fatal(err)
		}
		res, err := ts.svc.IngestEvents(ctx, ann, org.ID, []app.EventInput{{Serial: "S1", Type: "config_changed"}})
		if err != nil || res[0].Error != "" {
			t.Fatalf("event: %v %v", res, err)
		}
		connected := func() int {
			_, n, err := ts.svc.ListDevices(ctx, ann, org.ID, app.DeviceFilter{Status: "connected", Page: portal.Page{Limit: 10, Page: 1}})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if connected() != 1 {
			t.Fatal("the device is not connected after its event")
		}
		ts.clock.Advance(app.DefaultDeviceTimeout + time.Minute)
		loop, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); ts.svc.RunCleanup(loop, time.Hour) }()
		defer func() { stop(); <-done }()
		// The loop's first round runs at once; wait for its outcome.
		deadline := time.After(10 * time.Second)
		poll := time.NewTicker(20 * time.Millisecond)
		defer poll.Stop()
		for connected() != 0 {
			select {
			case <-deadline:
				t.Fatal("the clean-up loop did not mark the silent device disconnected within 10s")
			case <-poll.C: // look again
			}
		}
		evs, _, err := ts.svc.ListEvents(ctx, ann, org.ID, "", portal.Page{Limit: 10, Page: 1})
		if err != nil || len(evs) == 0 || evs[0].Type != app.EventDeviceDown {
			t.Errorf("events after silence: %v %v", evs, err)
		}
	})
}
