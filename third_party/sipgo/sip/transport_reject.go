package sip

import (
	"errors"
	"io"
	"net"
)

// badRequestResponse is the answer to a request the parser could not accept, or nil when none
// is due. RFC 3261 asks for a 400 whose reason phrase names the problem (21.4.1; RFC 4475
// 3.1.2) so that the sender stops retransmitting: that needs a request (a malformed
// Request-Line still names its method) with at least one Via. An ACK is never answered
// (17.1.1.3); a response that does not parse is dropped (18.1.2).
//
// The response copies Via, From, To, Call-ID and CSeq as they came, parsed or not (8.2.6.1), and
// adds a To tag when the To header could be read (8.2.6.2).
func badRequestResponse(msg Message, err error) *Response {
	req, ok := msg.(*Request)
	if !ok || req == nil || req.Method == ACK {
		return nil
	}
	reason := ""
	if pe := AsParseError(err); pe != nil {
		reason = pe.Reason
	} else if errors.Is(err, ErrParseEOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "Incomplete message"
	}
	if reason == "" || len(req.GetHeaders("via")) == 0 {
		return nil
	}
	res := NewResponse(StatusBadRequest, reason)
	for _, name := range []string{"via", "from", "to", "call-id", "cseq"} {
		for _, h := range req.GetHeaders(name) {
			res.AppendHeader(h.headerClone())
		}
	}
	if to := res.To(); to != nil && !to.Params.Has("tag") {
		to.Params.Add("tag", GenerateTagN(16))
	}
	if via := res.Via(); via != nil {
		if val, ok := via.Params.Get("rport"); ok && val == "" {
			host, port, _ := net.SplitHostPort(req.Source())
			via.Params.Add("rport", port)
			via.Params.Add("received", host)
		}
	}
	res.AppendHeader(NewHeader("Content-Length", "0"))
	res.SetTransport(req.Transport())
	return res
}

// badRequestAddr is where a datagram's 400 goes: the source address, and the Via port unless
// rport asks for the source port (RFC 3261 18.2.2, RFC 3581 4); a Via that could not be parsed
// leaves only the source port.
func badRequestAddr(req *Request, src *net.UDPAddr) *net.UDPAddr {
	to := *src
	via := req.Via()
	if via == nil {
		return &to
	}
	if _, rport := via.Params.Get("rport"); rport {
		return &to
	}
	to.Port = DefaultUdpPort
	if via.Port > 0 {
		to.Port = via.Port
	}
	return &to
}
