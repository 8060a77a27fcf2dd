package server

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
)

// Organization ▸ Inventory (app/inventory.go): the devices the viewer may
// see, MACs and times in the viewer's preferences, with filters, search,
// pages, an add form, a CSV upload with a report of its bad rows, and
// rename, assign and remove in the product's dialogs.

const inventoryPageSize = 50

type inventoryView struct {
	Org      *portal.Org
	Devices  []*store.Device
	Total    int
	Sites    []*portal.Site // the sites the viewer sees
	Filter   url.Values
	First    int
	Last     int
	Prev     string // address of the previous page, "" on the first
	Next     string // and of the next, "" on the last
	CanAdd   bool   // may add devices somewhere
	Report   *app.CSVReport
	Events   []*store.DeviceEvent // the latest events of the devices the viewer sees
	perms    app.Permissions
	siteName map[string]string
}

// SiteName is the name of a device's site ("" when unassigned).
func (iv *inventoryView) SiteName(id string) string { return iv.siteName[id] }

// CanManage reports whether the viewer may change a device of the site.
func (iv *inventoryView) CanManage(siteID string) bool {
	return iv.perms.Can(app.ActManageInventory, siteID)
}

// AddSites are the sites the viewer may add devices to.
func (iv *inventoryView) AddSites() []*portal.Site {
	var out []*portal.Site
	for _, s := range iv.Sites {
		if iv.CanManage(s.ID) {
			out = append(out, s)
		}
	}
	return out
}

func (s *server) webInventory(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderInventory(w, r, v, a, http.StatusOK, nil)
}

func (s *server) renderInventory(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int, report *app.CSVReport) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	o, err := s.svc.GetOrg(r.Context(), a, id)
	if err != nil {
		return err
	}
	perms, err := s.svc.Permissions(r.Context(), a, id)
	if err != nil {
		return err
	}
	sites, _, err := s.svc.ListSites(r.Context(), a, id, portal.Page{Limit: portal.MaxPageLimit, Page: 1})
	if err != nil {
		return err
	}
	iv := &inventoryView{Org: o, Sites: sites, perms: perms, siteName: map[string]string{}, Filter: url.Values{}, Report: report}
	for _, site := range sites {
		iv.siteName[site.ID] = site.Name
	}
	iv.CanAdd = perms.Can(app.ActManageInventory, "") || len(iv.AddSites()) > 0
	q := r.URL.Query()
	for _, k := range []string{"site_id", "status", "q"} {
		if x := strings.TrimSpace(q.Get(k)); x != "" {
			iv.Filter.Set(k, x)
		}
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	f := app.DeviceFilter{Status: iv.Filter.Get("status"), Search: iv.Filter.Get("q"), Page: portal.Page{Limit: inventoryPageSize, Page: page}}
	if site := iv.Filter.Get("site_id"); site != "" {
		if _, ok := iv.siteName[site]; !ok {
			iv.Filter.Del("site_id") // a site gone or not the viewer's: all
		} else {
			f.SiteID = site
		}
	}
	v.Title, v.CurrentOrg = "Inventory · "+o.Name, o.ID
	devices, total, err := s.svc.ListDevices(r.Context(), a, id, f)
	switch {
	case err != nil && portal.ErrorCode(err) == portal.EINVALID:
		if v.Error == "" {
			v.Error = sentence(portal.ErrorMessage(err))
		}
		status = http.StatusBadRequest
	case err != nil:
		return err
	default:
		iv.Devices, iv.Total = devices, total
		iv.First, iv.Last = (page-1)*inventoryPageSize+1, (page-1)*inventoryPageSize+len(devices)
		base := "/orgs/" + url.PathEscape(id) + "/inventory?"
		link := func(p int) string {
			nv := url.Values{}
			for k := range iv.Filter {
				nv.Set(k, iv.Filter.Get(k))
			}
			if p > 1 {
				nv.Set("page", strconv.Itoa(p))
			}
			return base + nv.Encode()
		}
		if page > 1 {
			iv.Prev = link(page - 1)
		}
		if iv.Last < total {
			iv.Next = link(page + 1)
		}
	}
	if iv.Events, _, err = s.svc.ListEvents(r.Context(), a, id, "", portal.Page{Limit: 10, Page: 1}); err != nil {
		return err
	}
	v.Data = iv
	s.render(w, r, status, "inventory", v)
	return nil
}

