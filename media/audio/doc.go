// Package audio reads, converts and writes the audio callrec handles: G.711 for RTP (g711.go),
// and for announcements any upload the Control Panel accepts, turned into the one format the
// engine plays.
//
// Inputs (Probe, Convert, LoadPCM): WAV (PCM 8/16/24/32-bit, float 32/64-bit, mu-law, A-law,
// WAVE_FORMAT_EXTENSIBLE; 8 to 192 kHz; 1 to 64 channels), MP3 (go-mp3), Ogg Vorbis
// (oggvorbis) and FLAC (mewkiz/flac). The container is recognised by its first bytes, never by
// the file name.
//
// Untrusted input: WAV is parsed by our own reader, which checks every chunk size against the
// real file size and allocates one fixed buffer whatever a header claims (go-audio/wav's decoder
// trusts chunk sizes). ID3 tags are checked the same way before go-mp3 sees them. Panics of the
// third-party decoders are recovered as corrupt_file. Problems with the input are *Error values
// with a stable Code (see the Code* constants) for the web layer's translations; I/O errors of
// the reader or writer are returned as they are.
//
// Conversion (Convert, ConvertFile): channels are averaged to mono; the rate is converted by
// a windowed-sinc (Kaiser) polyphase filter of our own, flat within 1 dB to 7 kHz and at least
// 90 dB down from 9 kHz for a 16 kHz output (a 16 kHz input is copied); the result is
// normalised to a -1 dBFS peak and quantised to unsigned 8-bit with TPDF dither from a fixed
// seed, so the same input always gives the same bytes. The peak must be known before the first
// byte is written: the resampled float stream is kept (in memory up to 16 seconds, then in
// an unlinked temporary file), so the input is decoded and filtered once and memory stays
// bounded for any length.
//
// MP3 gapless: go-mp3 returns the encoder's priming samples and the decoder's filterbank delay.
// We drop the Xing/Info frame's silence, the encoder delay from the LAME tag (or LAME's usual
// 576 without one) and the decoder delay of 528+1, and with a LAME tag stop after exactly the
// encoder's input length. Without a LAME tag the end padding (under two frames) stays.
package audio
