package sip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseSipMessage parses datagrams and streams, seeded with a plain INVITE and the RFC 4475
// torture messages; a refused request must still yield an answer or none, never a panic.
func FuzzParseSipMessage(f *testing.F) {
	// Creates Race when run
	rawMsg := []string{
		"INVITE sip:bob@127.0.0.1:5060 SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK.VYWrxJJyeEJfngAjKXELr8aPYuX8tR22",
		"From: \"Alice\" <sip:alice@127.0.0.2:5060>;tag=1928301774",
		"To: \"Bob\" <sip:bob@127.0.0.1:5060>",
		"Contact: <sip:alice@127.0.0.2:5060;expires=3600>",
		"Content-Type: application/sdp",
		"Content-Length: 0",
		"",
	}

	f.Add(strings.Join(rawMsg, "\r\n"))
	files, _ := filepath.Glob("testdata/torture/*/*.dat")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(string(b))
		}
	}

	parser := NewParser()

	f.Fuzz(func(t *testing.T, orig string) {
		msg, err := parser.ParseSIP([]byte(orig))
		if err != nil {
			if res := badRequestResponse(msg, err); res != nil {
				_ = res.String()
			}
		} else if req, ok := msg.(*Request); ok {
			_, _ = ValidateRequest(req)
		}
		stream := parser.NewSIPStream()
		_, _ = stream.Write([]byte(orig))
		for i := 0; i < 4 && stream.Buffer().Len() > 0; i++ {
			msg, _, err := stream.ParseNext()
			if err != nil && !IsFramingError(err) && AsParseError(err) != nil {
				_ = badRequestResponse(msg, err)
				continue
			}
			break
		}
	})
}
