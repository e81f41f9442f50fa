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

// ftpAccessProps gathers what the page shows for the admin's own customer.
func (s *Server) ftpAccessProps(c echo.Context) (templates.FTPLoginProps, error) {
	a := actorOf(c) // a customer admin: the page is the customer's own, the platform admin uses the API
	ctx := c.Request().Context()
	cust, err := s.store.Customer(ctx, a, a.CustomerID)
	if err != nil {
		return templates.FTPLoginProps{}, storeError(err)
	}
	booked, err := s.store.HasFTPAccess(ctx, cust.ID)
	if err != nil {
		return templates.FTPLoginProps{}, err
	}
	p := templates.FTPLoginProps{
		Page: s.page(c, "ftp.title", "ftp"), Booked: booked, Folder: "call_recording/" + cust.SubscriberID,
		FTPAddr: displayAddr(s.cfg.FTPAddr, c.Request().Host), SFTPAddr: displayAddr(s.cfg.SFTPAddr, c.Request().Host),
		Fingerprint: s.cfg.SFTPFingerprint,
		Username:    models.DefaultFTPUsername(cust.SubscriberID),
	}
	cred, err := s.store.FTPCredentials(ctx, a, cust.ID)
	switch {
	case err == nil:
		p.Username, p.SetBy, p.UpdatedAt = cred.Username, cred.SetBy, cred.UpdatedAt.In(cust.Location())
	case err != models.ErrNotFound:
		return templates.FTPLoginProps{}, err
	}
	p.IsSet = err == nil
	return p, nil
}

func (s *Server) ftpAccessPage(c echo.Context) error {
	p, err := s.ftpAccessProps(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.FTPLogin(p))
}

func (s *Server) ftpAccessSave(c echo.Context) error {
	p, err := s.ftpAccessProps(c)
	if err != nil {
		return err
	}
	a := actorOf(c)
	in := models.FTPCredentialsInput{Username: c.FormValue("username"), Password: c.FormValue("password")}
	if _, _, err := s.store.SetFTPCredentials(c.Request().Context(), a, c.RealIP(), a.CustomerID, in); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return storeError(err)
		}
		p.Username, p.Errors = in.Username, errs
		return render(c, http.StatusUnprocessableEntity, templates.FTPLogin(p))
	}
	s.flash(c, "ftp.flash.saved")
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

func (s *Server) ftpCredentialsJSON(ctx context.Context, a models.Actor, cid uint) (ftpCredentialsJSON, error) {
	cust, err := s.store.Customer(ctx, a, cid)
	if err != nil {
		return ftpCredentialsJSON{}, apiStoreError(err)
	}
	booked, err := s.store.HasFTPAccess(ctx, cid)
	if err != nil {
		return ftpCredentialsJSON{}, err
	}
	out := ftpCredentialsJSON{CustomerID: cid, Booked: booked, Folder: "call_recording/" + cust.SubscriberID,
		Username: models.DefaultFTPUsername(cust.SubscriberID)}
	cred, err := s.store.FTPCredentials(ctx, a, cid)
	switch {
	case err == nil:
		at := cred.UpdatedAt.UTC()
		out.Set, out.Username, out.SetBy, out.UpdatedAt = true, cred.Username, cred.SetBy, &at
	case err != models.ErrNotFound:
		return ftpCredentialsJSON{}, err
	}
	return out, nil
}

func (s *Server) apiFTPCredentials(c echo.Context) error {
	cid, err := s.apiCustomer(c, true)
	if err != nil {
		return err
	}
	out, err := s.ftpCredentialsJSON(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiFTPCredentialsSet(c echo.Context) error {
	a := actorOf(c)
	cid, err := s.apiCustomer(c, true)
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
			return echo.ErrStatusRequestEntityTooLarge
		}
		return apiError(http.StatusBadRequest, "bad_request", "the body must be a JSON object with username and password")
	}
	if in.Username == nil || in.Password == nil {
		return apiError(http.StatusUnprocessableEntity, "required", "username and password are required")
	}
	ctx := c.Request().Context()
	_, created, err := s.store.SetFTPCredentials(ctx, a, c.RealIP(), cid, models.FTPCredentialsInput{Username: *in.Username, Password: *in.Password})
	if err != nil {
		return apiStoreError(err)
	}
	out, err := s.ftpCredentialsJSON(ctx, a, cid)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, out)
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
