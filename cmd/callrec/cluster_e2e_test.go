package main

import (
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"callrec/internal/kamailiotest"
	"callrec/internal/pgtest"
	"callrec/internal/s3test"
	"callrec/internal/sipptest"
	"callrec/internal/testtool"
)

// clusterNodeProc is one callrec node of the cluster test: `callrec serve` in a child process
// (the test kills it with SIGKILL or ends it with SIGTERM), on its own data folder, SIP
// address, internal API, FTPS and SFTP addresses.
type clusterNodeProc struct {
	t                        *testing.T
	id, sip, http, ftp, sftp string
	args, env                []string
	out                      *syncBuffer
	cmd                      *exec.Cmd
	exited                   chan error
	adminPW                  string // the demo's customer admin, printed by the node that seeded
	startedAt, killed        time.Time
}

const clusterSecret = "cluster-test-secret-0123456789"

// launchClusterNode starts a node without waiting for it (waitUp does).
func launchClusterNode(t *testing.T, id, sip, db, storage, trunk, rtp string, env []string) *clusterNodeProc {
	t.Helper()
	free := func() string { return "127.0.0.1:" + strconv.Itoa(sipptest.FreePort(t)) }
	n := &clusterNodeProc{t: t, id: id, env: env, sip: sip, http: free(), ftp: free(), sftp: free()}
	pasv := sipptest.FreePort(t)
	n.args = []string{"serve", "--demo", "--data", t.TempDir(), "--db", db, "--storage", storage, "--http", n.http, "--sip", n.sip,
		"--trunk", trunk, "--rtp-ports", rtp, "--log-level", "info", "--node-id", id, "--cluster-addr", free(),
		"--cluster-secret", clusterSecret, "--drain-timeout", "2m",
		"--ftp", n.ftp, "--ftp-passive-ports", fmt.Sprintf("%d-%d", pasv, pasv+10), "--sftp", n.sftp}
	n.launch()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("node %s log (tail):\n%s", n.id, lastLines(n.out.String(), 80))
		}
	})
	return n
}

func (n *clusterNodeProc) launch() {
	n.t.Helper()
	n.out = &syncBuffer{}
	n.cmd = exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	n.cmd.Env = append(append(os.Environ(), n.env...), "CALLREC_SERVE_HELPER=1", "CALLREC_SERVE_ARGS="+strings.Join(n.args, "\t"),
		"CALLREC_ADMIN_PASSWORD=platform-admin-pw")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.exited = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(n.cmd, n.exited)
	n.startedAt = time.Now()
}

// waitUp waits until the node's panel answers /healthz.
func (n *clusterNodeProc) waitUp() {
	n.t.Helper()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + n.http + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-n.exited:
			n.t.Fatalf("node %s exited at start: %v\n%s", n.id, err, n.out)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s not up within 90 s\n%s", n.id, n.out)
		}
	}
	if m := regexp.MustCompile(`customer admin: user demo-admin, password (\S+)`).FindStringSubmatch(n.out.String()); m != nil {
		n.adminPW = m[1]
	}
}

// restart starts the node again with the same id, folder and addresses.
func (n *clusterNodeProc) restart() {
	n.t.Helper()
	n.launch()
	n.waitUp()
}

// kill is kill -9.
func (n *clusterNodeProc) kill() {
	if n.cmd == nil || n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Kill()
	n.killed = time.Now()
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
	}
}

// term sends SIGTERM: the node drains.
func (n *clusterNodeProc) term() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
}

func (n *clusterNodeProc) product() *product {
	return &product{t: n.t, http: n.http, sip: n.sip}
}

// clusterTokens are the platform admin's (who sees which node holds a call) and the customer
// admin's (who sees the recordings).
type clusterTokens struct{ root, cust string }

// clusterRig is the cluster under test: PostgreSQL of its own (it is restarted), a SeaweedFS
// bucket, Kamailio with the shipped configuration, three nodes on 127.0.0.2-4 and a sipp
// carrier on 127.0.0.5 (callee of every destination leg, caller of every call).
type clusterRig struct {
	t          *testing.T
	pg         *pgtest.Cluster
	db         string
	sqldb      *sql.DB
	proxy      *kamailiotest.Proxy
	a, b, c    *clusterNodeProc
	tok        clusterTokens
	calleePort int
	callee     *sipptest.Sipp
}

func (r *clusterRig) nodes() []*clusterNodeProc { return []*clusterNodeProc{r.a, r.b, r.c} }

