package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserInventory: Organization ▸ Inventory shows MAC addresses in
// the viewer's format (the preference changed, the page reloaded, the new
// format shown), searches by MAC in another format and case, renames and
// removes a device in the product's dialogs, and uploads a CSV file whose
// bad rows are reported while its good rows are added.
func TestBrowserInventory(t *testing.T) {
	b := newAccountBrowser(t)
	ann, org, hq, _ := adminsSetup(b)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	r := b.st.Do(t, ann, "POST", "/api/v1/orgs/"+org+"/inventory/devices", map[string]any{"devices": []any{
		map[string]any{"serial": "S100", "mac": "AA:BB:CC:00:00:01", "name": "Lobby AP", "model": "AP45", "site_id": hq},
		map[string]any{"serial": "S200", "mac": "aa:bb:cc:00:00:02", "name": "Hall AP", "model": "AP45"},
	}})
	if r.Status != 200 || r.JSON(t)["added"] != 2.0 {
		t.Fatalf("add devices: %d %s", r.Status, r.Body)
	}

	r = b.st.Do(t, ann, "POST", "/api/v1/orgs/"+org+"/events", map[string]any{"events": []any{map[string]any{"serial": "S100", "type": "config_changed", "text": "vlan 20 added"}}})
	if r.Status != 200 || r.JSON(t)["accepted"] != 1.0 {
		t.Fatalf("event: %d %s", r.Status, r.Body)
	}

	b.login("ann@example.com", browserAdminPassword, false)
	b.text("h1", "Acme")
	b.do(chromedp.Click(css(`.sidenav a[href$="/inventory"]`)))
	b.text("h1", "Inventory")
	b.text("#devices-title", "Devices (2)")
	b.text("table.inventory tbody tr:first-child .devmac", "aa:bb:cc:00:00:02")
	b.text("table.inventory tbody tr:last-child .devmac", "aa:bb:cc:00:00:01")
	b.text("table.inventory tbody tr:last-child .devsite", "HQ")
	b.text("table.inventory tbody tr:last-child .devstatus", "Connected")
	b.text("table.inventory tbody tr:first-child .devstatus", "Disconnected")
	b.text("#inv-events", "config_changed")
	b.shot("inventory")

	// The MAC preference changes what the page shows.
	if r := b.st.Do(t, ann, "PUT", "/api/v1/self", map[string]any{"mac_format": "xxxx.xxxx.xxxx"}); r.Status != 200 {
		t.Fatalf("set MAC format: %d %s", r.Status, r.Body)
	}
	b.do(chromedp.Reload())
	b.text("table.inventory tbody tr:last-child .devmac", "aabb.cc00.0001")
	b.text(".pagehead .muted", "xxxx.xxxx.xxxx")
	b.text("#inv-events", "aabb.cc00.0001")

	// Search with the dash format in upper case.
	b.do(chromedp.SendKeys(css("#inv-q"), "AA-BB-CC-00-00-01"), chromedp.Click(css("#inv-filters button[type=submit]")))
	b.text("#devices-title", "Devices (1)")
	b.text("table.inventory tbody tr .devserial", "S100")

	// Rename in the dialog.
	b.do(chromedp.Click(css(`table.inventory tbody tr button[data-dialog="rename-device-dialog"]`)), chromedp.WaitVisible(css("#rename-device-dialog")))
	b.text("#rename-device-title", "Rename Device S100")
	if got := b.value("#dlg-dev-name"); got != "Lobby AP" {
		t.Errorf("rename dialog shows %q", got)
	}
	b.do(chromedp.SetValue(css("#dlg-dev-name"), "Front Desk"))
	b.do(chromedp.Click(css(`#rename-device-dialog button[type=submit]`)))
	b.text(".flash.ok", "Device S100 renamed.")
	b.text("table.inventory", "Front Desk")

	// Remove in the dialog: Cancel keeps it, Remove removes it.
	b.text("table.inventory tbody tr:last-child .devserial", "S200") // Front Desk, Hall AP
	remove := css(`table.inventory tbody tr:last-child button[data-dialog="remove-device-dialog"]`)
	b.do(chromedp.Click(remove), chromedp.WaitVisible(css("#remove-device-dialog")))
	b.text("#remove-device-title", "Remove Device S200?")
	b.do(chromedp.Click(css(`#remove-device-dialog button[data-close]`)), chromedp.WaitNotVisible(css("#remove-device-dialog")))
	b.do(chromedp.Click(remove), chromedp.WaitVisible(css("#remove-device-dialog")), chromedp.Click(css(`#remove-device-dialog button[type=submit]`)))
	b.text(".flash.ok", "Device removed.")
	b.text("#devices-title", "Devices (1)")

	// The add form: a malformed MAC is refused with its reason, what was
	// typed kept; then added.
	b.do(chromedp.SendKeys(css("#dev-serial"), "S600"), chromedp.SendKeys(css("#dev-mac"), "aa:bb:cc:00:00"),
		chromedp.SendKeys(css("#dev-name"), "Attic AP"), chromedp.Click(css("#add-device-form button[type=submit]")))
	b.text(".flash.error", `"aa:bb:cc:00:00" is not a MAC address`)
	if got := b.value("#dev-serial"); got != "S600" {
		t.Errorf("after the refusal the serial field holds %q", got)
	}
	b.replace("#dev-mac", "AA-BB-CC-00-00-07")
	b.do(chromedp.Click(css("#add-device-form button[type=submit]")))
	b.text(".flash.ok", "Device S600 added.")
	b.text("#devices-title", "Devices (2)")

	// A CSV file: good rows added, bad ones reported with their reason.
	file := filepath.Join(t.TempDir(), "devices.csv")
	csv := strings.Join([]string{"serial,mac,name,site", "S300,aa-bb-cc-00-00-03,Store AP,HQ", "S400,zz:zz,Bad MAC,HQ", "S100,aa:bb:cc:00:00:05,Dup,HQ", "S500,aa:bb:cc:00:00:06,Lost,Mars"}, "\n")
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.SetUploadFiles(css("#csv-file"), []string{file}), chromedp.Click(css("#csv-form button[type=submit]")))
	b.text(".flash.ok", "1 of 4 devices added. 3 rows were not added")
	b.text("#csv-report", "is not a MAC address")
	b.text("#csv-report", "serial S100 is already in the inventory")
	b.text("#csv-report", `unknown site "Mars"`)
	b.text("#devices-title", "Devices (3)")
	b.text("table.inventory", "aabb.cc00.0003")
	b.shot("inventory-csv-report")
	b.noSidewaysScroll("inventory")
}
