package web

import (
	"strings"
	"testing"
)

// TestAuditInMenu: the audit log is in the menu of both kinds of administrators (the platform
// admin's shows every customer's), not in an agent's.
func TestAuditInMenu(t *testing.T) {
	e := newEnv(t)
	for who, c := range map[string]*client{"platform admin": e.platform(), "customer admin": e.admin(), "agent": e.agent()} {
		st, body := c.get("/pools")
		if st != 200 {
			t.Fatalf("%s: /pools %d", who, st)
		}
		if has := strings.Contains(body, `data-testid="nav-audit"`); has != (who != "agent") {
			t.Errorf("%s: audit in the menu: %v", who, has)
		}
	}
	if st, _ := e.platform().get("/audit"); st != 200 {
		t.Errorf("platform admin: /audit %d", st)
	}
}
