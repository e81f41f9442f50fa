package sip

import (
	"errors"
	"fmt"
)

// ParseError is how the parsers report a malformed message. Reason names the problem in words
// fit for the reason phrase of a 400 response (RFC 3261 21.4.1, e.g. "Malformed Via header
// field"); it never quotes the message, so a server may send it back to anyone. Err is the
// underlying error, which may quote the input, for logs.
//
// Framing is set when the end of the message cannot be known (Content-Length missing on a
// stream, malformed or conflicting): a stream transport cannot find the next message and must
// close the connection. Without Framing the whole message was consumed and the stream goes on.
//
// The message the parser returns alongside a ParseError holds everything it could read: the
// start line (for a malformed Request-Line at least the method) and every header, those it
// could not parse kept as they came in a generic header of the same name, so that a 400 can
// copy Via, From, To, Call-ID and CSeq (RFC 3261 8.2.6).
type ParseError struct {
	Reason  string
	Framing bool
	Err     error
}

func (e *ParseError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// AsParseError returns the ParseError in err's chain, or nil.
func AsParseError(err error) *ParseError {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// IsFramingError reports whether err leaves a stream without a known message boundary.
func IsFramingError(err error) bool {
	pe := AsParseError(err)
	return pe != nil && pe.Framing
}

var errMalformedRequestLine = &ParseError{Reason: "Malformed Request-Line"}

// headerFieldName is the canonical name of a header the parser knows, for reason phrases;
// other names are never echoed.
func headerFieldName(lower string) string {
	switch lower {
	case "via":
		return "Via"
	case "from":
		return "From"
	case "to":
		return "To"
	case "call-id":
		return "Call-ID"
	case "cseq":
		return "CSeq"
	case "contact":
		return "Contact"
	case "max-forwards":
		return "Max-Forwards"
	case "content-length":
		return "Content-Length"
	case "content-type":
		return "Content-Type"
	case "route":
		return "Route"
	case "record-route":
		return "Record-Route"
	case "refer-to":
		return "Refer-To"
	case "referred-by":
		return "Referred-By"
	}
	return ""
}

func malformedHeader(lower string, err error) *ParseError {
	name := headerFieldName(lower)
	reason := "Malformed header field"
	if name != "" {
		reason = fmt.Sprintf("Malformed %s header field", name)
	}
	return &ParseError{Reason: reason, Framing: lower == "content-length", Err: err}
}
