package sip

import (
	"net/url"
	"strings"

	gosip "github.com/emiago/sipgo/sip"
)

// Who called, as carriers say it: the From header, the network-asserted identity
// (P-Asserted-Identity, RFC 3325) and the caller's wish to stay hidden (Privacy, RFC 3323). A
// withheld caller is an empty field, whatever else the INVITE names, so no number the caller
// withheld reaches a file name or the call log. INVITEs come only from trusted peers (the trust
// boundary), so their asserted identity is believed.

// Withheld tells whether the caller asked to hide their identity: Privacy: id (RFC 3325 7),
// header or user (RFC 3323 4.2).
func Withheld(req *gosip.Request) bool {
	for _, h := range req.GetHeaders("Privacy") {
		for _, v := range strings.Split(h.Value(), ";") {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "id", "header", "user":
				return true
			}
		}
	}
	return false
}

// callerOf is the caller number of req: "" when withheld, else From's number, else the
// asserted identity's (a From of anonymous@anonymous.invalid with a PAI but no Privacy is a
// caller the network knows and did not hide).
func callerOf(req *gosip.Request) string {
	if Withheld(req) {
		return ""
	}
	if from := req.From(); from != nil {
		if n := CallerNumber(from.Address.User); n != "" {
			return n
		}
	}
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		for _, v := range splitList(h.Value()) {
			if n := CallerNumber(uriUser(v)); n != "" {
				return n
			}
		}
	}
	return ""
}

// uriUser is the user part of a name-addr or addr-spec (sip:, sips: or tel:), unescaped.
func uriUser(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = strings.TrimSpace(v)
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "sip", "sips":
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			return ""
		}
		rest = rest[:at]
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			rest = rest[:i] // user:password
		}
	case "tel":
	default:
		return ""
	}
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		rest = rest[:i]
	}
	u, err := url.PathUnescape(rest)
	if err != nil {
		return ""
	}
	return strings.NewReplacer("-", "", ".", "", "(", "", ")", "").Replace(u) // tel: visual separators
}

// splitList splits a header value at the commas between its entries, not inside <> or quotes.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' && (i == 0 || v[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

// maxRedirection bounds what the call record keeps of Diversion or History-Info.
const maxRedirection = 1024

// headerText is every value of the named header, joined as one list, with anything but
// printable ASCII dropped and cut at maxRedirection: it goes into the call record as it came.
func headerText(req *gosip.Request, name string) string {
	var b strings.Builder
	for _, h := range req.GetHeaders(name) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		for _, r := range h.Value() {
			if r >= 0x20 && r < 0x7f {
				b.WriteRune(r)
			}
		}
	}
	s := b.String()
	if len(s) > maxRedirection {
		s = s[:maxRedirection]
	}
	return s
}

// Diversion is the INVITE's Diversion headers (RFC 5806) as they came.
func (in *Inbound) Diversion() string { return headerText(in.req, "Diversion") }

// HistoryInfo is the INVITE's History-Info headers (RFC 7044) as they came.
func (in *Inbound) HistoryInfo() string { return headerText(in.req, "History-Info") }

// Withheld tells whether the caller asked to stay hidden (Privacy: id, header or user).
func (in *Inbound) Withheld() bool { return Withheld(in.req) }

// Asserted is the INVITE's P-Asserted-Identity headers, for the destination leg when the
// caller withheld its number: the network keeps knowing who called (RFC 3325 within the
// trust domain) while the called party sees nobody.
func (in *Inbound) Asserted() []string {
	var out []string
	for _, h := range in.req.GetHeaders("P-Asserted-Identity") {
		out = append(out, h.Value())
	}
	return out
}
