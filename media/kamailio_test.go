package media

// The engine behind a real Kamailio (Debian's kamailio 5.6, media/testdata/kamailio_interop.cfg)
// as the proxy on both legs, with Record-Route: the caller's requests and the destination
// leg's pass it, in-dialog requests follow the route sets. With CHALLENGE=1 the same Kamailio
// is the carrier's registrar and authenticating proxy.

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"callrec/internal/kamailiotest"
	"callrec/internal/testtool"
)

// behindKamailio starts an engine and a Kamailio in front of it (the engine's trunk is the
// same Kamailio, which sends the destination leg on to a sipp callee on the returned port).
func behindKamailio(t *testing.T, defines map[string]string, mod func(*Config)) (*testEngine, *kamailiotest.Proxy, int) {
	t.Helper()
	enginePort, callee := freePort(t), freePort(t)
	d := map[string]string{
		"ENGINE_IP":   `"127.0.0.1"`,
		"ENGINE_PORT": strconv.Itoa(enginePort),
		"ENGINE_URI":  `"sip:127.0.0.1:` + strconv.Itoa(enginePort) + `"`,
		"CALLEE":      `"sip:127.0.0.1:` + strconv.Itoa(callee) + `"`,
	}
	for k, v := range defines {
		d[k] = v
	}
	kam := kamailiotest.Start(t, kamailiotest.Config{File: testdata(t, "kamailio_interop.cfg"), Defines: d})
	e := startEngine(t, recordedRoute(t), 0, func(c *Config) {
		c.SIPAddr = "127.0.0.1:" + strconv.Itoa(enginePort)
		c.Trunk = kam.Addr
		if mod != nil {
			mod(c)
		}
	})
	return e, kam, callee
}

// viaKamailio starts sipp as the caller, sending to Kamailio.
func viaKamailio(t *testing.T, kam *kamailiotest.Proxy, body string) *sipp {
	t.Helper()
	return script(t, body, nil, "-p", strconv.Itoa(freePort(t)), "-s", "49711218431431", kam.Addr)
}

// relayedBy counts the in-dialog requests of method Kamailio routed (its log line per request).
func relayedBy(kam *kamailiotest.Proxy, method string) int {
	return strings.Count(kam.Log(), "in dialog: "+method+" ")
}

// TestKamailioHoldResume: the caller's hold and resume re-INVITEs reach the engine through
// Kamailio's Record-Route, and the engine's relayed re-INVITEs reach the destination through
// it too; the recording has the destination silent only while held.
func TestKamailioHoldResume(t *testing.T) {
	testtool.Short(t)
	e, kam, callee := behindKamailio(t, nil, nil)
	dest := calleeScript(t, callee, holdCallee("sendonly"))
	caller := viaKamailio(t, kam, holdCaller(sdpBodyV(2, "sendonly")))
	waitBoth(t, caller, dest)
	checkHold(t, e, e.sink.wait(t, 10*time.Second))
	// Hold and resume: the caller's two re-INVITEs and the engine's two to the destination,
	// their ACKs, one BYE per leg.
	for m, n := range map[string]int{"INVITE": 4, "ACK": 6, "BYE": 2} {
		if got := relayedBy(kam, m); got < n {
			t.Errorf("%d in-dialog %s passed Kamailio, want %d:\n%s", got, m, n, kam.Log())
		}
	}
}

// TestKamailioLateOffer: INVITEs without SDP on both legs through Kamailio; the answers in the
// ACKs, which Kamailio routes by the route sets.
func TestKamailioLateOffer(t *testing.T) {
	testtool.Short(t)
	e, kam, callee := behindKamailio(t, nil, nil)
	dest := calleeScript(t, callee, lateOfferCallee())
	caller := viaKamailio(t, kam, lateOfferCaller())
	waitBoth(t, caller, dest)
	checkLateOffer(t, e)
	if relayedBy(kam, "ACK") < 2 || relayedBy(kam, "BYE") < 2 {
		t.Errorf("ACK or BYE did not pass Kamailio:\n%s", kam.Log())
	}
}

// challenging is Kamailio as the carrier's registrar and authenticating proxy with alg.
func challenging(alg string) map[string]string {
	return map[string]string{"CHALLENGE": "1", "ALGORITHM": `"` + alg + `"`, "USER": `"trunkuser"`, "PASSWORD": `"s3cret!"`}
}

// credentials are the engine's answers to the challenges of method Kamailio accepted.
func credentials(kam *kamailiotest.Proxy, method string) []string {
	var out []string
	for _, l := range strings.Split(kam.Log(), "\n") {
		if _, c, ok := strings.Cut(l, "authenticated "+method+" as trunkuser: "); ok {
			out = append(out, c)
		}
	}
	return out
}

// checkDigest: every credential Kamailio accepted answered its challenge with alg and qop=auth
// (a nonce count and a client nonce).
func checkDigest(t *testing.T, creds []string, alg string) {
	t.Helper()
	for _, c := range creds {
		for _, want := range []string{"algorithm=" + alg, "qop=auth", "nc=", "cnonce=", `username="trunkuser"`, `realm="carrier.example"`} {
			if !strings.Contains(c, want) {
				t.Errorf("credentials without %s: %s", want, c)
			}
		}
	}
}

