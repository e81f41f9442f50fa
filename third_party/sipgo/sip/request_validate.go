package sip

import "fmt"

// ValidateRequest checks what every server must check before a request may start a
// transaction (RFC 3261 8.1.1, 8.2, 16.3 step 1, 20): the SIP version, the header fields every
// request carries and those that may appear only once, the From tag and the CSeq method. It returns the
// status code and reason phrase of the stateless answer, or 0 when the request is fine.
// Only headers the parser understood count; a malformed one never reaches here.
func ValidateRequest(req *Request) (int, string) {
	if req.SipVersion != "SIP/2.0" {
		// "SIP" is case-insensitive, the version numbers are not ours to guess.
		if len(req.SipVersion) != 7 || !isSIPVersion(req.SipVersion) || req.SipVersion[4:] != "2.0" {
			return StatusVersionNotSupported, "Version Not Supported"
		}
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if len(req.GetHeaders(name)) == 0 {
			return StatusBadRequest, fmt.Sprintf("Missing %s header field", name)
		}
	}
	for _, name := range []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"} {
		if len(req.GetHeaders(name)) > 1 {
			return StatusBadRequest, fmt.Sprintf("Multiple %s header fields", name)
		}
	}
	if from := req.From(); from == nil || !from.Params.Has("tag") {
		// RFC 3261 8.1.1.3: the From tag is mandatory; RFC 2543 requests lack it and the
		// transaction and dialog they would start cannot be told apart.
		return StatusBadRequest, "Missing tag in From header field"
	}
	if cseq := req.CSeq(); cseq == nil || cseq.MethodName != req.Method {
		// RFC 3261 8.1.1.5: the CSeq method MUST match the request method (RFC 4475
		// 3.1.2.17, 3.1.2.18).
		return StatusBadRequest, "CSeq method does not match the request method"
	}
	return 0, ""
}
