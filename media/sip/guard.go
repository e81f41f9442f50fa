package sip

import (
	"strings"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// The user agent core's checks of every request before it reaches a handler: who sent it
// (trust outside a dialog, the dialog's peer inside one: admission.go, dialog.go), then RFC
// 3261 8.2: method, Request-URI scheme, required extensions, body type and what the sender
// accepts. What makes a message malformed (syntax, duplicate or missing headers, CSeq, version)
// is refused earlier by the SIP library; an ACK is never answered.

// allowed are the methods the engine serves, in the order Allow lists them.
var allowed = []gosip.RequestMethod{gosip.INVITE, gosip.ACK, gosip.BYE, gosip.CANCEL, gosip.OPTIONS, gosip.INFO,
	gosip.UPDATE, gosip.PRACK}

const allowHeader = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, PRACK"

// known are methods defined by a standard that the engine does not serve: 405, not 501
// (RFC 3261 8.2.1, 21.4.6, 21.5.2).
var known = map[gosip.RequestMethod]bool{
	gosip.REGISTER: true, gosip.SUBSCRIBE: true, gosip.NOTIFY: true, gosip.REFER: true,
	gosip.MESSAGE: true, gosip.PUBLISH: true,
}

// bodyTypes are the body types each method's handler reads; a body of any other type gets 415.
var bodyTypes = map[gosip.RequestMethod][]string{
	gosip.INVITE: {"application/sdp"},
	gosip.UPDATE: {"application/sdp"},
	gosip.INFO:   {"application/dtmf-relay", "application/dtmf"},
}

// supported are the option tags a Require may name: session timers (RFC 4028). 100rel is
// spoken towards callees only; a caller requiring it gets 420 (the engine sends no reliable
// provisional responses).
var supported = map[string]bool{"timer": true}

// refusal is the response a request gets instead of reaching its handler.
type refusal struct {
	code    int
	reason  string
	headers []gosip.Header
}

// inspect is the core's verdict on req; nil lets it through.
func inspect(req *gosip.Request) *refusal {
	m := req.Method
	served := false
	for _, a := range allowed {
		served = served || a == m
	}
	allow := gosip.NewHeader("Allow", allowHeader)
	switch {
	case !served && known[m]:
		return &refusal{405, "Method Not Allowed", []gosip.Header{allow}}
	case !served:
		return &refusal{501, "Not Implemented", []gosip.Header{allow}}
	}
	if s := req.Recipient.Scheme; s != "sip" && s != "sips" {
		// 8.2.2.1; RFC 4475 3.3.2, 3.3.3. A B2BUA calls numbers at SIP addresses only.
		return &refusal{416, "Unsupported URI Scheme", nil}
	}
	if m == gosip.CANCEL {
		// A CANCEL carries no Require or body of its own (9.1) and is matched by the
		// transaction layer.
		return nil
	}
	if unknown := unsupportedOptions(req); len(unknown) > 0 {
		// 8.2.2.3: Proxy-Require is for proxies; a UAS looks at Require only.
		return &refusal{420, "Bad Extension", []gosip.Header{gosip.NewHeader("Unsupported", strings.Join(unknown, ", "))}}
	}
	if types, ok := bodyTypes[m]; ok && len(req.Body()) > 0 {
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = mediaType(h.Value())
		}
		if !contains(types, ct) {
			// 8.2.3; RFC 4475 3.3.6.
			return &refusal{415, "Unsupported Media Type", []gosip.Header{gosip.NewHeader("Accept", strings.Join(types, ", "))}}
		}
	}
	if m == gosip.INVITE {
		if !accepts(req, "application/sdp") {
			// Our answers carry SDP, which the sender says it cannot take (RFC 4475 3.3.15).
			return &refusal{406, "Not Acceptable", []gosip.Header{gosip.NewHeader("Accept", "application/sdp")}}
		}
		if req.Contact() == nil {
			// 8.1.1.8: a dialog needs a remote target. RFC 2543 allowed none; the engine does
			// not offer that backwards compatibility (RFC 4475 3.4.1 leaves it optional).
			return &refusal{400, "Missing Contact header field", nil}
		}
	}
	return nil
}