// TestKamailioRegistrarChallenge: with --trunk-register the engine registers at a real
// registrar that challenges every REGISTER with 401 (qop=auth, MD5 or SHA-256); it answers,
// is registered, and renews twice, each time before the granted 3 s ran out, each renewal
// challenged and answered again.
func TestKamailioRegistrarChallenge(t *testing.T) {
	testtool.Short(t)
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			e, kam, _ := behindKamailio(t, challenging(alg), func(c *Config) {
				c.TrunkUser, c.TrunkPassword = "trunkuser", "s3cret!"
				c.TrunkRegister, c.RegisterExpires = true, 3*time.Second
			})
			// When each registration was seen: a renewal must come before the last one's 3 s ran out.
			var seen []time.Time
			for deadline := time.Now().Add(20 * time.Second); len(seen) < 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if n := strings.Count(kam.Log(), "registered sip:trunkuser@"); n > len(seen) {
					seen = append(seen, time.Now())
				}
			}
			for i := 1; i < len(seen); i++ {
				if gap := seen[i].Sub(seen[i-1]); gap >= 3*time.Second {
					t.Errorf("renewal %d came %v after the last registration, which was granted 3 s", i, gap)
				}
			}
			creds := credentials(kam, "REGISTER")
			reg := e.Health().Registration
			t.Logf("%d REGISTERs accepted; registration %+v", len(creds), reg)
			if len(creds) < 3 || len(seen) < 3 {
				t.Fatalf("want a registration and a renewal, got %d accepted:\n%s", len(creds), kam.Log())
			}
			if reg.State != "registered" || reg.Failures != 0 {
				t.Fatalf("registration %+v", reg)
			}
			if !strings.Contains(kam.Log(), "challenging REGISTER with 401") {
				t.Fatalf("the registrar never challenged:\n%s", kam.Log())
			}
			checkDigest(t, creds, alg)
		})
	}
}

// TestKamailioTrunkChallengesInvite: the proxy answers the engine's INVITE to the destination
// with 407 (qop=auth, MD5 or SHA-256); the engine answers with Proxy-Authorization, Kamailio
// verifies it, and the call is recorded in full.
func TestKamailioTrunkChallengesInvite(t *testing.T) {
	testtool.Short(t)
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			e, kam, callee := behindKamailio(t, challenging(alg), func(c *Config) {
				c.TrunkUser, c.TrunkPassword = "trunkuser", "s3cret!"
			})
			dest := calleeScript(t, callee, plainCallee(""))
			caller := viaKamailio(t, kam, plainCaller("", 2500, 2))
			waitBoth(t, caller, dest)
			c := e.sink.wait(t, 10*time.Second)
			if c.Outcome != OutcomeCompleted {
				t.Fatalf("outcome %q events %+v", c.Outcome, c.Events)
			}
			bothVoices(t, e, c, 500*time.Millisecond, -300*time.Millisecond)
			creds := credentials(kam, "INVITE")
			if len(creds) != 1 || !strings.Contains(kam.Log(), "challenging INVITE with 407") {
				t.Fatalf("want one challenged and authenticated INVITE, got %d:\n%s", len(creds), kam.Log())
			}
			checkDigest(t, creds, alg)
		})
	}
}

// TestKamailioSessionRefresh: we refresh 2 s sessions on both legs through Kamailio, the
// caller's by re-INVITE and the destination's by UPDATE, each following its leg's route set;
// the call outlives its interval and nothing expires.
func TestKamailioSessionRefresh(t *testing.T) {
	testtool.Short(t)
	e, kam, callee := behindKamailio(t, nil, func(c *Config) { c.MinSE, c.SessionExpires = time.Second, 2*time.Second })
	dest := calleeScript(t, callee, refreshedCallee())
	caller := viaKamailio(t, kam, refreshedCaller())
	waitBoth(t, caller, dest)
	checkRefreshed(t, e)
	// Two refreshing re-INVITEs to the caller, two UPDATEs to the destination.
	if relayedBy(kam, "INVITE") < 2 || relayedBy(kam, "UPDATE") < 2 {
		t.Fatalf("refreshes did not pass Kamailio:\n%s", kam.Log())
	}
}

// TestKamailioRegistrarRefusal: the registrar keeps refusing (our password is not the one it
// checks); the registration is failed with the registrar's answer as the reason and the next
// attempt backed off (at least 30 s away), not a tight loop of REGISTERs.
func TestKamailioRegistrarRefusal(t *testing.T) {
	testtool.Short(t)
	e, kam, _ := behindKamailio(t, challenging("SHA-256"), func(c *Config) {
		c.TrunkUser, c.TrunkPassword = "trunkuser", "not-the-password"
		c.TrunkRegister, c.RegisterExpires = true, 3*time.Second
	})
	var reg = e.Health().Registration
	for deadline := time.Now().Add(15 * time.Second); reg.State != "failed" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		reg = e.Health().Registration
	}
	t.Logf("registration %+v", reg)
	if reg.State != "failed" || reg.Failures != 1 || !strings.Contains(reg.LastError, "401") {
		t.Fatalf("registration %+v:\n%s", reg, kam.Log())
	}
	if wait := time.Until(reg.NextTry); wait < 29*time.Second {
		t.Fatalf("next attempt in %v: no back-off", wait)
	}
	time.Sleep(2 * time.Second)
	if n := strings.Count(kam.Log(), "challenging REGISTER"); n > 2 {
		t.Fatalf("%d REGISTERs challenged within 2 s of the failure: no back-off", n)
	}
}
