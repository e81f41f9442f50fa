package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/static"
)

// role is what a route asks of the user before its handler runs, with the answer for those
// who lack it. The middleware that enforces it is made from the route table (routeChain), so
// the table is the truth. What a role cannot say (this pool is yours, this call is your
// customer's) the store and the handlers check; a role refuses the same for every id, so a
// refusal tells nothing about which objects exist.
type role int

const (
	// public: anyone, logged in or not.
	public role = iota
	// loggedIn: any logged-in user (pages send others to /login) or API token (401 without).
	loggedIn
	// recordingsAccess: the "authorized persons" of the seed (customer admins, the platform
	// admin, users with the recordings permission); 404 for everybody else, exactly like a
	// recording that does not exist.
	recordingsAccess
	// recordingsDelete: customer admins; 404 without recordings access, 403 with it.
	recordingsDelete
	// customerStaff: agents and customer admins, not the platform admin (403): whether a call
	// is recorded is the customer's decision.
	customerStaff
	// admin: customer admins and the platform admin; 403 for agents.
	admin
	// customerAdmin: a customer's own administrator; 403 for agents, 404 for the platform
	// admin (the page is the customer's own).
	customerAdmin
	// platformAdmin: the platform's own pages; 404 for everybody else.
	platformAdmin
)

var roleNames = [...]string{"public", "logged in", "recordings access", "recordings delete",
	"customer staff", "admin", "customer admin", "platform admin"}

func (r role) String() string { return roleNames[r] }

// refuses is the status a's request is refused with, or 0 when a has the role. Anonymous
// requests never get here (requireLogin and apiAuth answer them first).
func (r role) refuses(a models.Actor) int {
	switch r {
	case recordingsAccess:
		if !a.MayOpenRecordings() {
			return http.StatusNotFound
		}
	case recordingsDelete:
		if !a.MayOpenRecordings() {
			return http.StatusNotFound
		}
		if !a.MayDeleteRecordings() {
			return http.StatusForbidden
		}
	case customerStaff:
		if a.IsPlatformAdmin() || a.CustomerID == 0 {
			return http.StatusForbidden
		}
	case admin:
		if !a.IsAdmin() {
			return http.StatusForbidden
		}
	case customerAdmin:
		if !a.IsAdmin() {
			return http.StatusForbidden
		}
		if a.IsPlatformAdmin() {
			return http.StatusNotFound
		}
	case platformAdmin:
		if !a.IsPlatformAdmin() {
			return http.StatusNotFound
		}
	}
	return 0
}

// route is one line of the table: method, path (Echo syntax), the role it asks for, whether
// its body may reach Config.MaxUpload (uploads) instead of Config.MaxBody, and its handler.
type route struct {
	method, path string
	need         role
	upload       bool
	handle       echo.HandlerFunc
}

// notFound is the method of a catch-all: what Echo answers when no route matches the path.
const notFound = echo.RouteNotFound

// get, post, put, patch and del are the table's rows of that method.
func get(path string, need role, h echo.HandlerFunc) route {
	return route{http.MethodGet, path, need, false, h}
}
func post(path string, need role, h echo.HandlerFunc) route {
	return route{http.MethodPost, path, need, false, h}
}
func put(path string, need role, h echo.HandlerFunc) route {
	return route{http.MethodPut, path, need, false, h}
}
func patch(path string, need role, h echo.HandlerFunc) route {
	return route{http.MethodPatch, path, need, false, h}
}
func del(path string, need role, h echo.HandlerFunc) route {
	return route{http.MethodDelete, path, need, false, h}
}

// postUpload is a POST whose body may be as large as Config.MaxUpload.
func postUpload(path string, need role, h echo.HandlerFunc) route {
	return route{http.MethodPost, path, need, true, h}
}

// anyMethod is a route for every method Echo knows (its Any).
func anyMethod(path string, need role, h echo.HandlerFunc) []route {
	var rs []route
	for _, m := range []string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
		http.MethodPatch, http.MethodPost, echo.PROPFIND, http.MethodPut, http.MethodTrace, echo.REPORT} {
		rs = append(rs, route{m, path, need, false, h})
	}
	return rs
}

// feature is a group of the table's routes.
type feature struct {
	name   string
	routes []route
}

