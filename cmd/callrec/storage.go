package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"callrec/internal/enginestore"
	"callrec/internal/upload"
	"callrec/media"
	"callrec/models/files"
)

// openStorage opens where recordings and announcements are kept: "file" (or empty) is the data
// folder itself; s3://BUCKET[/PREFIX] is a bucket, configured by the AWS variables. The bucket
// and the keys are checked now, so a wrong setting stops the start with a clear error.
func openStorage(ctx context.Context, spec string, spool *files.Local, getenv func(string) string) (files.Storage, error) {
	switch {
	case spec == "" || spec == "file":
		return spool, nil
	case strings.HasPrefix(spec, "s3://"):
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return files.NewS3(ctx, spec, files.S3ConfigFromEnv(getenv))
	}
	return nil, fmt.Errorf("--storage %q: want file or s3://BUCKET[/PREFIX]", spec)
}

// uploadKick passes call events on to the live pages and, when a call's recording is final,
// wakes the uploader: the sink calls it after the event is stored, so the recording is pending.
type uploadKick struct {
	enginestore.Live
	up *upload.Uploader
}

func (k uploadKick) CallEnded(c media.CallInfo) {
	if k.Live != nil {
		k.Live.CallEnded(c)
	}
	if c.Recording != nil {
		k.up.Kick()
	}
}

func (k uploadKick) CallChanged(c media.CallInfo) {
	if k.Live != nil {
		k.Live.CallChanged(c)
	}
}
