package rtp

import (
	"errors"
	"fmt"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP (RFC 3711) on a socket: packets from the peer are authenticated and decrypted before
// anything else looks at them (so a forged packet neither latches the peer nor reaches the
// recording), packets to it encrypted as they leave. Keys come from the SDP (SDES).

// srtpState is a socket's two SRTP contexts and the buffers they work in; guarded by the
// socket's mu for writes, used by the one reader for reads.
type srtpState struct {
	in, out *srtp.Context
	inHdr   pionrtp.Header
	outHdr  pionrtp.Header
	dec     [MaxPacket]byte
	enc     [MaxPacket + 64]byte
}

// profiles maps SDES suite names (RFC 4568, 6188, 7714) to the library's profiles.
var profiles = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
	"AES_256_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes256CmHmacSha1_80,
	"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
	"AEAD_AES_256_GCM":        srtp.ProtectionProfileAeadAes256Gcm,
}

// ErrSRTPAuth counts packets that failed SRTP authentication or replay checks.
var errNoSRTP = errors.New("rtp: SRTP suite not supported")

// SetSRTP protects the socket: remote is the peer's inline key (it sends with it), local ours,
// each master key followed by its salt. A new remote key (a re-INVITE) replaces the old one.
func (s *Socket) SetSRTP(suite string, local, remote []byte) error {
	p, ok := profiles[suite]
	if !ok {
		return fmt.Errorf("%w: %s", errNoSRTP, suite)
	}
	kl, _ := p.KeyLen()
	sl, _ := p.SaltLen()
	if len(local) != kl+sl || len(remote) != kl+sl {
		return fmt.Errorf("rtp: SRTP key of %d/%d bytes for %s, want %d", len(local), len(remote), suite, kl+sl)
	}
	out, err := srtp.CreateContext(local[:kl], local[kl:], p)
	if err != nil {
		return err
	}
	in, err := srtp.CreateContext(remote[:kl], remote[kl:], p, srtp.SRTPReplayProtection(256), srtp.SRTCPReplayProtection(256))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srtp == nil {
		s.srtp = &srtpState{}
	}
	s.srtp.in, s.srtp.out = in, out
	return nil
}

// Secure tells whether the socket speaks SRTP.
func (s *Socket) Secure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srtp != nil
}

// unprotect authenticates and decrypts an SRTP packet into the state's buffer; nil when it
// does not authenticate (or replays one seen).
func (st *srtpState) unprotect(b []byte, rtcp bool) []byte {
	var out []byte
	var err error
	if rtcp {
		out, err = st.in.DecryptRTCP(st.dec[:0], b, nil)
	} else {
		out, err = st.in.DecryptRTP(st.dec[:0], b, &st.inHdr)
	}
	if err != nil {
		return nil
	}
	return out
}

// protect encrypts a packet for the peer into the state's buffer.
func (st *srtpState) protect(b []byte, rtcp bool) []byte {
	var out []byte
	var err error
	if rtcp {
		out, err = st.out.EncryptRTCP(st.enc[:0], b, nil)
	} else {
		out, err = st.out.EncryptRTP(st.enc[:0], b, &st.outHdr)
	}
	if err != nil {
		return nil
	}
	return out
}
