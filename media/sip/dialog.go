package sip

import (
	"net/netip"
	"sync"

	gosip "github.com/emiago/sipgo/sip"
)

// A request inside a dialog (BYE, INFO, re-INVITE, UPDATE, PRACK, ACK) belongs to it only when
// its Call-ID, both tags and CSeq order match (RFC 3261 12.2.2) and it comes from the dialog's
// peer: the address its INVITE or answer came from, a hop of its route set, or the trunk.
// Anything else is answered 481 (an ACK: dropped) and changes nothing: a third party who knows
// the Call-ID can neither end the call nor record an objection.

// dialogState is the part of a leg that decides who may speak in its dialog.
type dialogState struct {
	mu         sync.Mutex
	localTag   string       // ours: the To tag we answered with, or the From tag we sent
	remoteTag  string       // the peer's; empty until its answer for a leg we dialled
	remoteCSeq uint32       // the last CSeq number the peer used; 0: none yet
	inviteCSeq uint32       // the CSeq of the INVITE or re-INVITE an ACK must carry
	peers      []netip.Addr // where the peer's requests may come from
}

// mismatch is why a request does not belong to its dialog.
type mismatch int

const (
	inDialog   mismatch = iota
	notDialog           // 481: another dialog, another peer, or none
	outOfOrder          // 500: the peer's CSeq went backwards (RFC 3261 12.2.2)
)

// accept checks req against the dialog and, when it belongs, takes its CSeq as the peer's.
func (d *dialogState) accept(req *gosip.Request) mismatch {
	from, to := tagOf(req.From()), tagOf(req.To())
	src := sourceIP(req.Source())
	seq := uint32(0)
	if c := req.CSeq(); c != nil {
		seq = c.SeqNo
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remoteTag == "" || from != d.remoteTag || to != d.localTag || !d.fromPeer(src) {
		return notDialog
	}
	switch req.Method {
	case gosip.ACK:
		if seq != d.inviteCSeq {
			return notDialog
		}
		return inDialog
	case gosip.CANCEL:
		// A CANCEL belongs to a transaction, never to an established dialog.
		return notDialog
	}
	if d.remoteCSeq != 0 && seq <= d.remoteCSeq {
		return outOfOrder
	}
	d.remoteCSeq = seq
	if req.Method == gosip.INVITE {
		d.inviteCSeq = seq
	}
	return inDialog
}

func (d *dialogState) fromPeer(ip netip.Addr) bool {
	for _, p := range d.peers {
		if p == ip {
			return true
		}
	}
	return false
}

// addPeer lets ip speak in the dialog too (a hop of the route set, where the answer came from).
func (d *dialogState) addPeer(ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	ip = ip.Unmap()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.fromPeer(ip) {
		d.peers = append(d.peers, ip)
	}
}

// addRouteSet adds the hops of a Record-Route set given as IP addresses; host names are not
// resolved (a request naming one must come from an address already known).
func (d *dialogState) addRouteSet(m gosip.Message) {
	for _, h := range m.GetHeaders("Record-Route") {
		rr, ok := h.(*gosip.RecordRouteHeader)
		if !ok {
			continue
		}
		host := rr.Address.Host
		if len(host) > 2 && host[0] == '[' {
			host = host[1 : len(host)-1]
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			d.addPeer(ip)
		}
	}
}

func tagOf(h interface{ Value() string }) string {
	switch v := h.(type) {
	case *gosip.FromHeader:
		if v != nil {
			t, _ := v.Params.Get("tag")
			return t
		}
	case *gosip.ToHeader:
		if v != nil {
			t, _ := v.Params.Get("tag")
			return t
		}
	}
	return ""
}
