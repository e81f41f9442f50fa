package web

import (
	"net"
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

// refuses is what a's request is refused with, or nil when a has the role. Anonymous requests
// never get here (requireLogin and apiAuth answer them first).
func (r role) refuses(a models.Actor) *models.Error {
	switch r {
	case recordingsAccess:
		if !a.MayOpenRecordings() {
			return models.ErrNotFound
		}
	case recordingsDelete:
		if !a.MayOpenRecordings() {
			return models.ErrNotFound
		}
		if !a.MayDeleteRecordings() {
			return models.ErrForbidden
		}
	case customerStaff:
		if a.IsPlatformAdmin() || a.CustomerID == 0 {
			return models.ErrForbidden
		}
	case admin:
		if !a.IsAdmin() {
			return models.ErrForbidden
		}
	case customerAdmin:
		if !a.IsAdmin() {
			return models.ErrForbidden
		}
		if a.IsPlatformAdmin() {
			return models.ErrNotFound
		}
	case platformAdmin:
		if !a.IsPlatformAdmin() {
			return models.ErrNotFound
		}
	}
	return nil
}

// route is one line of the table: method, path (Echo syntax), the role it asks for, whether
// its body may reach Config.MaxUpload (uploads) instead of Config.MaxBody, and its handler.
type route struct {
	method, path string
	need         role
	upload       bool
	handle       echo.HandlerFunc
	// signed: a signed link (expires= and sig= in the query, models.CheckRecordingLink) stands
	// in for the bearer token.
	signed bool
}

// notFound is the method of a catch-all: what Echo answers when no route matches the path.
const notFound = echo.RouteNotFound

// get, post, put, patch and del are the table's rows of that method.
func get(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodGet, path: path, need: need, handle: h}
}
func post(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodPost, path: path, need: need, handle: h}
}
func put(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodPut, path: path, need: need, handle: h}
}
func patch(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodPatch, path: path, need: need, handle: h}
}
func del(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodDelete, path: path, need: need, handle: h}
}

// postUpload is a POST whose body may be as large as Config.MaxUpload.
func postUpload(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodPost, path: path, need: need, upload: true, handle: h}
}

// getSigned is a GET that a signed link opens as well as a bearer token.
func getSigned(path string, need role, h echo.HandlerFunc) route {
	return route{method: http.MethodGet, path: path, need: need, handle: h, signed: true}
}

