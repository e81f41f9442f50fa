package sip

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readTorture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/torture/" + name + ".dat")
	require.NoError(t, err)
	return b
}

// RFC 4475 3.1.1.1: LWS around ";", "=", "/" and folded lines are valid; the tags and the
// three Via values must come out as sent.
func TestParseTortuousInviteValues(t *testing.T) {
	msg, err := ParseMessage(readTorture(t, "valid/wsinv"))
	require.NoError(t, err)
	req := msg.(*Request)
	tag, _ := req.To().Params.Get("tag")
	assert.Equal(t, "1918181833n", tag)
	tag, _ = req.From().Params.Get("tag")
	assert.Equal(t, "98asjd8", tag)
	assert.Equal(t, `J Rosenberg \\\"`, req.From().DisplayName)
	vias := req.GetHeaders("Via")
	require.Len(t, vias, 3)
	want := [][3]string{{"UDP", "192.0.2.2", "390skdjuw"}, {"TCP", "spindle.example.com", "z9hG4bK9ikj8"}, {"UDP", "192.168.255.111", "z9hG4bK30239"}}
	for i, h := range vias {
		v := h.(*ViaHeader)
		branch, _ := v.Params.Get("branch")
		assert.Equal(t, want[i], [3]string{v.Transport, v.Host, branch}, "Via %d", i)
	}
	c := req.Contact()
	require.NotNil(t, c)
	assert.Equal(t, HeaderParams{{"newparam", "newvalue"}, {"secondparam", ""}, {"q", "0.33"}}, c.Params)
	assert.Equal(t, uint32(9), req.CSeq().SeqNo)
	assert.Equal(t, MaxForwardsHeader(68), *req.MaxForwards())
}

// RFC 3261 7.1: the method is case-sensitive and kept as sent (RFC 4475 3.1.1.2, 3.1.1.5).
func TestParseMethodKeepsCase(t *testing.T) {
	msg, err := ParseMessage(readTorture(t, "valid/intmeth"))
	require.NoError(t, err)
	req := msg.(*Request)
	assert.Equal(t, RequestMethod("!interesting-Method0123456789_*+`.%indeed'~"), req.Method)
	assert.Equal(t, req.CSeq().MethodName, req.Method)

	msg, err = ParseMessage([]byte("invite sip:a@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n"))
	require.NoError(t, err)
	assert.False(t, msg.(*Request).IsInvite(), "lower-case invite is another method")
}

// Malformed Request-Lines still yield the request (so it can be answered) and a ParseError
// naming the problem without quoting the message.
func TestParseMalformedRequestLine(t *testing.T) {
	for name, reason := range map[string]string{
		"invalid/lwsstart": "Malformed Request-Line",
		"invalid/trws":     "Malformed Request-Line",
		"invalid/lwsruri":  "Malformed Request-Line",
		"invalid/ltgtruri": "Malformed Request-Line",
		"invalid/escruri":  "Malformed Request-URI",
	} {
		t.Run(name, func(t *testing.T) {
			msg, err := ParseMessage(readTorture(t, name))
			pe := AsParseError(err)
			require.NotNil(t, pe, "error %v", err)
			assert.Equal(t, reason, pe.Reason)
			req, ok := msg.(*Request)
			require.True(t, ok)
			assert.NotNil(t, req.CallID(), "headers are read after a bad Request-Line")
			assert.NotNil(t, req.Via())
		})
	}
	_, err := ParseMessage(readTorture(t, "invalid/test"))
	require.Error(t, err)
	assert.Nil(t, AsParseError(err), "no SIP version: not a SIP message at all")
}

func TestParseUnknownSchemes(t *testing.T) {
	msg, err := ParseMessage(readTorture(t, "invalid/novelsc"))
	require.NoError(t, err)
	assert.Equal(t, "soap.beep", msg.(*Request).Recipient.Scheme)
	msg, err = ParseMessage(readTorture(t, "invalid/unksm2"))
	require.NoError(t, err)
	assert.Equal(t, "isbn", msg.(*Request).To().Address.Scheme)
}

