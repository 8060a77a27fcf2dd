package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func testSiteCRUD(t *testing.T, db *store.DB) {
	ctx := context.Background()
	o := mkOrg(t, db, "Acme", 600)
	s := mkSite(t, db, o.ID, "headquarters")
	got, err := db.GetSite(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("GetSite = %+v\nwant %+v", got, s)
	}
	s.Name, s.Timezone, s.CountryCode, s.Address, s.Notes, s.ModifiedTime = "hq", "America/New_York", "US", "5th Avenue", "", t0.Add(time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.UpdateSite(ctx, s) })
	if got, err = db.GetSite(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("GetSite after update = %+v\nwant %+v", got, s)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateSite(ctx, &portal.Site{ID: newID(), Name: "x"}) })
	wantCode(t, "UpdateSite(unknown)", err, portal.ENOTFOUND)

	// A site needs an existing organization (foreign keys are enforced).
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateSite(ctx, &portal.Site{ID: newID(), OrgID: newID(), Name: "orphan", CreatedTime: t0, ModifiedTime: t0})
	})
	if err == nil {
		t.Fatal("CreateSite with an unknown organization succeeded: foreign keys are not enforced")
	}
	if errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateSite with an unknown organization: %v, which is not a duplicate", err)
	}

	write(t, db, func(tx *store.Tx) error { return tx.DeleteSite(ctx, s.ID) })
	_, err = db.GetSite(ctx, s.ID)
	wantCode(t, "GetSite(deleted)", err, portal.ENOTFOUND)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSite(ctx, s.ID) })
	wantCode(t, "DeleteSite(deleted)", err, portal.ENOTFOUND)
}

func testListSites(t *testing.T, db *store.DB) {
	ctx := context.Background()
	a := mkOrg(t, db, "A", 600)
	b := mkOrg(t, db, "B", 600)
	names := []string{"site-01", "site-02", "site-03", "site-04", "site-05", "site-06", "site-07"}
	shuffled := append([]string(nil), names...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, n := range shuffled {
		mkSite(t, db, a.ID, n)
	}
	mkSite(t, db, b.ID, "site-00") // another organization's: never listed for a

	var all []string
	for page := 1; page <= 4; page++ {
		got, total, err := db.ListSites(ctx, a.ID, portal.Page{Limit: 3, Page: page})
		if err != nil {
			t.Fatal(err)
		}
		if total != len(names) {
			t.Errorf("page %d: total = %d, want %d", page, total, len(names))
		}
		wantLen := min(3, max(0, len(names)-(page-1)*3))
		if len(got) != wantLen {
			t.Errorf("page %d: %d sites, want %d", page, len(got), wantLen)
		}
		for _, s := range got {
			if s.OrgID != a.ID {
				t.Errorf("page %d: site %s of organization %s", page, s.Name, s.OrgID)
			}
			all = append(all, s.Name)
		}
	}
	if !reflect.DeepEqual(all, names) {
		t.Fatalf("sites over all pages = %v, want %v", all, names)
	}

	// Equal names are ordered by id, so pages never overlap.
	c := mkOrg(t, db, "C", 600)
	var ids []string
	for range 4 {
		ids = append(ids, mkSite(t, db, c.ID, "same").ID)
	}
	slices.Sort(ids)
	var gotIDs []string
	for page := 1; page <= 2; page++ {
		got, total, err := db.ListSites(ctx, c.ID, portal.Page{Limit: 2, Page: page})
		if err != nil {
			t.Fatal(err)
		}
		if total != 4 {
			t.Errorf("total = %d, want 4", total)
		}
		for _, s := range got {
			gotIDs = append(gotIDs, s.ID)
		}
	}
	if !reflect.DeepEqual(gotIDs, ids) {
		t.Fatalf("equal names listed as %v, want by id %v", gotIDs, ids)
	}

	got, total, err := db.ListSites(ctx, newID(), portal.Page{Limit: 10, Page: 1})
	if err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("ListSites(unknown org) = %v, %d, %v; want nothing", got, total, err)
	}
}