// anyMethod is a route for every method Echo knows (its Any).
func anyMethod(path string, need role, h echo.HandlerFunc) []route {
	var rs []route
	for _, m := range []string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
		http.MethodPatch, http.MethodPost, echo.PROPFIND, http.MethodPut, http.MethodTrace, echo.REPORT} {
		rs = append(rs, route{method: m, path: path, need: need, handle: h})
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
	h := s.h
	return []feature{
		{"Outside sessions and the API", []route{
			get("/healthz", public, s.healthz),
			get("/static/*", public, echo.WrapHandler(http.StripPrefix("/static/", static.Handler()))),
			get("/api/v1/openapi.json", public, openAPI),
		}},
		{"Sign-in, language, own account", []route{
			get("/login", public, h.auth.loginPage),
			post("/login", public, h.auth.login),
			post("/language", public, h.auth.setLanguage),
			get("/", loggedIn, h.home.home),
			post("/logout", loggedIn, h.auth.logout),
			get("/account", loggedIn, h.auth.accountPage),
			post("/account/language", loggedIn, h.auth.accountLanguage),
			post("/account/password", loggedIn, h.auth.accountPassword),
			post("/account/tokens", loggedIn, h.auth.accountTokenCreate),
			post("/account/tokens/:tid/revoke", loggedIn, h.auth.accountTokenRevoke),
			get("/api/v1/me", loggedIn, h.auth.apiMe),
			get("/api/v1/tokens", loggedIn, h.auth.apiTokens), // ?user=ID: an admin's user (store)
			del("/api/v1/tokens/:id", loggedIn, h.auth.apiTokenRevoke),
		}},
		{"Customers, their settings and prices (platform admin), own settings (customer admin)", []route{
			get("/settings", admin, h.customers.settingsPage), // the platform admin is sent to /admin/customers
			post("/settings", customerAdmin, h.customers.settingsSave),
			get("/admin/customers", platformAdmin, h.customers.customersPage),
			post("/admin/customers", platformAdmin, h.customers.customerCreate),
			get("/admin/customers/:id", platformAdmin, h.customers.customerPage),
			post("/admin/customers/:id", platformAdmin, h.customers.customerSave),
			get("/admin/prices", platformAdmin, h.customers.pricesPage),
			post("/admin/prices", platformAdmin, h.customers.pricesSave),
		}},
		{"Numbers: customers' number ranges and the destination rule (platform admin; pools obey them)", []route{
			get("/admin/customers/:id/numbers", platformAdmin, h.numbers.numbersPage),
			post("/admin/customers/:id/numbers", platformAdmin, h.numbers.rangeAdd),
			post("/admin/customers/:id/numbers/:rid/delete", platformAdmin, h.numbers.rangeRemove),
			post("/admin/customers/:id/allowed-destinations", platformAdmin, h.numbers.allowedSave),
			get("/admin/destinations", platformAdmin, h.numbers.destinationsPage),
			post("/admin/destinations", platformAdmin, h.numbers.destinationsSave),
			get("/api/v1/number-ranges", admin, h.numbers.apiRanges), // a customer admin: their own
			post("/api/v1/number-ranges", platformAdmin, h.numbers.apiRangeAdd),
			del("/api/v1/number-ranges/:id", platformAdmin, h.numbers.apiRangeRemove),
			get("/api/v1/destination-rules", admin, h.numbers.apiDestinationRules), // a customer admin: blocked and own allowed
			put("/api/v1/destination-rules", platformAdmin, h.numbers.apiDestinationRulesPut),
		}},
		{"Users: a customer admin's own under /users, any customer's for the platform admin", []route{
			get("/users", customerAdmin, h.users.usersPage),
			post("/users", customerAdmin, h.users.userCreate),
			get("/users/:id", customerAdmin, h.users.userPage),
			post("/users/:id", customerAdmin, h.users.userUpdate),
			post("/users/:id/password", customerAdmin, h.users.userPassword),
			post("/users/:id/tokens/:tid/revoke", customerAdmin, h.users.userTokenRevoke),
			post("/users/:id/delete", customerAdmin, h.users.userDelete),
			get("/admin/customers/:cid/users", platformAdmin, h.users.usersPage),
			post("/admin/customers/:cid/users", platformAdmin, h.users.userCreate),
			get("/admin/customers/:cid/users/:id", platformAdmin, h.users.userPage),
			post("/admin/customers/:cid/users/:id", platformAdmin, h.users.userUpdate),
			post("/admin/customers/:cid/users/:id/password", platformAdmin, h.users.userPassword),
			post("/admin/customers/:cid/users/:id/tokens/:tid/revoke", platformAdmin, h.users.userTokenRevoke),
			post("/admin/customers/:cid/users/:id/delete", platformAdmin, h.users.userDelete),
		}},
		{"Number pools (the pool page shows the modules below)", []route{
			get("/pools", loggedIn, h.pools.poolsPage),
			get("/pools/new", admin, h.pools.poolNew),
			post("/pools/new", admin, h.pools.poolCreate),
			get("/pools/:id", loggedIn, h.pools.poolPage),
			get("/pools/:id/edit", admin, h.pools.poolEdit),
			post("/pools/:id/edit", admin, h.pools.poolUpdate),
			get("/api/v1/pools", loggedIn, h.pools.apiPools),
			get("/api/v1/pools/:id", loggedIn, h.pools.apiPool),
			post("/api/v1/pools", admin, h.pools.apiPoolCreate),
			put("/api/v1/pools/:id", admin, h.pools.apiPoolUpdate),
		}},
		{"Modules of a pool: Call Recording (per pool) and FTP access (per customer)", []route{
			post("/pools/:id/call-recording/book", admin, h.booking.callRecordingBook),
			post("/pools/:id/call-recording/cancel", admin, h.booking.callRecordingCancel),
			post("/pools/:id/call-recording/settings", admin, h.booking.callRecordingSettings),
			post("/pools/:id/ftp-access/book", admin, h.booking.ftpAccessBook),
			post("/pools/:id/ftp-access/cancel", admin, h.booking.ftpAccessCancel),
			get("/api/v1/pools/:id/call-recording", loggedIn, h.booking.apiCallRecording),
			patch("/api/v1/pools/:id/call-recording", admin, h.booking.apiCallRecordingPatch),
			put("/api/v1/pools/:id/call-recording/booking", admin, h.booking.apiCallRecordingBook),
			del("/api/v1/pools/:id/call-recording/booking", admin, h.booking.apiCallRecordingCancel),
			get("/api/v1/ftp-access", loggedIn, h.booking.apiFTPAccess),
			put("/api/v1/ftp-access/booking", admin, h.booking.apiFTPAccessBook),
			del("/api/v1/ftp-access/booking", admin, h.booking.apiFTPAccessCancel),
		}},
		{"Announcements: the pool's slots and the customer's announcement files", []route{
			get("/pools/:id/announcements/:slot/audio", loggedIn, h.announcements.announcementAudio),
			post("/pools/:id/announcements/:slot", admin, h.announcements.announcementSave),
			put("/api/v1/pools/:id/call-recording/announcements/:slot", admin, h.announcements.apiAnnouncementPut),
			get("/files/announcements", loggedIn, h.announcements.announcementFilesPage),
			postUpload("/files/announcements", admin, h.announcements.announcementUpload),
			get("/files/announcements/:id/content", loggedIn, h.announcements.announcementFileContent),
			post("/files/announcements/:id/convert", admin, h.announcements.announcementConvert),
			post("/files/announcements/:id/delete", admin, h.announcements.announcementDelete),
			postUpload("/api/v1/files", admin, h.announcements.apiFileUpload),
			post("/api/v1/files/:id/convert", admin, h.announcements.apiFileConvert),
			del("/api/v1/files/:id", admin, h.announcements.apiFileDelete),
		}},
		{"File Browser, recordings, the file tree (bulk delete: customer admins, checked for the action)", []route{
			get("/files", loggedIn, h.recordings.filesRoot),
			get(rec, recordingsAccess, h.recordings.recordingFolder),
			get(rec+"/*", recordingsAccess, h.recordings.recordingFolder),
			get("/recordings/:id", recordingsAccess, h.recordings.recordingPage),
			get("/recordings/:id/audio", recordingsAccess, h.recordings.recordingListen),
			get("/recordings/:id/download", recordingsAccess, h.recordings.recordingDownload),
			post("/recordings/:id/delete", recordingsDelete, h.recordings.recordingDelete),
			post("/recordings/bulk", recordingsAccess, h.recordings.recordingsBulk),
			get("/api/v1/files", loggedIn, h.recordings.apiFiles),
			get("/api/v1/files/:id/content", loggedIn, h.recordings.apiFileContent), // of a recording: recordings access (store)
			get("/api/v1/recordings", recordingsAccess, h.recordings.apiRecordings),
			get("/api/v1/recordings/:id", recordingsAccess, h.recordings.apiRecording),
			// also by the signed link of a webhook (?expires=&sig=), audited like any download
			getSigned("/api/v1/recordings/:id/audio", recordingsAccess, h.recordings.apiRecordingAudio),
			get("/api/v1/recordings/:id/waveform", recordingsAccess, h.recordings.apiRecordingWaveform),
			del("/api/v1/recordings/:id", recordingsDelete, h.recordings.apiRecordingDelete),
		}},
		{"Live calls and the call log", []route{
			get("/calls", loggedIn, h.callLog.callLogPage),
			get("/calls/live", loggedIn, h.live.livePage),
			get("/calls/live/events", loggedIn, h.live.liveEvents),
			post("/calls/:id/recording/start", customerStaff, h.live.liveStartRecording),
			post("/calls/:id/recording/stop", customerStaff, h.live.liveStopRecording),
			get("/api/v1/calls", loggedIn, h.callLog.apiCalls),
			get("/api/v1/calls/:id", loggedIn, h.callLog.apiCall),
			post("/api/v1/calls/:id/recording/start", customerStaff, h.live.apiStartRecording),
			post("/api/v1/calls/:id/recording/stop", customerStaff, h.live.apiStopRecording),
		}},
		{"FTPS/SFTP login of a customer (web/ftpd serves the files)", []route{
			get("/ftp-access", customerAdmin, h.ftpAccess.ftpAccessPage),
			post("/ftp-access", customerAdmin, h.ftpAccess.ftpAccessSave),
			get("/api/v1/ftp-access/credentials", admin, h.ftpAccess.apiFTPCredentials),
			put("/api/v1/ftp-access/credentials", admin, h.ftpAccess.apiFTPCredentialsSet),
		}},
		{"Webhooks: a customer admin's endpoints and their delivery log (internal/webhooks delivers)", []route{
			get("/webhooks", customerAdmin, h.webhooks.webhooksPage),
			post("/webhooks", customerAdmin, h.webhooks.webhookCreate),
			get("/webhooks/:id", customerAdmin, h.webhooks.webhookPage),
			post("/webhooks/:id", customerAdmin, h.webhooks.webhookUpdate),
			post("/webhooks/:id/rotate", customerAdmin, h.webhooks.webhookRotate),
			post("/webhooks/:id/test", customerAdmin, h.webhooks.webhookTest),
			post("/webhooks/:id/delete", customerAdmin, h.webhooks.webhookDelete),
			post("/webhooks/:id/deliveries/:did/send", customerAdmin, h.webhooks.webhookSendAgain),
			get("/api/v1/webhooks", customerAdmin, h.webhooks.apiWebhooks),
			post("/api/v1/webhooks", customerAdmin, h.webhooks.apiWebhookCreate),
			get("/api/v1/webhooks/:id", customerAdmin, h.webhooks.apiWebhook),
			patch("/api/v1/webhooks/:id", customerAdmin, h.webhooks.apiWebhookUpdate),
			del("/api/v1/webhooks/:id", customerAdmin, h.webhooks.apiWebhookDelete),
			post("/api/v1/webhooks/:id/rotate-secret", customerAdmin, h.webhooks.apiWebhookRotate),
			post("/api/v1/webhooks/:id/test", customerAdmin, h.webhooks.apiWebhookTest),
			get("/api/v1/webhooks/:id/deliveries", customerAdmin, h.webhooks.apiWebhookDeliveries),
			post("/api/v1/webhooks/:id/deliveries/:did/retry", customerAdmin, h.webhooks.apiWebhookResend),
		}},
		{"Nodes of a cluster (platform admin; internal/cluster runs them)", []route{
			get("/admin/nodes", platformAdmin, h.nodes.nodesPage),
			post("/admin/nodes/:id/drain", platformAdmin, h.nodes.nodeDrain),
			get("/api/v1/nodes", platformAdmin, h.nodes.apiNodes),
			post("/api/v1/nodes/:id/drain", platformAdmin, h.nodes.apiNodeDrain),
		}},
		{"Audit log", []route{
			get("/audit", admin, h.audit.auditPage),
			get("/audit.csv", admin, h.audit.auditCSV),
			get("/api/v1/audit-events", admin, h.audit.apiAuditEvents),
		}},
		{"Unknown paths: a JSON 404 in the API, the localized 404 page elsewhere", append(anyMethod("/api/v1/*", loggedIn, apiUnknown),
			route{method: notFound, path: "/api/v1", need: loggedIn, handle: apiUnknown},
			route{method: notFound, path: "/api/v1/*", need: loggedIn, handle: apiUnknown},
			route{method: notFound, path: "/", need: loggedIn, handle: echo.NotFoundHandler},
			route{method: notFound, path: "/*", need: public, handle: echo.NotFoundHandler})},
	}
}