// A header that does not parse is kept as it came and reported; the rest of the message is
// read, so that a 400 can copy what it must.
func TestParseMalformedHeaderKeepsTheRest(t *testing.T) {
	msg, err := ParseMessage(readTorture(t, "invalid/badinv01"))
	pe := AsParseError(err)
	require.NotNil(t, pe, "error %v", err)
	assert.Equal(t, "Malformed Via header field", pe.Reason)
	assert.False(t, pe.Framing)
	req := msg.(*Request)
	assert.Nil(t, req.Via())
	require.Len(t, req.GetHeaders("Via"), 1)
	assert.Equal(t, "SIP/2.0/UDP 192.0.2.15;;,;,,", req.GetHeaders("Via")[0].Value())
	assert.NotNil(t, req.From())
	assert.NotNil(t, req.CSeq())
	assert.Len(t, req.Body(), 152)

	for name, reason := range map[string]string{
		"invalid/quotbal":  "Malformed To header field",
		"invalid/baddn":    "Malformed From header field",
		"invalid/badaspec": "Malformed To header field",
		"invalid/regbadct": "Malformed Contact header field",
		"invalid/scalar02": "Malformed CSeq header field",
	} {
		data := readTorture(t, name)
		if name == "invalid/baddn" {
			// The archive's copy ends without the empty line; the display names are the test.
			data = append(data, "\r\n"...)
		}
		_, err := ParseMessage(data)
		pe := AsParseError(err)
		require.NotNil(t, pe, "%s: error %v", name, err)
		assert.Equal(t, reason, pe.Reason, name)
	}
}

func TestParseFramingErrors(t *testing.T) {
	for name, reason := range map[string]string{
		"invalid/ncl":   "Malformed Content-Length header field",
		"invalid/mcl01": "Conflicting Content-Length header fields",
		"invalid/clerr": "Content-Length larger than message",
	} {
		_, err := ParseMessage(readTorture(t, name))
		pe := AsParseError(err)
		require.NotNil(t, pe, "%s: error %v", name, err)
		assert.Equal(t, reason, pe.Reason, name)
		assert.True(t, pe.Framing, name)
	}
	// Two equal Content-Length values frame the message well; validation refuses the copy.
	_, err := ParseMessage([]byte("OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n"))
	require.NoError(t, err)
}

func TestParseStatusLine(t *testing.T) {
	_, err := ParseMessage(readTorture(t, "invalid/bigcode"))
	require.Error(t, err)
	msg, err := ParseMessage(readTorture(t, "valid/noreason"))
	require.NoError(t, err)
	assert.Equal(t, "", msg.(*Response).Reason)
	assert.Equal(t, 100, msg.(*Response).StatusCode)
}

// On a stream, a message with a bad header is returned with its error and the stream goes on
// with the next message; a framing error ends it.
func TestParserStreamMalformedMessageThenGood(t *testing.T) {
	p := NewParser().NewSIPStream()
	bad := "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;;,;\r\nCall-ID: 1\r\nContent-Length: 4\r\n\r\nbody"
	good := "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: 2\r\nContent-Length: 0\r\n\r\n"
	_, err := p.Write([]byte(bad + good))
	require.NoError(t, err)
	msg, _, err := p.ParseNext()
	require.NotNil(t, AsParseError(err))
	assert.False(t, IsFramingError(err))
	assert.Equal(t, "1", msg.CallID().Value())
	msg, _, err = p.ParseNext()
	require.NoError(t, err)
	assert.Equal(t, "2", msg.CallID().Value())

	p = NewParser().NewSIPStream()
	_, err = p.Write([]byte("OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: 3\r\nContent-Length: -1\r\n\r\n"))
	require.NoError(t, err)
	_, _, err = p.ParseNext()
	assert.True(t, IsFramingError(err))
}
