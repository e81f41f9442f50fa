package sip

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SDES (RFC 4568): SRTP master keys exchanged in the SDP's a=crypto lines. The engine takes
// the suites its SRTP library implements; a key with a lifetime is fine, one with an MKI is not
// taken (the engine keeps one key per direction).

// Crypto is one a=crypto line: its tag, suite and inline key (master key and salt).
type Crypto struct {
	Tag   int
	Suite string
	Key   []byte
}

// suites are the crypto suites the engine speaks, strongest first, with their key and salt
// length in bytes (RFC 4568 6.2, RFC 6188, RFC 7714 12).
var suites = []struct {
	name      string
	key, salt int
}{
	{"AEAD_AES_256_GCM", 32, 12},
	{"AEAD_AES_128_GCM", 16, 12},
	{"AES_256_CM_HMAC_SHA1_80", 32, 14},
	{"AES_CM_128_HMAC_SHA1_80", 16, 14},
	{"AES_CM_128_HMAC_SHA1_32", 16, 14},
}

// ErrNoCrypto: the offer requires SRTP (RTP/SAVP) and names no suite the engine speaks, or
// none with a usable key. Such an offer is refused, never answered in the clear.
var ErrNoCrypto = errors.New("sip: SRTP required and no usable crypto suite offered")

// suiteKeyLen is the inline key length of suite (master key plus salt); 0: unknown suite.
func suiteKeyLen(suite string) int {
	for _, s := range suites {
		if s.name == suite {
			return s.key + s.salt
		}
	}
	return 0
}

func suiteRank(suite string) int {
	for i, s := range suites {
		if s.name == suite {
			return len(suites) - i
		}
	}
	return 0
}

// parseCrypto reads an a=crypto value ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20"); ok is
// false for anything the engine cannot use (unknown suite, bad key, MKI, several keys).
func parseCrypto(v string) (Crypto, bool) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return Crypto{}, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return Crypto{}, false
	}
	n := suiteKeyLen(f[1])
	if n == 0 || !strings.HasPrefix(f[2], "inline:") || strings.Contains(f[2], ";") {
		return Crypto{}, false // unknown suite, another key method, or several keys
	}
	parts := strings.Split(strings.TrimPrefix(f[2], "inline:"), "|")
	if len(parts) > 2 || len(parts) == 2 && strings.Contains(parts[1], ":") {
		return Crypto{}, false // an MKI ("|1:4"): one key per direction is all the engine keeps
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(key) != n {
		return Crypto{}, false
	}
	for _, p := range f[3:] {
		// Session parameters that change the packet format are not implemented.
		if strings.HasPrefix(p, "UNENCRYPTED_SRTP") || strings.HasPrefix(p, "UNAUTHENTICATED_SRTP") ||
			strings.HasPrefix(p, "UNENCRYPTED_SRTCP") || strings.HasPrefix(p, "FEC_") || strings.HasPrefix(p, "WSH=") {
			return Crypto{}, false
		}
	}
	return Crypto{Tag: tag, Suite: f[1], Key: key}, true
}

// BestCrypto is the strongest of the peer's usable a=crypto lines; ok false when none.
func (m Media) BestCrypto() (Crypto, bool) {
	best, ok := Crypto{}, false
	for _, c := range m.Crypto {
		if !ok || suiteRank(c.Suite) > suiteRank(best.Suite) {
			best, ok = c, true
		}
	}
	return best, ok
}

// NewCrypto is a fresh master key and salt for suite, with tag.
func NewCrypto(tag int, suite string) Crypto {
	key := make([]byte, suiteKeyLen(suite))
	_, _ = rand.Read(key)
	return Crypto{Tag: tag, Suite: suite, Key: key}
}

func (c Crypto) line() string {
	return "a=crypto:" + strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key) + "\r\n"
}
