package web

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"callrec/models"
)

var newTokenRE = regexp.MustCompile(`data-testid="new-token">(cr_[0-9a-f]+)<`)

// tokenIDs reads a token list of the API.
func tokenIDs(t *testing.T, a curlAnswer) []uint {
	t.Helper()
	var out struct {
		Tokens []tokenJSON `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(a.Body), &out); err != nil {
		t.Fatalf("%d %s: %v", a.Status, a.Body, err)
	}
	ids := make([]uint, len(out.Tokens))
	for i, tk := range out.Tokens {
		ids[i] = tk.ID
	}
	return ids
}

func bearer(tok string) []string { return []string{"-H", "Authorization: Bearer " + tok} }

// TestLeakedTokenCanBeRevokedByOwnerAndAdmin: a token that leaked must be stoppable. Its owner
// lists and revokes their tokens (account page and API); the customer's admin lists and revokes
// a user's (user page and API), and so does the platform admin; another customer's admin sees
// none of them (404, as for a token that does not exist). A revoked token opens nothing, at once.
func TestLeakedTokenCanBeRevokedByOwnerAndAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agentUser, err := e.store.UserByName(ctx, e.demo.Agent)
	if err != nil {
		t.Fatal(err)
	}
	agent := e.curl().login(e.demo.Agent, e.demo.AgentPassword)
	create := func(name string) string {
		t.Helper()
		a := agent.do("/account/tokens", "--data-urlencode", "_csrf="+agent.csrf, "--data-urlencode", "name="+name)
		m := newTokenRE.FindStringSubmatch(a.Body)
		if a.Status != http.StatusOK || m == nil {
			t.Fatalf("create token %s: %d", name, a.Status)
		}
		return m[1]
	}
	if a := agent.do("/account/tokens", "--data-urlencode", "_csrf="+agent.csrf, "--data-urlencode", "name="); a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("token without a name: %d", a.Status)
	}
	tok1, tok2, tok3 := create("script one"), create("script two"), create("script three")
	api := e.curl()
	if a := api.do("/api/v1/me", bearer(tok1)...); a.Status != http.StatusOK {
		t.Fatalf("new token: %d", a.Status)
	}
	own := tokenIDs(t, api.do("/api/v1/tokens", bearer(tok1)...))
	if len(own) != 3 {
		t.Fatalf("own tokens: %v", own)
	}
	// Another customer's admin: neither the list nor the token exists for them.
	other := e.token(e.otherAdmin)
	if a := api.do("/api/v1/tokens?user="+strconv.Itoa(int(agentUser.ID)), bearer(other)...); a.Status != http.StatusNotFound {
		t.Fatalf("other customer's admin lists the agent's tokens: %d %s", a.Status, a.Body)
	}
	if a := api.do("/api/v1/tokens/"+strconv.Itoa(int(own[0])), append(bearer(other), "-X", "DELETE")...); a.Status != http.StatusNotFound {
		t.Fatalf("other customer's admin revokes: %d", a.Status)
	}
	// An agent cannot manage the admin's tokens either.
	adminTok := e.token(e.demo.Admin)
	adminID := tokenIDs(t, api.do("/api/v1/tokens", bearer(adminTok)...))[0]
	if a := api.do("/api/v1/tokens/"+strconv.Itoa(int(adminID)), append(bearer(tok1), "-X", "DELETE")...); a.Status != http.StatusNotFound {
		t.Fatalf("agent revokes the admin's token: %d", a.Status)
	}
	// The owner revokes tok3 (own[0], newest first) by the API, with the token itself.
	if a := api.do("/api/v1/tokens/"+strconv.Itoa(int(own[0])), append(bearer(tok3), "-X", "DELETE")...); a.Status != http.StatusNoContent {
		t.Fatalf("owner revokes by API: %d %s", a.Status, a.Body)
	}
	if a := api.do("/api/v1/me", bearer(tok3)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", a.Status)
	}
	// The customer admin sees the two left and revokes tok2 on the agent's page.
	if ids := tokenIDs(t, api.do("/api/v1/tokens?user="+strconv.Itoa(int(agentUser.ID)), bearer(adminTok)...)); len(ids) != 2 || ids[0] != own[1] {
		t.Fatalf("admin's list of the agent's tokens: %v", ids)
	}
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	page := "/users/" + strconv.Itoa(int(agentUser.ID))
	if a := admin.do(page); a.Status != 200 || !regexp.MustCompile(`data-testid="token-row-`+strconv.Itoa(int(own[1]))+`"`).MatchString(a.Body) {
		t.Fatalf("agent's page: %d", a.Status)
	}
	if a := admin.do(page+"/tokens/"+strconv.Itoa(int(own[1]))+"/revoke", "-X", "POST", "-H", "X-CSRF-Token: "+admin.csrf); a.Status != http.StatusSeeOther {
		t.Fatalf("admin revokes on the page: %d", a.Status)
	}
	if a := api.do("/api/v1/me", bearer(tok2)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("token revoked by the admin: %d", a.Status)
	}
	// A token id in another user's page path is not found there.
	if a := admin.do(page+"/tokens/"+strconv.Itoa(int(adminID))+"/revoke", "-X", "POST", "-H", "X-CSRF-Token: "+admin.csrf); a.Status != http.StatusNotFound {
		t.Fatalf("the admin's own token under the agent's page: %d", a.Status)
	}
	// The platform admin revokes the last one on the agent's page under the customer.
	plat := e.curl().login("admin", "admin-password-1")
	ppage := "/admin/customers/" + strconv.Itoa(int(*agentUser.CustomerID)) + "/users/" + strconv.Itoa(int(agentUser.ID))
	if a := plat.do(ppage+"/tokens/"+strconv.Itoa(int(own[2]))+"/revoke", "-X", "POST", "-H", "X-CSRF-Token: "+plat.csrf); a.Status != http.StatusSeeOther {
		t.Fatalf("platform admin revokes: %d", a.Status)
	}
	if a := api.do("/api/v1/me", bearer(tok1)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("token revoked by the platform admin: %d", a.Status)
	}
	// The owner revokes on the account page too.
	tok4 := create("script four")
	ids := tokenIDs(t, api.do("/api/v1/tokens", bearer(tok4)...))
	if a := agent.do("/account/tokens/"+strconv.Itoa(int(ids[0]))+"/revoke", "-X", "POST", "-H", "X-CSRF-Token: "+agent.csrf); a.Status != http.StatusSeeOther {
		t.Fatalf("owner revokes on the account page: %d", a.Status)
	}
	if a := api.do("/api/v1/me", bearer(tok4)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("token revoked on the account page: %d", a.Status)
	}
	if n := e.auditCount(models.AuditTokenRevoked); n != 4 {
		t.Fatalf("%d token.revoked audit events, want 4", n)
	}
	if n := e.auditCount(models.AuditTokenCreated); n != 4 {
		t.Fatalf("%d token.created audit events, want 4", n)
	}
}

// TestTokensDieWithTheirUser: disabling a user revokes their tokens (enabling them again brings
// none back), and deleting a user removes the user, their tokens and their sessions.
func TestTokensDieWithTheirUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.store.UserByName(ctx, e.demo.Agent)
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token(e.demo.Agent)
	api := e.curl()
	if a := api.do("/api/v1/me", bearer(tok)...); a.Status != http.StatusOK {
		t.Fatalf("token: %d", a.Status)
	}
	admin := e.curl().login(e.demo.Admin, e.demo.AdminPassword)
	page := "/users/" + strconv.Itoa(int(u.ID))
	save := func(disabled bool) {
		t.Helper()
		args := []string{"--data-urlencode", "_csrf=" + admin.csrf, "--data-urlencode", "role=agent"}
		if disabled {
			args = append(args, "--data-urlencode", "disabled=1")
		}
		if a := admin.do(page, args...); a.Status != http.StatusSeeOther {
			t.Fatalf("save user (disabled %v): %d", disabled, a.Status)
		}
	}
	save(true)
	if a := api.do("/api/v1/me", bearer(tok)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("token of a disabled user: %d", a.Status)
	}
	save(false)
	if a := api.do("/api/v1/me", bearer(tok)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("token after the user was enabled again: %d, want it revoked for good", a.Status)
	}
	// Deleting: a logged-in session and a token of the user both stop.
	agent := e.curl().login(e.demo.Agent, e.demo.AgentPassword)
	tok = e.token(e.demo.Agent)
	if a := admin.do(page+"/delete", "-X", "POST", "-H", "X-CSRF-Token: "+admin.csrf); a.Status != http.StatusSeeOther {
		t.Fatalf("delete user: %d", a.Status)
	}
	if a := api.do("/api/v1/me", bearer(tok)...); a.Status != http.StatusUnauthorized {
		t.Fatalf("token of a deleted user: %d", a.Status)
	}
	if a := agent.do("/pools"); a.Status != http.StatusSeeOther {
		t.Fatalf("session of a deleted user: %d, want the login page", a.Status)
	}
	if _, err := e.store.UserByName(ctx, e.demo.Agent); err == nil {
		t.Fatal("user still there")
	}
	var n int64
	e.store.SQL().QueryRow(`SELECT count(*) FROM api_tokens WHERE user_id = $1`, u.ID).Scan(&n)
	if n != 0 {
		t.Fatalf("%d tokens left", n)
	}
	if e.auditCount(models.AuditUserDeleted) != 1 {
		t.Fatal("no user.deleted audit event")
	}
	// An admin cannot delete themselves, and another customer's admin finds no such user.
	self, _ := e.store.UserByName(ctx, e.demo.Admin)
	if a := admin.do("/users/"+strconv.Itoa(int(self.ID))+"/delete", "-X", "POST", "-H", "X-CSRF-Token: "+admin.csrf); a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("admin deletes themselves: %d", a.Status)
	}
	other := e.curl().login(e.otherAdmin, e.otherPW)
	if a := other.do("/users/"+strconv.Itoa(int(self.ID))+"/delete", "-X", "POST", "-H", "X-CSRF-Token: "+other.csrf); a.Status != http.StatusNotFound {
		t.Fatalf("other customer's admin deletes: %d", a.Status)
	}
}