// unsupportedOptions lists the option tags of Require the engine does not support.
func unsupportedOptions(req *gosip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !supported[strings.ToLower(tag)] {
				out = append(out, tag)
			}
		}
	}
	return out
}

// accepts reports whether the request's Accept headers admit typ. No Accept means
// application/sdp; an empty one admits nothing (RFC 3261 20.1).
func accepts(req *gosip.Request, typ string) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	major, _, _ := strings.Cut(typ, "/")
	for _, h := range hs {
		for _, r := range strings.Split(h.Value(), ",") {
			if r = mediaType(r); r == typ || r == "*/*" || r == major+"/*" {
				return true
			}
		}
	}
	return false
}

// mediaType is the lower-case type/subtype of a Content-Type or Accept value.
func mediaType(v string) string {
	t, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// handle is what the server does with a request the transaction layer passes up: the entry
// point the fuzz test drives.
func (u *UA) handle(req *gosip.Request, tx gosip.ServerTransaction) {
	u.serve(u.handlers[req.Method])(req, tx)
}

func (u *UA) onCancel(req *gosip.Request, tx gosip.ServerTransaction) {
	// CANCELs matching a pending INVITE never get here (the transaction layer answers them).
	u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

func (u *UA) onOptions(req *gosip.Request, tx gosip.ServerTransaction) {
	code, reason := 200, "OK"
	if u.draining.Load() {
		code, reason = 503, "Service Unavailable" // the dispatcher's probe: take no new calls here
	}
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(gosip.NewHeader("Allow", allowHeader))
	res.AppendHeader(gosip.NewHeader("Accept", "application/sdp"))
	u.send(tx, res)
}

// serve wraps a method's handler with the core's checks: who may send it (403 outside a
// dialog from an untrusted address, 481 or 500 inside one it does not belong to, see
// dialogState.accept), then inspect's. nil is the handler of methods the engine does not
// serve, which inspect always refuses. An ACK is never answered; its handler checks it.
func (u *UA) serve(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *gosip.Request, tx gosip.ServerTransaction) {
		if req.IsAck() {
			if h != nil {
				h(req, tx)
			}
			return
		}
		if tagOf(req.To()) == "" {
			if !u.trust.allows(sourceIP(req.Source())) {
				u.respond(req, tx, 403, "Forbidden")
				return
			}
		} else {
			switch u.inDialog(req) {
			case notDialog:
				u.respond(req, tx, 481, "Call/Transaction Does Not Exist")
				return
			case outOfOrder:
				u.respond(req, tx, 500, "CSeq Out of Order")
				return
			}
		}
		if r := inspect(req); r != nil || h == nil {
			if r == nil {
				r = &refusal{code: 501, reason: "Not Implemented"}
			}
			res := gosip.NewResponseFromRequest(req, r.code, r.reason, nil)
			for _, hd := range r.headers {
				res.AppendHeader(hd)
			}
			u.send(tx, res)
			return
		}
		h(req, tx)
	}
}

// respond answers req with a bodyless response.
func (u *UA) respond(req *gosip.Request, tx gosip.ServerTransaction, code int, reason string) {
	u.send(tx, gosip.NewResponseFromRequest(req, code, reason, nil))
}

func (u *UA) send(tx gosip.ServerTransaction, res *gosip.Response) {
	u.stamp(res)
	_ = tx.Respond(res)
}

// stamp adds the configured Server (responses) or User-Agent (requests) header.
func (u *UA) stamp(m gosip.Message) {
	if u.cfg.UserAgent == "" {
		return
	}
	name := "User-Agent"
	if _, ok := m.(*gosip.Response); ok {
		name = "Server"
	}
	if len(m.GetHeaders(name)) == 0 {
		m.AppendHeader(gosip.NewHeader(name, u.cfg.UserAgent))
	}
}

// inDialog reports whether req belongs to the dialog of the leg with its Call-ID.
func (u *UA) inDialog(req *gosip.Request) mismatch {
	l := u.leg(req)
	if l == nil {
		return notDialog
	}
	return l.dialog.accept(req)
}
