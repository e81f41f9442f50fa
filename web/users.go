package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// usersHandler manages a customer's users.
type usersHandler struct {
	store *models.Store
	views views
}

// userScope is the customer whose users a page manages, and the page's base path. Customer admins
// manage their own customer under /users; the platform admin any customer under /admin/customers.
func (h *usersHandler) userScope(c echo.Context) (uint, string, error) {
	a := actorOf(c)
	if c.Param("cid") == "" { // a customer admin (the route table's customerAdmin)
		return a.CustomerID, "/users", nil
	}
	cid, err := idParam(c, "cid") // the platform admin (platformAdmin)
	if err != nil {
		return 0, "", err
	}
	if _, err := h.store.Customer(c.Request().Context(), a, cid); err != nil {
		return 0, "", err
	}
	return cid, "/admin/customers/" + strconv.Itoa(int(cid)) + "/users", nil
}

func (h *usersHandler) usersPage(c echo.Context) error {
	return h.renderUsers(c, http.StatusOK, templates.UserFormProps{Role: models.RoleAgent}, nil)
}

func (h *usersHandler) renderUsers(c echo.Context, status int, form templates.UserFormProps, errs templates.Errors) error {
	cid, base, err := h.userScope(c)
	if err != nil {
		return err
	}
	us, err := h.store.Users(c.Request().Context(), actorOf(c), cid)
	if err != nil {
		return err
	}
	p := h.views.page(c, "users.title", "users")
	form.Page, form.BasePath, form.Errors = p, base, errs
	return render(c, status, templates.Users(templates.UsersProps{Page: p, CustomerID: cid, Users: us, Form: form, BasePath: base}))
}

func userInput(c echo.Context) models.UserInput {
	return models.UserInput{
		Username: c.FormValue("username"), Password: c.FormValue("password"),
		Role: models.Role(c.FormValue("role")), CanOpenRecordings: c.FormValue("can_open_recordings") == "1",
		Disabled: c.FormValue("disabled") == "1", Language: c.FormValue("language"),
	}
}

func (h *usersHandler) userCreate(c echo.Context) error {
	cid, base, err := h.userScope(c)
	if err != nil {
		return err
	}
	in := userInput(c)
	if _, err := h.store.CreateUser(c.Request().Context(), actorOf(c), cid, in); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		return h.renderUsers(c, http.StatusUnprocessableEntity, templates.UserFormProps{
			Username: in.Username, Role: in.Role, CanRec: in.CanOpenRecordings, Language: in.Language}, errs)
	}
	h.views.flash(c, "flash.user_created")
	return redirect(c, base)
}

func (h *usersHandler) loadScopedUser(c echo.Context) (models.User, string, error) {
	cid, base, err := h.userScope(c)
	if err != nil {
		return models.User{}, "", err
	}
	id, err := idParam(c, "id")
	if err != nil {
		return models.User{}, "", err
	}
	u, err := h.store.User(c.Request().Context(), actorOf(c), id)
	if err != nil || u.CustomerID == nil || *u.CustomerID != cid {
		return models.User{}, "", models.ErrNotFound
	}
	return u, base, nil
}

func (h *usersHandler) editProps(c echo.Context, u models.User, base string) (templates.UserFormProps, error) {
	path := base + "/" + strconv.Itoa(int(u.ID))
	tokens, err := tokensSection(c, h.store, h.views, u.ID, path+"/tokens")
	return templates.UserFormProps{
		Page: h.views.page(c, "users.edit", "users"), BasePath: base, UserID: u.ID, Username: u.Username, Role: u.Role,
		CanRec: u.CanOpenRecordings, Disabled: u.Disabled, Language: u.Language, IsSelf: u.ID == actorOf(c).UserID,
		Tokens: tokens,
	}, err
}

func (h *usersHandler) userPage(c echo.Context) error {
	u, base, err := h.loadScopedUser(c)
	if err != nil {
		return err
	}
	p, err := h.editProps(c, u, base)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, templates.UserEdit(p))
}

func (h *usersHandler) userUpdate(c echo.Context) error {
	u, base, err := h.loadScopedUser(c)
	if err != nil {
		return err
	}
	in := userInput(c)
	in.IP = c.RealIP()
	if _, err := h.store.UpdateUser(c.Request().Context(), actorOf(c), u.ID, in); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		p, perr := h.editProps(c, u, base)
		if perr != nil {
			return perr
		}
		p.Role, p.CanRec, p.Disabled, p.Language, p.Errors = in.Role, in.CanOpenRecordings, in.Disabled, in.Language, errs
		return render(c, http.StatusUnprocessableEntity, templates.UserEdit(p))
	}
	h.views.flash(c, "flash.saved")
	return redirect(c, base+"/"+strconv.Itoa(int(u.ID)))
}

// userPassword resets a user's password; the stamp in their sessions no longer matches, so
// every session of that user ends.
func (h *usersHandler) userPassword(c echo.Context) error {
	u, base, err := h.loadScopedUser(c)
	if err != nil {
		return err
	}
	if err := h.store.ResetPassword(c.Request().Context(), actorOf(c), u.ID, c.FormValue("password")); err != nil {
		errs, ok := formErrors(err)
		if !ok {
			return err
		}
		p, perr := h.editProps(c, u, base)
		if perr != nil {
			return perr
		}
		p.PwErrors = errs
		return render(c, http.StatusUnprocessableEntity, templates.UserEdit(p))
	}
	h.views.flash(c, "flash.password_reset")
	return redirect(c, base+"/"+strconv.Itoa(int(u.ID)))
}