// routes builds the router from the table.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = clientIP(s.cfg.TrustedProxies)
	e.HTTPErrorHandler = s.handleError
	e.Use(s.recoverer(), s.requestLog, s.securityHeaders, s.admit.middleware, s.pageSession(echo.WrapMiddleware(s.sessions.LoadAndSave)),
		s.pageSession(s.gate.loadUser), s.pageSession(s.gate.language))
	for _, f := range s.routeTable() {
		for _, r := range f.routes {
			e.Add(r.method, r.path, s.routeChain(r))
		}
	}
	return e
}

// routeChain is a route's handler behind the middleware its place in the table asks for:
//
//	pages:       temp file removal, body limit, CSRF check, login, role
//	API:         temp file removal, body limit, bearer token, role
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
		chain = append(chain, removeTempFiles, bodyLimit(limit, r.upload))
		switch {
		case r.signed:
			chain = append(chain, s.gate.signedLink(s.gate.apiAuth))
		case r.need != public:
			chain = append(chain, s.gate.apiAuth)
		}
	case isPagePath(r.path):
		chain = append(chain, removeTempFiles, bodyLimit(limit, r.upload), s.gate.csrf(s.cfg.MaxBody))
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

// requireRole refuses users without need (handleError answers: a page or the API's JSON).
func requireRole(need role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if e := need.refuses(actorOf(c)); e != nil {
				return e
			}
			return next(c)
		}
	}
}

// apiUnknown answers unknown API paths with JSON, never the HTML 404 page.
func apiUnknown(echo.Context) error { return models.ErrNotFound.With("no such API endpoint") }

// clientIP is where a request's client address comes from. Rate limits, bookings and the audit
// trail use it, so a forged X-Forwarded-For must never choose it: without trusted proxies it is
// the connection's address; with them, the last address in X-Forwarded-For that is not one of
// them (Echo's own defaults, which trust every private network, are switched off).
func clientIP(proxies []*net.IPNet) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