// routeTable is every page, form and API route, by feature. Pages live at the root (session
// cookie, CSRF token on every form), the JSON API under /api/v1 (bearer token, no cookies),
// assets and the health check outside both. The API's routes are documented in
// openapi/*.json (TestOpenAPIListsEveryRoute holds both to each other); TestRouteRoles proves
// that every role below refuses whom it should.
func (s *Server) routeTable() []feature {
	const rec = "/files/" + models.RecordingsRoot
	return []feature{
		{"Outside sessions and the API", []route{
			get("/healthz", public, s.healthz),
			get("/static/*", public, echo.WrapHandler(http.StripPrefix("/static/", static.Handler()))),
			get("/api/v1/openapi.json", public, s.openAPI),
		}},
		{"Sign-in, language, own account", []route{
			get("/login", public, s.loginPage),
			post("/login", public, s.login),
			post("/language", public, s.setLanguage),
			get("/", loggedIn, s.home),
			post("/logout", loggedIn, s.logout),
			get("/account", loggedIn, s.accountPage),
			post("/account/language", loggedIn, s.accountLanguage),
			post("/account/password", loggedIn, s.accountPassword),
			get("/api/v1/me", loggedIn, s.apiMe),
		}},
		{"Customers, their settings and prices (platform admin), own settings (customer admin)", []route{
			get("/settings", admin, s.settingsPage), // the platform admin is sent to /admin/customers
			post("/settings", customerAdmin, s.settingsSave),
			get("/admin/customers", platformAdmin, s.customersPage),
			post("/admin/customers", platformAdmin, s.customerCreate),
			get("/admin/customers/:id", platformAdmin, s.customerPage),
			post("/admin/customers/:id", platformAdmin, s.customerSave),
			get("/admin/prices", platformAdmin, s.pricesPage),
			post("/admin/prices", platformAdmin, s.pricesSave),
		}},
		{"Users: a customer admin's own under /users, any customer's for the platform admin", []route{
			get("/users", customerAdmin, s.usersPage),
			post("/users", customerAdmin, s.userCreate),
			get("/users/:id", customerAdmin, s.userPage),
			post("/users/:id", customerAdmin, s.userUpdate),
			post("/users/:id/password", customerAdmin, s.userPassword),
			get("/admin/customers/:cid/users", platformAdmin, s.usersPage),
			post("/admin/customers/:cid/users", platformAdmin, s.userCreate),
			get("/admin/customers/:cid/users/:id", platformAdmin, s.userPage),
			post("/admin/customers/:cid/users/:id", platformAdmin, s.userUpdate),
			post("/admin/customers/:cid/users/:id/password", platformAdmin, s.userPassword),
		}},
		{"Number pools (the pool page shows the modules below)", []route{
			get("/pools", loggedIn, s.poolsPage),
			get("/pools/new", admin, s.poolNew),
			post("/pools/new", admin, s.poolCreate),
			get("/pools/:id", loggedIn, s.poolPage),
			get("/pools/:id/edit", admin, s.poolEdit),
			post("/pools/:id/edit", admin, s.poolUpdate),
			get("/api/v1/pools", loggedIn, s.apiPools),
			get("/api/v1/pools/:id", loggedIn, s.apiPool),
		}},
		{"Modules of a pool: Call Recording (per pool) and FTP access (per customer)", []route{
			post("/pools/:id/call-recording/book", admin, s.callRecordingBook),
			post("/pools/:id/call-recording/cancel", admin, s.callRecordingCancel),
			post("/pools/:id/call-recording/settings", admin, s.callRecordingSettings),
			post("/pools/:id/ftp-access/book", admin, s.ftpAccessBook),
			post("/pools/:id/ftp-access/cancel", admin, s.ftpAccessCancel),
			get("/api/v1/pools/:id/call-recording", loggedIn, s.apiCallRecording),
			patch("/api/v1/pools/:id/call-recording", admin, s.apiCallRecordingPatch),
			put("/api/v1/pools/:id/call-recording/booking", admin, s.apiCallRecordingBook),
			del("/api/v1/pools/:id/call-recording/booking", admin, s.apiCallRecordingCancel),
			get("/api/v1/ftp-access", loggedIn, s.apiFTPAccess),
			put("/api/v1/ftp-access/booking", admin, s.apiFTPAccessBook),
			del("/api/v1/ftp-access/booking", admin, s.apiFTPAccessCancel),
		}},
		{"Announcements: the pool's slots and the customer's announcement files", []route{
			get("/pools/:id/announcements/:slot/audio", loggedIn, s.announcementAudio),
			post("/pools/:id/announcements/:slot", admin, s.announcementSave),
			put("/api/v1/pools/:id/call-recording/announcements/:slot", admin, s.apiAnnouncementPut),
			get("/files/announcements", loggedIn, s.announcementFilesPage),
			postUpload("/files/announcements", admin, s.announcementUpload),
			get("/files/announcements/:id/content", loggedIn, s.announcementFileContent),
			post("/files/announcements/:id/convert", admin, s.announcementConvert),
			post("/files/announcements/:id/delete", admin, s.announcementDelete),
			postUpload("/api/v1/files", admin, s.apiFileUpload),
			get("/api/v1/files/:id/content", loggedIn, s.apiFileContent), // a recording's: recordings access, checked by the store
			post("/api/v1/files/:id/convert", admin, s.apiFileConvert),
			del("/api/v1/files/:id", admin, s.apiFileDelete),
		}},
		{"File Browser and recordings (bulk delete: customer admins, checked for the action)", []route{
			get("/files", loggedIn, s.filesRoot),
			get(rec, recordingsAccess, s.recordingFolder),
			get(rec+"/*", recordingsAccess, s.recordingFolder),
			get("/recordings/:id", recordingsAccess, s.recordingPage),
			get("/recordings/:id/audio", recordingsAccess, s.recordingListen),
			get("/recordings/:id/download", recordingsAccess, s.recordingDownload),
			post("/recordings/:id/delete", recordingsDelete, s.recordingDelete),
			post("/recordings/bulk", recordingsAccess, s.recordingsBulk),
			get("/api/v1/files", loggedIn, s.apiFiles),
			get("/api/v1/recordings", recordingsAccess, s.apiRecordings),
			get("/api/v1/recordings/:id", recordingsAccess, s.apiRecording),
			get("/api/v1/recordings/:id/audio", recordingsAccess, s.apiRecordingAudio),
			get("/api/v1/recordings/:id/waveform", recordingsAccess, s.apiRecordingWaveform),
			del("/api/v1/recordings/:id", recordingsDelete, s.apiRecordingDelete),
		}},
		{"Live calls and the call log", []route{
			get("/calls", loggedIn, s.callLogPage),
			get("/calls/live", loggedIn, s.livePage),
			get("/calls/live/events", loggedIn, s.liveEvents),
			post("/calls/:id/recording/start", customerStaff, s.liveStartRecording),
			post("/calls/:id/recording/stop", customerStaff, s.liveStopRecording),
			get("/api/v1/calls", loggedIn, s.apiCalls),
			get("/api/v1/calls/:id", loggedIn, s.apiCall),
			post("/api/v1/calls/:id/recording/start", customerStaff, s.apiStartRecording),
			post("/api/v1/calls/:id/recording/stop", customerStaff, s.apiStopRecording),
		}},
		{"FTPS/SFTP login of a customer (web/ftpd serves the files)", []route{
			get("/ftp-access", customerAdmin, s.ftpAccessPage),
			post("/ftp-access", customerAdmin, s.ftpAccessSave),
			get("/api/v1/ftp-access/credentials", admin, s.apiFTPCredentials),
			put("/api/v1/ftp-access/credentials", admin, s.apiFTPCredentialsSet),
		}},
		{"Audit log", []route{
			get("/audit", admin, s.auditPage),
			get("/audit.csv", admin, s.auditCSV),
			get("/api/v1/audit-events", admin, s.apiAuditEvents),
		}},
		{"Unknown paths: a JSON 404 in the API, the localized 404 page elsewhere", append(anyMethod("/api/v1/*", loggedIn, apiUnknown),
			route{notFound, "/api/v1", loggedIn, false, apiUnknown},
			route{notFound, "/api/v1/*", loggedIn, false, apiUnknown},
			route{notFound, "/", loggedIn, false, echo.NotFoundHandler},
			route{notFound, "/*", public, false, echo.NotFoundHandler})},
	}
}