func newClusterRig(t *testing.T) *clusterRig {
	t.Helper()
	r := &clusterRig{t: t, pg: pgtest.New(t)}
	r.db = r.pg.DB(t)
	r.sqldb = openSQL(t, r.db)
	t.Cleanup(func() { r.sqldb.Close() })
	bucket := s3test.New(t)
	var env []string
	for k, v := range bucket.Env() {
		env = append(env, k+"="+v)
	}
	storage := "s3://" + bucket.Name + "/cluster"

	// Kamailio's dispatcher.list names the nodes' SIP addresses: chosen first.
	r.calleePort = kamailiotest.FreeUDPPort(t, "127.0.0.5")
	sip := func(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(kamailiotest.FreeUDPPort(t, ip))) }
	sipA, sipB, sipC := sip("127.0.0.2"), sip("127.0.0.3"), sip("127.0.0.4")
	r.proxy = kamailiotest.Start(t, kamailiotest.Config{Nodes: []string{sipA, sipB, sipC},
		Carriers: []string{"127.0.0.5:" + strconv.Itoa(r.calleePort)}})

	// The first node migrates the database and seeds the demo; the others start beside each other.
	r.a = launchClusterNode(t, "node-a", sipA, r.db, storage, r.proxy.Addr, "42000-42599", env)
	r.a.waitUp()
	r.b = launchClusterNode(t, "node-b", sipB, r.db, storage, r.proxy.Addr, "42600-43199", env)
	r.c = launchClusterNode(t, "node-c", sipC, r.db, storage, r.proxy.Addr, "43200-43799", env)
	r.b.waitUp()
	r.c.waitUp()
	if r.a.adminPW == "" {
		t.Fatalf("no demo passwords printed\n%s", r.a.out)
	}
	r.tok = clusterTokens{root: tokenFor(t, r.db, "admin"), cust: tokenFor(t, r.db, "demo-admin")}
	r.a.product().bookDemoPool(r.tok.cust)
	for _, n := range r.nodes() {
		waitDispatcher(t, r.proxy, n.sip, true, 15*time.Second)
	}
	r.startCallee()
	return r
}

// startCallee starts the carrier's callee: it answers every destination leg.
func (r *clusterRig) startCallee() {
	r.callee = sipptest.Start(r.t, "sipp_proxy_callee.xml", map[string]string{"PT": "0", "CODEC": "PCMU",
		"AUDIO": sipptest.Testdata("callee_1000.ulaw"), "ACTIONS": "", "RING_MS": "50"},
		"-i", "127.0.0.5", "-mi", "127.0.0.5", "-p", strconv.Itoa(r.calleePort), "-aa", "-m", "100000", "-l", "1000", "-timeout", "600s")
	r.t.Cleanup(r.callee.Kill)
}

// restartCallee replaces the carrier's callee when no call is up: the legs of the calls node B
// lost with its kill are never hung up at the callee, which goes on streaming audio to B's old
// ports. B, started again, reuses ports of the same range, and a new call's leg latches onto
// such a stream when it comes from the leg's own host (symmetric RTP, 127.0.0.5 here as a
// carrier's gateway would be): its audio then goes to the stale stream's port.
func (r *clusterRig) restartCallee() {
	r.callee.Kill()
	time.Sleep(200 * time.Millisecond)
	r.startCallee()
}

// TestClusterBehindKamailio is `make test-cluster`: the shipped Kamailio configuration in front
// of three callrec nodes on one PostgreSQL database and one S3 bucket (SeaweedFS), sipp as the
// carrier on both sides.
//
//  1. 60 concurrent recorded calls land on all three nodes; each node's live list shows all.
//  2. Recording is stopped and started from node A's API on calls held by node B; node C's
//     live API and its live page's stream show each change (latencies measured).
//  3. kill -9 of node B under load: new calls keep connecting (failures counted: at most one
//     probe interval's worth, none after Kamailio saw B gone), start/stop on a B call answers
//     503 node_unavailable within 1 s, a peer ends B's calls as interrupted within 10 s of its
//     lease running out; B restarted uploads its spool and the files play (ranged GETs).
//  4. SIGTERM to node C under load: its calls end normally, it takes no new call, it exits.
//  5. Every recording of A and C (and of the calls placed meanwhile) is exact.
//  6. PostgreSQL restarted (down longer than a lease) under load: calls go on, none is
//     taken over, nothing is lost, the panel answers again.
//  7. An announcement changed on node A is what a caller hears on node B.
//  8. A recording made on node A is downloaded over FTPS and SFTP of node B.
//  9. A rolling restart of the three nodes under a stream of calls drops none.
func TestClusterBehindKamailio(t *testing.T) {
	testtool.Short(t)
	testtool.Need(t, "sipp", "sip-tester")
	testtool.Need(t, "curl", "curl")
	if os.Getenv("CALLREC_TEST_DB") == "postgres" {
		t.Skip("the cluster test runs on a PostgreSQL of its own on every pass; the SQLite pass ran it")
	}
	began := time.Now()
	r := newClusterRig(t)
	t.Logf("cluster up: %s", time.Since(began).Round(100*time.Millisecond))
	m := &clusterMeasures{}

	load := r.spread(m)
	r.controlAcrossNodes(m)
	fo := r.killNodeB(m)
	_, drain := r.drainNodeC(m)
	r.checkSurvivors(m, load, fo, drain)
	r.postgresRestart(m)
	r.restartCallee()
	r.promptAcrossNodes()
	r.ftpAcrossNodes()
	r.rollingRestart(m)
	m.report(t)
	t.Logf("whole run: %s", time.Since(began).Round(100*time.Millisecond))
}
