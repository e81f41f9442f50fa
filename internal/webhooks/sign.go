// Package webhooks delivers the outbox's messages to the customers' endpoints: signed as the
// Standard Webhooks specification says, over a client that connects only to public addresses
// and follows no redirects, retried with backoff, by one process of the cluster at a time.
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Sign is the webhook-signature header for a message: "v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body" for each secret ("whsec_..."), space-separated.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	var parts []string
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
		m.Write(body)
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(parts, " "), nil
}

func secretKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if err != nil || len(k) == 0 {
		return nil, errors.New("webhooks: a secret is whsec_ and base64")
	}
	return k, nil
}

// Tolerance is how far a message's webhook-timestamp may be from the receiver's clock.
const Tolerance = 5 * time.Minute

// Verify is a receiver's check of a message (what README shows): one of the signatures in
// header sig matches secret, and the timestamp is within Tolerance of now.
func Verify(secret, id, timestamp, sig string, body []byte, now time.Time) error {
	t, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhooks: bad webhook-timestamp")
	}
	ts := time.Unix(t, 0)
	if ts.Before(now.Add(-Tolerance)) || ts.After(now.Add(Tolerance)) {
		return errors.New("webhooks: webhook-timestamp too far from now")
	}
	want, err := Sign([]string{secret}, id, ts, body)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(sig) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhooks: no signature matches")
}
