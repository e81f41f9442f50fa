package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// DialOptions describe the destination leg's INVITE.
type DialOptions struct {
	From  string // the caller's number; "" when withheld
	Offer []byte // our SDP offer; nil: a late offer (the callee offers in its 2xx)
	// Withheld sends the call as anonymous with Privacy: id (RFC 3323, 3325); Asserted are the
	// caller's P-Asserted-Identity values, passed on inside the trust domain.
	Withheld bool
	Asserted []string
}

// trunkTransport is how legs reach the trunk: UDP, TCP or TLS.
func (u *UA) trunkTransport() string {
	switch strings.ToLower(u.cfg.TrunkTransport) {
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return "UDP"
}

// Dial starts the outbound leg: INVITE sip:<to>@<trunk> with o's offer, offering session
// timers and reliable provisional responses. Wait for the answer with Outbound.Wait.
func (u *UA) Dial(ctx context.Context, to string, o DialOptions) (*Outbound, error) {
	host, portStr, err := net.SplitHostPort(u.cfg.Trunk)
	if err != nil {
		return nil, fmt.Errorf("sip: bad trunk %q: %w", u.cfg.Trunk, err)
	}
	port, _ := strconv.Atoi(portStr)
	transport := u.trunkTransport()
	recipient := gosip.Uri{Scheme: "sip", User: to, Host: host, Port: port}
	if transport != "UDP" {
		recipient.UriParams = gosip.NewParams()
		recipient.UriParams.Add("transport", strings.ToLower(transport))
	}
	req := gosip.NewRequest(gosip.INVITE, recipient)
	req.SetTransport(transport)
	fromUser, fromHost := o.From, u.cfg.PublicIP.String()
	if o.Withheld || fromUser == "" {
		fromUser, fromHost = "anonymous", "anonymous.invalid" // RFC 3323 4.1.1.3
	}
	fh := &gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: fromUser, Host: fromHost}, Params: gosip.NewParams()}
	fh.Params.Add("tag", gosip.GenerateTagN(16))
	th := &gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: to, Host: host, Port: port}, Params: gosip.NewParams()}
	callID := gosip.CallIDHeader(randomID())
	contact := u.contact(transport)
	req.AppendHeader(fh)
	req.AppendHeader(th)
	req.AppendHeader(&callID)
	req.AppendHeader(&contact)
	req.AppendHeader(gosip.NewHeader("Allow", allowHeader))
	req.AppendHeader(gosip.NewHeader("Supported", "100rel, timer"))
	if se := u.cfg.sessionExpires(); se > 0 {
		req.AppendHeader(gosip.NewHeader("Session-Expires", secs(max(se, u.cfg.minSE()))))
		req.AppendHeader(gosip.NewHeader("Min-SE", secs(u.cfg.minSE())))
	}
	if o.Withheld {
		for _, a := range o.Asserted {
			req.AppendHeader(gosip.NewHeader("P-Asserted-Identity", a))
		}
		req.AppendHeader(gosip.NewHeader("Privacy", "id"))
	}
	if o.Offer != nil {
		req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(o.Offer)
	}
	u.stamp(req)

	out := &Outbound{Leg: newLeg(string(callID)), ua: u, late: o.Offer == nil, transport: transport}
	out.dialog.localTag = tagOf(fh)
	for _, ip := range u.trust.trunk {
		out.dialog.addPeer(ip)
	}
	u.register(&out.Leg)
	dlg, err := u.dlg.WriteInvite(ctx, req)
	if err != nil {
		u.unregister(&out.Leg)
		return nil, err
	}
	out.dlg = dlg
	dlg.SetCredentials(sipgo.DigestAuth{Username: u.cfg.TrunkUser, Password: u.cfg.TrunkPassword})
	out.Leg.ctx = dlg.Context()
	out.Leg.bye = out.bye
	out.Leg.readBye = dlg.ReadBye
	out.Leg.request = func(ctx context.Context, r *gosip.Request) (*gosip.Response, error) {
		c := u.contact(transport)
		r.AppendHeader(&c)
		u.stamp(r)
		return dlg.Do(ctx, r)
	}
	out.Leg.target = func() gosip.Uri {
		if res := dlg.InviteResponse; res != nil && res.Contact() != nil {
			return *res.Contact().Address.Clone()
		}
		return *dlg.InviteRequest.Recipient.Clone()
	}
	out.Leg.ackTo = func(res *gosip.Response) {
		ack := gosip.NewRequest(gosip.ACK, out.Leg.target())
		ack.AppendHeader(&gosip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: gosip.ACK})
		u.stamp(ack)
		if err := dlg.WriteRequest(ack); err != nil {
			u.log.Info("ACK of re-INVITE not sent", "call_id", out.callID, "err", err)
		}
	}
	return out, nil
}

// trunkAddrs are the trunk's IP addresses, resolved once: its in-dialog requests and answers
// are taken from them.
func trunkAddrs(trunk string) []netip.Addr {
	host, _, err := net.SplitHostPort(trunk)
	if err != nil {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips
}