// routes builds the router from the table.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Client addresses come from the connection: bookings and the audit trail record them, so a
	// forged X-Forwarded-For must not choose them (behind a proxy, trust it explicitly instead).
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.handleError
	e.Use(s.recoverer(), s.requestLog, securityHeaders, s.admit.middleware, s.pageSession(echo.WrapMiddleware(s.sessions.LoadAndSave)),
		s.pageSession(s.loadUser), s.pageSession(s.language))
	for _, f := range s.routeTable() {
		for _, r := range f.routes {
			e.Add(r.method, r.path, s.routeChain(r))
		}
	}
	return e
}

// routeChain is a route's handler behind the middleware its place in the table asks for:
//
//	pages:       body limit, CSRF check, login, role
//	API:         body limit, bearer token, role
//	assets, health check: nothing
//
// (session, user and language come before, for every page path: pageSession). The chain is
// built once here rather than by Echo on every request.
func (s *Server) routeChain(r route) echo.HandlerFunc {
	limit := s.cfg.MaxBody
	if r.upload {
		limit = s.cfg.MaxUpload
	}
	var chain []echo.MiddlewareFunc
	switch {
	case strings.HasPrefix(r.path, "/api/"):
		chain = append(chain, bodyLimit(limit, r.upload))
		if r.need != public {
			chain = append(chain, s.apiAuth)
		}
	case isPagePath(r.path):
		chain = append(chain, bodyLimit(limit, r.upload), s.csrf)
		if r.need != public {
			chain = append(chain, requireLogin)
		}
	}
	if r.need > loggedIn {
		chain = append(chain, requireRole(r.need))
	}
	h := r.handle
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return h
}

// requireRole refuses users without need: a page with the status's error, the API's JSON.
func requireRole(need role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if st := need.refuses(actorOf(c)); st != 0 {
				return refusal(c, st)
			}
			return next(c)
		}
	}
}

// refusal is a refused request's error (forbidden or not found) on the request's surface.
func refusal(c echo.Context, status int) error {
	api := strings.HasPrefix(c.Request().URL.Path, "/api/")
	switch {
	case status == http.StatusNotFound && api:
		return apiNotFound()
	case status == http.StatusNotFound:
		return echo.NewHTTPError(http.StatusNotFound, "error.not_found")
	case api:
		return apiError(http.StatusForbidden, "forbidden", "your role may not do this")
	}
	return echo.NewHTTPError(http.StatusForbidden, "error.forbidden")
}

// apiUnknown answers unknown API paths with JSON, never the HTML 404 page.
func apiUnknown(echo.Context) error {
	return apiError(http.StatusNotFound, "not_found", "no such API endpoint")
}
