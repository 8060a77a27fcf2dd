package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"portal/internal/store"
)

var deviceSeq atomic.Int64

// newDevice adds a device to the fixture's site (a new one at each call),
// for the inventory rows of the role × route table.
func (f *fixture) newDevice(t *testing.T) *store.Device {
	n := deviceSeq.Add(1)
	now := f.st.Clock.Now()
	d := &store.Device{ID: uuid.NewString(), OrgID: f.org.ID, SiteID: f.site.ID, Name: "AP", Model: "AP45",
		Serial: fmt.Sprintf("FIX%08d", n), MAC: fmt.Sprintf("0a00%08x", n), Status: store.DeviceDisconnected, Created: now, Modified: now}
	err := f.st.DB.Write(context.Background(), func(tx *store.Tx) error { return tx.CreateDevice(context.Background(), d) })
	if err != nil {
		if t != nil {
			t.Fatalf("fixture device: %v", err)
		}
		panic(err)
	}
	return d
}