// inventoryError shows the page again with err (a 4xx) and what was typed.
func (s *server) inventoryError(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, err error) error {
	return s.reshow(w, r, v, err, func(status int) error {
		return s.renderInventory(w, r, v, a, status, nil)
	}, portal.ENOTFOUND)
}

func inventoryPath(orgID string) string { return "/orgs/" + url.PathEscape(orgID) + "/inventory" }

func (s *server) webAddDevice(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	f := r.PostForm
	res, err := s.svc.AddDevices(r.Context(), a, id, []app.DeviceInput{{Name: f.Get("name"), Model: f.Get("model"), Serial: f.Get("serial"), MAC: f.Get("mac"), Site: f.Get("site_id")}})
	if err == nil && res[0].Error != "" {
		err = portal.Errorf(portal.EINVALID, "%s", res[0].Error)
	}
	if err != nil {
		return s.inventoryError(w, r, v, a, err)
	}
	s.flash(w, "Device "+res[0].Device.Serial+" added.")
	http.Redirect(w, r, inventoryPath(id), http.StatusSeeOther)
	return nil
}

func (s *server) webUploadDevices(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var file io.Reader
	if r.MultipartForm != nil {
		if fh := r.MultipartForm.File["file"]; len(fh) > 0 {
			f, err := fh[0].Open()
			if err != nil {
				return err
			}
			defer f.Close()
			file = f
		}
	}
	if file == nil {
		return s.inventoryError(w, r, v, a, portal.Errorf(portal.EINVALID, "choose a CSV file to upload"))
	}
	rep, err := s.svc.AddDevicesCSV(r.Context(), a, id, file)
	if err != nil {
		return s.inventoryError(w, r, v, a, err)
	}
	v.Flash = strconv.Itoa(rep.Added) + " of " + strconv.Itoa(rep.Rows) + " devices added."
	if len(rep.Bad) > 0 {
		v.Flash += " " + strconv.Itoa(len(rep.Bad)) + " rows were not added: see the report below."
	}
	return s.renderInventory(w, r, v, a, http.StatusOK, rep)
}

// deviceForm reads the org and device of a device's form.
func deviceForm(r *http.Request) (orgID, deviceID string, err error) {
	if orgID, err = pathID(r, "org_id", "organization"); err != nil {
		return "", "", err
	}
	deviceID, err = pathID(r, "device_id", "device")
	return orgID, deviceID, err
}

func (s *server) webRenameDevice(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, deviceID, err := deviceForm(r)
	if err != nil {
		return err
	}
	d, err := s.svc.RenameDevice(r.Context(), a, orgID, deviceID, r.PostForm.Get("name"))
	if err != nil {
		return s.inventoryError(w, r, v, a, err)
	}
	s.flash(w, "Device "+d.Serial+" renamed.")
	http.Redirect(w, r, inventoryPath(orgID), http.StatusSeeOther)
	return nil
}

func (s *server) webAssignDevice(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	mac := r.PostForm.Get("mac")
	siteID := r.PostForm.Get("site_id")
	op := "assign"
	if siteID == "" {
		op = "unassign"
	} else if siteID, err = parseID(siteID, "site"); err != nil {
		return s.inventoryError(w, r, v, a, err)
	}
	res, err := s.svc.AssignDevices(r.Context(), a, orgID, op, siteID, []string{mac})
	if err == nil && len(res.Reason) > 0 {
		err = portal.Errorf(portal.EINVALID, "%s", res.Reason[0])
	}
	if err != nil {
		return s.inventoryError(w, r, v, a, err)
	}
	if op == "assign" {
		s.flash(w, "Device assigned to its new site.")
	} else {
		s.flash(w, "Device taken off its site.")
	}
	http.Redirect(w, r, inventoryPath(orgID), http.StatusSeeOther)
	return nil
}

func (s *server) webRemoveDevice(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, deviceID, err := deviceForm(r)
	if err != nil {
		return err
	}
	if err := s.svc.RemoveDevice(r.Context(), a, orgID, deviceID); err != nil {
		return s.inventoryError(w, r, v, a, err)
	}
	s.flash(w, "Device removed.")
	http.Redirect(w, r, inventoryPath(orgID), http.StatusSeeOther)
	return nil
}
