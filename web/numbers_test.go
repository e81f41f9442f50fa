package web

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"callrec/models"
)

// apiJSON sends a JSON body with curl and a bearer token.
func (c *curl) apiJSON(method, path, tok string, body any) curlAnswer {
	c.t.Helper()
	b, _ := json.Marshal(body)
	return c.do(path, "-X", method, "-H", "Authorization: Bearer "+tok, "-H", "Content-Type: application/json", "--data-binary", string(b))
}

// fullPool is a pool with its numbers.
func (e *env) fullPool(id uint) models.Pool {
	e.t.Helper()
	p, err := e.store.Pool(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

var fieldErrRE = regexp.MustCompile(`data-testid="error-([a-z_]+)">([^<]*)<`)

// TestCustomerAdminCannotTakeForeignNumbers: a customer admin puts only numbers of its own
// ranges into its pools, on the page and in the API, and another customer's number gets the same
// answer as a free neighbour number, so probing tells nothing. The platform admin assigns ranges
// (page and API, audited); they never overlap and never take numbers another customer's pools
// use; a range in use cannot be taken back.
func TestCustomerAdminCannotTakeForeignNumbers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	demo := e.fullPool(e.demoPool().ID)
	cid := strconv.Itoa(int(demo.CustomerID))
	plat := e.curl().login("admin", "admin-password-1")
	base := "/admin/customers/" + cid + "/numbers"
	assign := func(from, to string) curlAnswer {
		return plat.do(base, "--data-urlencode", "_csrf="+plat.csrf, "--data-urlencode", "from="+from, "--data-urlencode", "to="+to)
	}
	if a := assign("+49 711 2184315", ""); a.Status != http.StatusSeeOther {
		t.Fatalf("assign a prefix on the page: %d", a.Status)
	}
	page := plat.do(base)
	if !strings.Contains(page.Body, "497112184315…") || !strings.Contains(page.Body, "497112184314…") {
		t.Fatalf("the customer's numbers page lists %v", fieldErrRE.FindAllString(page.Body, -1))
	}
	if a := assign("0711 2184316", ""); a.Status != 422 || !strings.Contains(a.Body, `data-testid="error-from"`) {
		t.Fatalf("page, a national number: %d", a.Status)
	}
	platTok := e.token("admin")
	api := e.curl()
	assignAPI := func(body map[string]string) curlAnswer {
		return api.apiJSON("POST", "/api/v1/number-ranges?customer="+cid, platTok, body)
	}
	for _, c := range []struct {
		body map[string]string
		code string
	}{
		{map[string]string{"prefix": "0711 2184316"}, "number_range_invalid"}, // national: which country?
		{map[string]string{"prefix": "49"}, "number_range_invalid"},           // a whole country
		{map[string]string{"prefix": "+4930555001x"}, "number_range_invalid"},
		{map[string]string{"prefix": "+1 (0)555 1234567890123"}, "number_range_invalid"}, // over 15 digits
		{map[string]string{"from": "4971121843160", "to": "497112184316"}, "number_range_invalid"},
		{map[string]string{"from": "+49 711 21843170", "to": "+49 711 21843160"}, "number_range_invalid"}, // backwards
		{map[string]string{"prefix": "4971121843160", "from": "4971121843160"}, "bad_request"},
		{map[string]string{"prefix": "49711218431"}, "number_range_overlaps"}, // holds the demo's prefixes
		{map[string]string{"prefix": "497"}, "number_range_overlaps"},
		{map[string]string{"prefix": "497112184314"}, "number_range_overlaps"}, // the same again
		{map[string]string{"prefix": "+49 711 218431 4 0"}, "number_range_overlaps"},
		{map[string]string{"from": "49711218431400", "to": "49711218431499"}, "number_range_overlaps"},
		{map[string]string{"from": "4971121843150", "to": "4971121843150"}, "number_range_overlaps"},
		{map[string]string{"from": "4930555000", "to": "4930555009"}, "number_range_overlaps"}, // the other customer's
		{map[string]string{"prefix": "+49 30 5550 00"}, "number_range_overlaps"},
	} {
		if a := assignAPI(c.body); a.Status/100 != 4 || apiCode(a.Body) != c.code {
			t.Errorf("assign %v: %d %s, want %s", c.body, a.Status, a.Body, c.code)
		}
	}
	// Numbers of another customer's pool in no range (data older than the ranges) cannot be
	// given to this one either.
	if _, err := e.store.SQL().Exec(`DELETE FROM number_ranges WHERE customer_id = $1`, e.otherPool.CustomerID); err != nil {
		t.Fatal(err)
	}
	if a := assignAPI(map[string]string{"prefix": "4930555"}); a.Status != 422 || apiCode(a.Body) != "number_range_taken" {
		t.Errorf("a range over another customer's pool numbers: %d %s", a.Status, a.Body)
	}
	// The API: the platform admin assigns; a customer admin can neither assign nor see others'.
	adminTok, otherTok := e.token(e.demo.Admin), e.token(e.otherAdmin)
	a := api.apiJSON("POST", "/api/v1/number-ranges?customer="+cid, platTok, map[string]string{"from": "4971121843160", "to": "4971121843169"})
	if a.Status != http.StatusCreated {
		t.Fatalf("API assign: %d %s", a.Status, a.Body)
	}
	var span rangeJSON
	_ = json.Unmarshal([]byte(a.Body), &span)
	if a := api.apiJSON("POST", "/api/v1/number-ranges?customer="+cid, platTok, map[string]string{"prefix": "4971121843165"}); a.Status != 422 || apiCode(a.Body) != "number_range_overlaps" {
		t.Fatalf("API overlapping prefix: %d %s", a.Status, a.Body)
	}
	if a := api.apiJSON("POST", "/api/v1/number-ranges?customer="+cid, adminTok, map[string]string{"prefix": "4971121843170"}); a.Status != http.StatusNotFound {
		t.Fatalf("customer admin assigns: %d", a.Status)
	}
	var own struct {
		Ranges []rangeJSON `json:"ranges"`
	}
	if a := api.do("/api/v1/number-ranges", bearer(adminTok)...); a.Status != 200 || json.Unmarshal([]byte(a.Body), &own) != nil || len(own.Ranges) != 3 {
		t.Fatalf("customer admin's ranges: %d %s", a.Status, a.Body)
	}
	if a := api.do("/api/v1/number-ranges?customer="+strconv.Itoa(int(e.otherPool.CustomerID)), bearer(adminTok)...); a.Status != http.StatusNotFound {
		t.Fatalf("customer admin lists another customer's ranges: %d", a.Status)
	}
	// The demo's seed, the other customer's pool (which gave it its numbers), the page's, the API's.
	if n := e.auditCount(models.AuditRangeAssigned); n != 4 {
		t.Fatalf("%d number_range.assigned events", n)
	}

	// A customer admin's pools: own numbers yes; a free neighbour and another customer's number
	// get one and the same answer, on the page and in the API.
	pool := func(tok string, numbers ...string) curlAnswer {
		return api.apiJSON("POST", "/api/v1/pools", tok, map[string]any{"name": "P", "start_number": numbers[0], "destination": "4915258878874", "numbers": numbers})
	}
	if a := pool(adminTok, "4971121843150", "4971121843151", "4971121843160"); a.Status != http.StatusCreated {
		t.Fatalf("pool of own numbers: %d %s", a.Status, a.Body)
	}
	neighbour := pool(adminTok, "4971121843152", "4930555002")
	foreign := pool(adminTok, "4971121843152", "4930555001")
	if neighbour.Status != 422 || foreign.Status != 422 || apiCode(foreign.Body) != "number_not_assigned" || neighbour.Body != foreign.Body {
		t.Fatalf("neighbour %d %s; another customer's %d %s: want the same 422", neighbour.Status, neighbour.Body, foreign.Status, foreign.Body)
	}
	if a := pool(otherTok, "4930555009"); a.Status != 422 || apiCode(a.Body) != "number_not_assigned" {
		t.Fatalf("other customer, a number next to its own: %d %s", a.Status, a.Body)
	}
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	formPool := func(numbers string) map[string]string {
		a := admin.do("/pools/new", "--data-urlencode", "_csrf="+admin.csrf, "--data-urlencode", "name=P3", "--data-urlencode",
			"start_number=4971121843153", "--data-urlencode", "numbers="+numbers, "--data-urlencode", "destination=4915258878874")
		out := map[string]string{"status": strconv.Itoa(a.Status)}
		for _, m := range fieldErrRE.FindAllStringSubmatch(a.Body, -1) {
			out[m[1]] = m[2]
		}
		return out
	}
	fa, fb := formPool("4971121843153\n4930555001"), formPool("4971121843153\n4930555002")
	if fa["status"] != "422" || fa["numbers"] == "" || fa["numbers"] != fb["numbers"] || !strings.Contains(fa["numbers"], "Rufnummernblöcken") {
		t.Fatalf("page: another customer's number %v, a neighbour %v", fa, fb)
	}
	// Editing the demo pool: adding a foreign number is refused, as it is.
	body := map[string]any{"name": demo.Name, "start_number": demo.StartNumber, "destination": demo.Destination, "numbers": append(demo.NumberList(), "4930555001")}
	if a := api.apiJSON("PUT", "/api/v1/pools/"+strconv.Itoa(int(demo.ID)), adminTok, body); a.Status != 422 || apiCode(a.Body) != "number_not_assigned" {
		t.Fatalf("PUT with another customer's number: %d %s", a.Status, a.Body)
	}
	body["numbers"] = demo.NumberList()
	body["name"] = "Renamed"
	if a := api.apiJSON("PUT", "/api/v1/pools/"+strconv.Itoa(int(demo.ID)), adminTok, body); a.Status != 200 {
		t.Fatalf("PUT as it is: %d %s", a.Status, a.Body)
	}
	if a := api.apiJSON("PUT", "/api/v1/pools/"+strconv.Itoa(int(e.otherPool.ID)), adminTok, body); a.Status != 404 {
		t.Fatalf("PUT another customer's pool: %d", a.Status)
	}
	// A range in use is not taken back; a free one is.
	if a := api.do("/api/v1/number-ranges/"+strconv.Itoa(int(span.ID)), "-X", "DELETE", "-H", "Authorization: Bearer "+platTok); a.Status != http.StatusConflict || apiCode(a.Body) != "number_range_in_use" {
		t.Fatalf("remove a range in use: %d %s", a.Status, a.Body)
	}
	rs, _ := e.store.NumberRanges(ctx, models.Actor{Role: models.RolePlatformAdmin}, demo.CustomerID)
	var free uint
	for _, r := range rs {
		if r.FirstNumber == "497112184315" {
			free = r.ID
		}
	}
	if a := plat.do(base+"/"+strconv.Itoa(int(free))+"/delete", "-X", "POST", "-H", "X-CSRF-Token: "+plat.csrf); a.Status != http.StatusConflict {
		t.Fatalf("remove the prefix whose numbers a pool uses, on the page: %d", a.Status)
	}
	if a := api.apiJSON("POST", "/api/v1/number-ranges?customer="+cid, platTok, map[string]string{"prefix": "4971121843180"}); a.Status != 201 {
		t.Fatalf("assign a free prefix: %d", a.Status)
	} else {
		var r rangeJSON
		_ = json.Unmarshal([]byte(a.Body), &r)
		if a := plat.do(base+"/"+strconv.Itoa(int(r.ID))+"/delete", "-X", "POST", "-H", "X-CSRF-Token: "+plat.csrf); a.Status != http.StatusSeeOther {
			t.Fatalf("remove a free range: %d", a.Status)
		}
	}
	if n := e.auditCount(models.AuditRangeRemoved); n != 1 {
		t.Fatalf("%d number_range.removed events", n)
	}
}

// TestPremiumDestinationsRefused: a pool cannot forward to premium-rate and special numbers, in
// whatever form they are written; the platform admin edits the blocked list and allows a prefix
// for one customer; a destination set before the rule stays until it is changed. The call cap is
// the platform admin's alone.
func TestPremiumDestinationsRefused(t *testing.T) {
	e := newEnv(t)
	demo, other := e.fullPool(e.demoPool().ID), e.fullPool(e.otherPool.ID)
	api := e.curl()
	adminTok, platTok, otherTok := e.token(e.demo.Admin), e.token("admin"), e.token(e.otherAdmin)
	put := func(tok string, p models.Pool, dest string, extra map[string]any) curlAnswer {
		body := map[string]any{"name": p.Name, "start_number": p.StartNumber, "destination": dest, "numbers": p.NumberList()}
		for k, v := range extra {
			body[k] = v
		}
		return api.apiJSON("PUT", "/api/v1/pools/"+strconv.Itoa(int(p.ID)), tok, body)
	}
	for _, dest := range []string{"09001234567", "49900123456", "0049900123456", "01371234567", "01805123456",
		"01901234567", "11833", "4911833", "112", "8816123456", "0088212345"} {
		if a := put(adminTok, demo, dest, nil); a.Status != 422 || apiCode(a.Body) != "destination_blocked" {
			t.Errorf("destination %s: %d %s", dest, a.Status, a.Body)
		}
	}
	// Call-by-call: a carrier selection prefix before a premium number.
	if a := put(adminTok, demo, "0101909001234567", nil); a.Status != 422 || apiCode(a.Body) != "destination_blocked" {
		t.Errorf("carrier selection before 0900: %d %s", a.Status, a.Body)
	}
	// Forwarding to one of the customer's own pool numbers would loop through the trunk.
	if a := put(adminTok, demo, "00"+demo.NumberList()[1], nil); a.Status != 422 || apiCode(a.Body) != "destination_loop" {
		t.Errorf("destination: the pool's own number: %d %s", a.Status, a.Body)
	}
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	loop := admin.do("/pools/"+strconv.Itoa(int(demo.ID))+"/edit", "--data-urlencode", "_csrf="+admin.csrf, "--data-urlencode", "name="+demo.Name,
		"--data-urlencode", "start_number="+demo.StartNumber, "--data-urlencode", "numbers="+strings.Join(demo.NumberList(), "\n"),
		"--data-urlencode", "destination="+demo.NumberList()[0])
	if m := fieldErrRE.FindStringSubmatch(loop.Body); loop.Status != 422 || m == nil || m[1] != "destination" || !strings.Contains(m[2], "eigenen Pools") {
		t.Fatalf("page, destination a number of the pool: %d %v", loop.Status, m)
	}
	a := admin.do("/pools/"+strconv.Itoa(int(demo.ID))+"/edit", "--data-urlencode", "_csrf="+admin.csrf, "--data-urlencode", "name="+demo.Name,
		"--data-urlencode", "start_number="+demo.StartNumber, "--data-urlencode", "numbers="+strings.Join(demo.NumberList(), "\n"),
		"--data-urlencode", "destination=09001234567")
	if m := fieldErrRE.FindStringSubmatch(a.Body); a.Status != 422 || m == nil || m[1] != "destination" || !strings.Contains(m[2], "Mehrwert") {
		t.Fatalf("page, premium destination: %d %v", a.Status, m)
	}
	// The platform admin allows 0180 5 for the demo customer (page) and blocks 0700 (API).
	plat := e.curl().login("admin", "admin-password-1")
	base := "/admin/customers/" + strconv.Itoa(int(demo.CustomerID))
	if a := plat.do(base+"/allowed-destinations", "--data-urlencode", "_csrf="+plat.csrf, "--data-urlencode", "allowed=+49 180 5 # own hotline"); a.Status != http.StatusSeeOther {
		t.Fatalf("allow on the page: %d", a.Status)
	}
	if a := plat.do(base+"/allowed-destinations", "--data-urlencode", "_csrf="+plat.csrf, "--data-urlencode", "allowed=0180x"); a.Status != 422 || !strings.Contains(a.Body, `data-testid="error-allowed"`) {
		t.Fatalf("allow a bad prefix: %d", a.Status)
	}
	if a := put(adminTok, demo, "01805123456", nil); a.Status != 200 {
		t.Fatalf("allowed destination: %d %s", a.Status, a.Body)
	}
	if a := put(otherTok, other, "01805123456", nil); a.Status != 422 || apiCode(a.Body) != "destination_blocked" {
		t.Fatalf("another customer, the demo's allowed prefix: %d %s", a.Status, a.Body)
	}
	var rules struct {
		Rules []ruleJSON `json:"rules"`
	}
	if a := api.do("/api/v1/destination-rules", bearer(platTok)...); a.Status != 200 || json.Unmarshal([]byte(a.Body), &rules) != nil || len(rules.Rules) < 10 {
		t.Fatalf("blocked list: %d %s", a.Status, a.Body)
	}
	rules.Rules = append(rules.Rules, ruleJSON{Prefix: "0700", Note: "personal numbers"})
	if a := api.apiJSON("PUT", "/api/v1/destination-rules", platTok, rules); a.Status != 200 {
		t.Fatalf("PUT blocked list: %d %s", a.Status, a.Body)
	}
	if a := api.apiJSON("PUT", "/api/v1/destination-rules", adminTok, rules); a.Status != 404 {
		t.Fatalf("customer admin edits the blocked list: %d", a.Status)
	}
	if a := put(adminTok, demo, "0700123456", nil); a.Status != 422 {
		t.Fatalf("newly blocked 0700: %d", a.Status)
	}
	if e.auditCount(models.AuditBlockedChanged) != 1 || e.auditCount(models.AuditAllowedChanged) != 1 {
		t.Fatal("destination rule changes not audited")
	}
	// A destination from before the rule: the pool still saves while it stays.
	if _, err := e.store.SQL().Exec(`UPDATE pools SET destination = '09001234567' WHERE id = $1`, e.otherPool.ID); err != nil {
		t.Fatal(err)
	}
	if a := put(otherTok, other, "09001234567", nil); a.Status != 200 {
		t.Fatalf("saving a pool whose old destination is blocked now: %d %s", a.Status, a.Body)
	}
	// The platform admin sees such pools under the blocked list; nobody else sees the page.
	page := plat.do("/admin/destinations")
	held := `data-testid="held-pool-` + strconv.Itoa(int(other.ID)) + `"`
	if page.Status != 200 || !strings.Contains(page.Body, held) || !strings.Contains(page.Body, "09001234567") ||
		strings.Contains(page.Body, `data-testid="held-pool-`+strconv.Itoa(int(demo.ID))+`"`) {
		t.Fatalf("pools held by the rule: %d, held row %v", page.Status, strings.Contains(page.Body, held))
	}
	if a := admin.do("/admin/destinations"); a.Status != http.StatusForbidden && a.Status != http.StatusNotFound {
		t.Fatalf("a customer admin opens the blocked list: %d", a.Status)
	}
	// The call cap: the platform admin's.
	if a := put(adminTok, demo, "01805123456", map[string]any{"max_calls": 5}); a.Status != 403 {
		t.Fatalf("customer admin sets max_calls: %d %s", a.Status, a.Body)
	}
	var p poolJSON
	if a := put(platTok, demo, "01805123456", map[string]any{"max_calls": 5}); a.Status != 200 || json.Unmarshal([]byte(a.Body), &p) != nil || p.MaxCalls != 5 {
		t.Fatalf("platform admin sets max_calls: %d %s", a.Status, a.Body)
	}
	if a := put(platTok, demo, "01805123456", map[string]any{"max_calls": -1}); a.Status != 422 || apiCode(a.Body) != "max_calls_invalid" {
		t.Fatalf("max_calls -1: %d %s", a.Status, a.Body)
	}
}

// TestPoolAPIRefusesHostileBodies: what an attacker with a customer admin's (or an agent's, or
// no) token sends to the pool API to get numbers that are not theirs, or to reach another
// customer: every attempt is refused with its JSON error code and nothing is stored.
func TestPoolAPIRefusesHostileBodies(t *testing.T) {
	e := newEnv(t)
	api := e.curl()
	adminTok, agentTok, platTok := e.token(e.demo.Admin), e.token(e.demo.Agent), e.token("admin")
	other := strconv.Itoa(int(e.otherPool.CustomerID))
	pools := func() int {
		ps, err := e.store.Pools(context.Background(), models.Actor{Role: models.RolePlatformAdmin})
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	before := pools()
	ranges, _ := e.store.NumberRanges(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, 0)
	dir := t.TempDir()
	post := func(tok, query, raw string) curlAnswer {
		body := filepath.Join(dir, "body.json") // a file: the largest bodies exceed an argument's limit
		if err := os.WriteFile(body, []byte(raw), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + body}
		if tok != "" {
			args = append(args, "-H", "Authorization: Bearer "+tok)
		}
		return api.do("/api/v1/pools"+query, args...)
	}
	own := `"name":"P","start_number":"4971121843150","destination":"4915258878874"`
	many := make([]string, 10001)
	for i := range many {
		many[i] = `"` + strconv.Itoa(497112184315000+i) + `"`
	}
	for _, c := range []struct {
		why, tok, query, body string
		status                int
		code                  string
	}{
		{"no token", "", "", `{` + own + `,"numbers":["4971121843150"]}`, 401, "unauthorized"},
		{"an agent", agentTok, "", `{` + own + `,"numbers":["4971121843150"]}`, 403, "forbidden"},
		{"another customer by query", adminTok, "?customer=" + other, `{` + own + `,"numbers":["4971121843150"]}`, 404, "not_found"},
		{"another customer by field", adminTok, "", `{` + own + `,"numbers":["4971121843150"],"customer_id":` + other + `}`, 400, "bad_request"},
		{"a foreign number hidden in one entry", adminTok, "", `{` + own + `,"numbers":["4971121843150 4930555001"]}`, 422, "number_not_assigned"},
		{"a foreign start number", adminTok, "", `{"name":"P","start_number":"4930555001","destination":"4915258878874","numbers":["4971121843150"]}`, 422, "number_not_assigned"},
		{"a LIKE wildcard", adminTok, "", `{` + own + `,"numbers":["49711218431%"]}`, 422, "number_invalid"},
		{"a national form of an own number", adminTok, "", `{` + own + `,"numbers":["071121843150"]}`, 422, "number_not_assigned"},
		{"the call cap", adminTok, "", `{` + own + `,"numbers":["4971121843150"],"max_calls":100000}`, 403, "forbidden"},
		{"the call cap as text", platTok, "?customer=" + other, `{` + own + `,"numbers":["4971121843150"],"max_calls":"5"}`, 400, "bad_request"},
		{"not an object", adminTok, "", `[]`, 400, "bad_request"},
		{"no destination", adminTok, "", `{"name":"P","start_number":"4971121843150","numbers":["4971121843150"]}`, 422, "required"},
		{"10001 numbers", adminTok, "", `{` + own + `,"numbers":[` + strings.Join(many, ",") + `]}`, 422, "too_many_numbers"},
		{"over the body limit", adminTok, "", `{` + own + `,"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "too_large"},
		{"platform admin: a number in another customer's range", platTok, "?customer=" + strconv.Itoa(int(e.demoPool().CustomerID)),
			`{` + own + `,"numbers":["4971121843150","4930555001"]}`, 422, "number_other_customer"},
	} {
		if a := post(c.tok, c.query, c.body); a.Status != c.status || apiCode(a.Body) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.why, a.Status, truncate(a.Body, 200), c.status, c.code)
		}
	}
	if n := pools(); n != before {
		t.Fatalf("%d pools after the attempts, %d before", n, before)
	}
	if after, _ := e.store.NumberRanges(context.Background(), models.Actor{Role: models.RolePlatformAdmin}, 0); len(after) != len(ranges) {
		t.Fatalf("ranges changed: %v, before %v", after, ranges)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
