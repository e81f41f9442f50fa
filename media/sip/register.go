package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// Registration at the trunk (RFC 3261 10), for trunks that send calls only to a registered
// contact: REGISTER with the trunk's credentials, renewed at half the granted time, retried
// with back-off when the trunk fails or refuses (30 s doubling to 10 min, with jitter), the
// interval raised when the trunk answers 423 with its Min-Expires. Its state is what health
// checks show.

// Registration states.
const (
	RegOff         = "off"
	RegRegistering = "registering"
	RegRegistered  = "registered"
	RegFailed      = "failed"
)

// RegistrationStatus is the trunk registration as health checks show it.
type RegistrationStatus struct {
	State     string    `json:"state"`
	Trunk     string    `json:"trunk,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`      // registered until
	NextTry   time.Time `json:"next_attempt,omitzero"` // the next REGISTER
	LastError string    `json:"last_error,omitempty"`
	Failures  int       `json:"failures,omitempty"` // in a row
}

type registration struct {
	mu     sync.Mutex
	status RegistrationStatus
	callID string
	cseq   uint32
}

const (
	regBackoffMin = 30 * time.Second
	regBackoffMax = 10 * time.Minute
)

// Registration is the trunk registration's state (State RegOff without TrunkRegister).
func (u *UA) Registration() RegistrationStatus {
	u.reg.mu.Lock()
	defer u.reg.mu.Unlock()
	st := u.reg.status
	if !u.cfg.TrunkRegister {
		st.State = RegOff
	}
	if st.State == "" {
		st.State = RegRegistering
	}
	st.Trunk = u.cfg.Trunk
	return st
}

func (u *UA) setReg(f func(*RegistrationStatus)) {
	u.reg.mu.Lock()
	f(&u.reg.status)
	u.reg.mu.Unlock()
}

// keepRegistered registers until ctx ends.
func (u *UA) keepRegistered(ctx context.Context) {
	expires := u.cfg.RegisterExpires
	if expires <= 0 {
		expires = time.Hour
	}
	backoff := regBackoffMin
	for ctx.Err() == nil {
		u.setReg(func(s *RegistrationStatus) { s.State, s.NextTry = RegRegistering, time.Time{} })
		granted, minExp, err := u.registerOnce(ctx, expires)
		var wait time.Duration
		switch {
		case err == nil:
			backoff = regBackoffMin
			// Renewed at half the granted time, so the binding never lapses (a floor of 5 s
			// renewed a registrar's short grant only after it had run out).
			wait = max(granted/2, 500*time.Millisecond)
			u.setReg(func(s *RegistrationStatus) {
				s.State, s.Expires, s.LastError, s.Failures = RegRegistered, time.Now().Add(granted), "", 0
				s.NextTry = time.Now().Add(wait)
			})
			u.log.Info("registered at the trunk", "trunk", u.cfg.Trunk, "expires", granted)
		case minExp > 0 && minExp > expires:
			expires = minExp // 423: ask again at once for what the trunk wants
			continue
		default:
			wait = backoff + rand.N(backoff/2)
			backoff = min(2*backoff, regBackoffMax)
			u.setReg(func(s *RegistrationStatus) {
				s.State, s.LastError, s.NextTry = RegFailed, err.Error(), time.Now().Add(wait)
				s.Failures++
				if !s.Expires.IsZero() && time.Now().After(s.Expires) {
					s.Expires = time.Time{}
				}
			})
			u.log.Warn("trunk registration failed", "trunk", u.cfg.Trunk, "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// registerOnce sends one REGISTER (answering a challenge) and returns the granted time, or the
// trunk's Min-Expires after a 423.
func (u *UA) registerOnce(ctx context.Context, expires time.Duration) (time.Duration, time.Duration, error) {
	res, err := u.sendRegister(ctx, expires)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case res.StatusCode == 423:
		return 0, minExpires(res), fmt.Errorf("trunk answered 423 %s", res.Reason)
	case !res.IsSuccess():
		return 0, 0, fmt.Errorf("trunk answered %d %s", res.StatusCode, res.Reason)
	}
	granted := expires
	if h := firstHeader(res, "Expires"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && v > 0 {
			granted = time.Duration(v) * time.Second
		}
	}
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*gosip.ContactHeader); ok && c.Params != nil {
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					granted = time.Duration(n) * time.Second
				}
			}
		}
	}
	return granted, 0, nil
}

func minExpires(res *gosip.Response) time.Duration {
	if h := firstHeader(res, "Min-Expires"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && v > 0 && v <= 86400 {
			return time.Duration(v) * time.Second
		}
	}
	return 0
}

// sendRegister sends REGISTER with expires (0: remove the binding) and answers a challenge.
func (u *UA) sendRegister(ctx context.Context, expires time.Duration) (*gosip.Response, error) {
	host, portStr, err := net.SplitHostPort(u.cfg.Trunk)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	u.reg.mu.Lock()
	if u.reg.callID == "" {
		u.reg.callID = randomID() // one Call-ID for every refresh (RFC 3261 10.2)
		u.reg.cseq = 1
	}
	u.reg.cseq += 2 // a challenged REGISTER takes the number between
	callID, cseq := u.reg.callID, u.reg.cseq
	u.reg.mu.Unlock()
	user := u.cfg.TrunkUser
	aor := gosip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: host, Port: port})
	transport := u.trunkTransport()
	req.SetTransport(transport)
	fh := &gosip.FromHeader{Address: aor, Params: gosip.NewParams()}
	fh.Params.Add("tag", gosip.GenerateTagN(16))
	th := &gosip.ToHeader{Address: aor, Params: gosip.NewParams()}
	cid := gosip.CallIDHeader(callID)
	contact := u.contact(transport)
	contact.Address.User = user
	req.AppendHeader(fh)
	req.AppendHeader(th)
	req.AppendHeader(&cid)
	req.AppendHeader(&gosip.CSeqHeader{SeqNo: cseq, MethodName: gosip.REGISTER})
	req.AppendHeader(&contact)
	req.AppendHeader(gosip.NewHeader("Expires", secs(expires)))
	u.stamp(req)
	ctx, cancel := context.WithTimeout(ctx, 32*time.Second)
	defer cancel()
	res, err := u.cli.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && u.cfg.TrunkPassword != "" {
		res, err = u.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: u.cfg.TrunkPassword})
	}
	return res, err
}

// unregisterTrunk removes our binding at shutdown (best effort, a few seconds at most).
func (u *UA) unregisterTrunk() {
	if !u.cfg.TrunkRegister || u.Registration().State != RegRegistered {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = u.sendRegister(ctx, 0)
}
