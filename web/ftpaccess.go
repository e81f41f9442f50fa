package web

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// ftpAccessHandler is the customer admin's FTPS/SFTP login, page and API (web/ftpd serves the
// files).
type ftpAccessHandler struct {
	store *models.Store
	views views
	// The addresses clients use (empty: off) and the SFTP host key's fingerprint.
	ftpAddr, sftpAddr, sftpFingerprint string
}

// ftpAccessProps gathers what the page shows for the admin's own customer.
func (h *ftpAccessHandler) ftpAccessProps(c echo.Context) (templates.FTPLoginProps, error) {
	a := actorOf(c) // a customer admin: the page is the customer's own, the platform admin uses the API
	ctx := c.Request().Context()
	cust, err := h.store.Customer(ctx, a, a.CustomerID)
	if err != nil {
		return templates.FTPLoginProps{}, err
	}
	booked, err := h.store.HasFTPAccess(ctx, cust.ID)
	if err != nil {
		return templates.FTPLoginProps{}, err
	}
	p := templates.FTPLoginProps{
		Page: h.views.page(c, "ftp.title", "ftp"), Booked: booked, Folder: "call_recording/" + cust.SubscriberID,
		FTPAddr: displayAddr(h.ftpAddr, c.Request().Host), SFTPAddr: displayAddr(h.sftpAddr, c.Request().Host),
		Fingerprint: h.sftpFingerprint,
		Username:    models.DefaultFTPUsername(cust.SubscriberID),
	}
	cred, err := h.store.FTPCredentials(ctx, a, cust.ID)
	switch {
	case err == nil:
		p.Username, p.SetBy, p.UpdatedAt = cred.Username, cred.SetBy, cred.UpdatedAt.In(cust.Location())
	case err != models.ErrNotFound:
		return templates.FTPLoginProps{}, err
	}
	p.IsSet = err == nil
	return p, nil
}

func (h *ftpAccessHandler) ftpAccessPage(c echo.Context) error {
	p, err := h.ftpAccessProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.FTPLogin(p))
}

func (h *ftpAccessHandler) ftpAccessSave(c echo.Context) error {
	p, err := h.ftpAccessProps(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	in := models.FTPCredentialsInput{Username: c.FormValue("username"), Password: c.FormValue("password")}
	if _, _, err := h.store.SetFTPCredentials(c.Request().Context(), a, c.RealIP(), a.CustomerID, in); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		p.Username, p.Errors = in.Username, errs
		return render(c, http.StatusUnprocessableEntity, templates.FTPLogin(p))
	}
	h.views.flash(c, "ftp.flash.saved")
	return redirect(c, "/ftp-access")
}

type ftpCredentialsJSON struct {
	CustomerID uint       `json:"customer_id"`
	Booked     bool       `json:"booked"`
	Folder     string     `json:"folder"`
	Set        bool       `json:"set"`
	Username   string     `json:"username"`
	SetBy      string     `json:"set_by,omitempty"`
	UpdatedAt  *time.Time `json:"updated_at,omitempty"`
}

func (h *ftpAccessHandler) ftpCredentialsJSON(ctx context.Context, a models.Actor, cid uint) (ftpCredentialsJSON, error) {
	cust, err := h.store.Customer(ctx, a, cid)
	if err != nil {
		return ftpCredentialsJSON{}, err
	}
	booked, err := h.store.HasFTPAccess(ctx, cid)
	if err != nil {
		return ftpCredentialsJSON{}, err
	}
	out := ftpCredentialsJSON{CustomerID: cid, Booked: booked, Folder: "call_recording/" + cust.SubscriberID,
		Username: models.DefaultFTPUsername(cust.SubscriberID)}
	cred, err := h.store.FTPCredentials(ctx, a, cid)
	switch {
	case err == nil:
		at := cred.UpdatedAt.UTC()
		out.Set, out.Username, out.SetBy, out.UpdatedAt = true, cred.Username, cred.SetBy, &at
	case err != models.ErrNotFound:
		return ftpCredentialsJSON{}, err
	}
	return out, nil
}

func (h *ftpAccessHandler) apiFTPCredentials(c echo.Context) error {
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	out, err := h.ftpCredentialsJSON(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (h *ftpAccessHandler) apiFTPCredentialsSet(c echo.Context) error {
	a := actorOf(c)
	cid, err := apiCustomer(c, h.store, true)
	if err != nil {
		return err
	}
	var in struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if isTooLarge(err) {
			return models.ErrTooLarge
		}
		return models.ErrBadRequest.With("the body must be a JSON object with username and password")
	}
	switch {
	case in.Username == nil:
		return models.ValidationError{{Field: "username", Err: models.ErrRequired}}
	case in.Password == nil:
		return models.ValidationError{{Field: "password", Err: models.ErrRequired}}
	}
	ctx := c.Request().Context()
	_, created, err := h.store.SetFTPCredentials(ctx, a, c.RealIP(), cid, models.FTPCredentialsInput{Username: *in.Username, Password: *in.Password})
	if err != nil {
		return err
	}
	out, err := h.ftpCredentialsJSON(ctx, a, cid)
	if err != nil {
		return err
	}
	return c.JSON(upsertStatus(created), out)
}

// displayAddr shows a listen address the way a customer can use it: a wildcard host (":2121",
// "0.0.0.0:2121", "[::]:2121") becomes the host name the browser used for the panel.
func displayAddr(addr, reqHost string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "" && !net.ParseIP(host).IsUnspecified()) {
		return addr
	}
	h := reqHost
	if rh, _, err := net.SplitHostPort(reqHost); err == nil {
		h = rh
	}
	if h == "" {
		return addr
	}
	return net.JoinHostPort(h, port)
}
