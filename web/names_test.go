package web

import (
	"context"
	"net/http"
	"regexp"
	"testing"

	"callrec/models"
)

var usernameErrRE = regexp.MustCompile(`data-testid="error-username">([^<]*)<`)

// TestTakenNamesDoNotRevealOtherCustomers: a customer admin probing user names and FTP login
// names must not learn which ones another customer uses. A name another customer holds gets the
// answer of an ill-formed name, word for word, on the page and in the API; a name of the admin's
// own customer (which the admin sees in the user list anyway) still says it is taken.
func TestTakenNamesDoNotRevealOtherCustomers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := models.Actor{Role: models.RolePlatformAdmin}
	if _, _, err := e.store.SetFTPCredentials(ctx, root, "", e.otherPool.CustomerID, models.FTPCredentialsInput{Username: "other-ftp", Password: "other-ftp-password"}); err != nil {
		t.Fatal(err)
	}
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	userErr := func(name string) (int, string) {
		a := admin.do("/users", "--data-urlencode", "_csrf="+admin.csrf, "--data-urlencode", "username="+name,
			"--data-urlencode", "password=a-good-password-1", "--data-urlencode", "role=agent")
		m := usernameErrRE.FindStringSubmatch(a.Body)
		if m == nil {
			return a.Status, ""
		}
		return a.Status, m[1]
	}
	stBad, illFormed := userErr("x!")
	stOther, other := userErr(e.otherAdmin)
	stOwn, own := userErr(e.demo.Agent)
	if stBad != 422 || stOther != 422 || illFormed == "" || other != illFormed {
		t.Fatalf("another customer's user name: %d %q; an ill-formed one: %d %q", stOther, other, stBad, illFormed)
	}
	if stOwn != 422 || own == illFormed || own == "" {
		t.Fatalf("own customer's user name: %d %q", stOwn, own)
	}
	ftpErr := func(name string) (int, string) {
		a := admin.do("/ftp-access", "--data-urlencode", "_csrf="+admin.csrf, "--data-urlencode", "username="+name,
			"--data-urlencode", "password=a-good-password-1")
		m := usernameErrRE.FindStringSubmatch(a.Body)
		if m == nil {
			return a.Status, ""
		}
		return a.Status, m[1]
	}
	if st, msg := ftpErr("other-ftp"); st != 422 || msg != illFormed {
		t.Fatalf("another customer's FTP name: %d %q, want the ill-formed answer %q", st, msg, illFormed)
	}
	if st, msg := ftpErr("x!"); st != 422 || msg != illFormed {
		t.Fatalf("ill-formed FTP name: %d %q", st, msg)
	}
	if st, _ := ftpErr("demo-ftp-login"); st != http.StatusSeeOther {
		t.Fatalf("a free FTP name: %d", st)
	}
	// The API gives the same code for both.
	tok := e.token(e.demo.Admin)
	var ae apiErrorBody
	if st := e.api(tok, "PUT", "/ftp-access/credentials", map[string]string{"username": "other-ftp", "password": "a-good-password-1"}, &ae); st != 422 || ae.Error.Code != models.ErrUsernameInvalid.Code {
		t.Fatalf("API, another customer's FTP name: %d %+v", st, ae)
	}
	// The platform admin sees every customer, so it is told the name is taken.
	_, err := e.store.CreateUser(ctx, root, e.demoPool().CustomerID, models.UserInput{Username: e.otherAdmin,
		Password: "a-good-password-1", Role: models.RoleAgent})
	if errs, _ := formErrors(err); errs["username"] != models.ErrUsernameTaken.Key {
		t.Fatalf("platform admin, taken name: %v", err)
	}
}
