package audio

import "io"

func openFLAC(r io.ReadSeeker) (decoder, error) {
	return nil, errorf(CodeUnsupportedFormat, "FLAC not yet")
}
func openOgg(r io.ReadSeeker) (decoder, error) {
	return nil, errorf(CodeUnsupportedFormat, "Ogg not yet")
}
func openMP3(r io.ReadSeeker) (decoder, error) {
	return nil, errorf(CodeUnsupportedFormat, "MP3 not yet")
}
