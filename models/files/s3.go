package files

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// S3 is the Storage of a bucket of an S3-compatible server, under an optional key prefix.
type S3 struct {
	core   minio.Core
	bucket string
	prefix string // "" or "folder/.../"
	where  string // s3://bucket/prefix at endpoint, for logs and errors
	// PartSize is the size of the parts of a multipart upload; objects up to it go in one PUT.
	PartSize int64
	listPage int // keys per listing request (S3's most: 1000)
}

// S3Config is how to reach the server, the AWS way (see S3ConfigFromEnv).
type S3Config struct {
	Endpoint  string // http(s)://host[:port]; empty for AWS itself
	Region    string
	AccessKey string
	SecretKey string
	Session   string // AWS_SESSION_TOKEN, for temporary keys
}

// S3ConfigFromEnv reads AWS_ENDPOINT_URL, AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func S3ConfigFromEnv(getenv func(string) string) S3Config {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	return S3Config{Endpoint: getenv("AWS_ENDPOINT_URL"), Region: region, AccessKey: getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: getenv("AWS_SECRET_ACCESS_KEY"), Session: getenv("AWS_SESSION_TOKEN")}
}

// DefaultPartSize: parts of 16 MiB keep a 60-minute stereo recording (115 MB) at 7 parts, and
// one part's buffer is all an upload holds in memory.
const DefaultPartSize = 16 << 20

// ParseS3URL splits s3://BUCKET[/PREFIX] and checks both parts.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("storage %q: want s3://BUCKET or s3://BUCKET/PREFIX", raw)
	}
	if err := s3utils.CheckValidBucketNameStrict(u.Host); err != nil {
		return "", "", fmt.Errorf("storage %q: bucket name: %v", raw, err)
	}
	p := strings.Trim(u.Path, "/")
	if p != "" {
		if p, err = cleanPrefix(p); err != nil {
			return "", "", fmt.Errorf("storage %q: the prefix must be a plain folder path (no \"..\", no hidden parts)", raw)
		}
	}
	return u.Host, p, nil
}

// NewS3 connects to the bucket named by s3://BUCKET[/PREFIX] and checks that it exists and that
// the keys may write, read and delete there, so wrong settings fail at start with a clear
// error instead of at the first call's end.
func NewS3(ctx context.Context, raw string, cfg S3Config) (*S3, error) {
	bucket, prefix, err := ParseS3URL(raw)
	if err != nil {
		return nil, err
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("storage %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", raw)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	host, secure, lookup := "s3."+cfg.Region+".amazonaws.com", true, minio.BucketLookupAuto
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("AWS_ENDPOINT_URL %q: want http(s)://host[:port]", cfg.Endpoint)
		}
		// S3-compatible servers are addressed path-style: the bucket in the path, not the host name.
		host, secure, lookup = u.Host, u.Scheme == "https", minio.BucketLookupPath
	}
	c, err := minio.NewCore(host, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.Session),
		Secure: secure, Region: cfg.Region, BucketLookup: lookup, MaxRetries: 3})
	if err != nil {
		return nil, fmt.Errorf("storage %s: %w", raw, err)
	}
	s := &S3{core: *c, bucket: bucket, prefix: prefix, PartSize: DefaultPartSize, listPage: 1000,
		where: "s3://" + bucket + "/" + prefix + " at " + c.EndpointURL().String()}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3) String() string { return s.where }

// check proves the bucket is there and the keys may put, read and delete in it.
func (s *S3) check(ctx context.Context) error {
	// A listing, not HEAD: its error answer has a body that says which of keys, bucket or
	// permission is wrong.
	if _, err := s.core.ListObjectsV2(s.bucket, s.prefix, "", "", "/", 1); err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code == "NoSuchBucket" {
			return fmt.Errorf("storage %s: no such bucket (create it first)", s.where)
		}
		return s.explain("listing the bucket", err)
	}
	// A hidden key: never listed or opened through the Storage interface.
	probe := s.prefix + ".callrec/probe-" + randHex(8)
	data := []byte("callrec storage probe")
	sum := md5.Sum(data)
	if _, err := s.core.PutObject(ctx, s.bucket, probe, bytes.NewReader(data), int64(len(data)), base64.StdEncoding.EncodeToString(sum[:]), "", minio.PutObjectOptions{}); err != nil {
		return s.explain("writing a probe object", err)
	}
	if _, err := s.core.StatObject(ctx, s.bucket, probe, minio.StatObjectOptions{}); err != nil {
		return s.explain("reading the probe object back", err)
	}
	if err := s.core.RemoveObject(ctx, s.bucket, probe, minio.RemoveObjectOptions{}); err != nil {
		return s.explain("deleting the probe object", err)
	}
	return nil
}

// explain turns a client error into one that says what to fix.
func (s *S3) explain(doing string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return fmt.Errorf("storage %s: %s: the server refused the keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): %s: %s", s.where, doing, er.Code, er.Message)
		case "AccessDenied":
			return fmt.Errorf("storage %s: %s: the keys may not do this (they need read, write, list and delete on the bucket): %s", s.where, doing, er.Message)
		}
		if er.StatusCode == http.StatusForbidden {
			return fmt.Errorf("storage %s: %s: the server refused the keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): %v", s.where, doing, err)
		}
	}
	return fmt.Errorf("storage %s: %s: %w", s.where, doing, err)
}

func (s *S3) key(op, key string) (string, string, error) {
	c, err := cleanKey(key)
	if err != nil {
		return "", "", badKey(op, key)
	}
	return c, s.prefix + c, nil
}

func isNotFound(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.StatusCode == http.StatusNotFound || er.Code == "NoSuchKey")
}

func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error) {
	c, k, err := s.key("put", key)
	if err != nil {
		return Info{}, err
	}
	if size < 0 {
		return Info{}, errors.New("files: Put needs the size")
	}
	// No SHA-256 of the payload for the signature (the client would hash every byte once more
	// over plain HTTP): the MD5 sent with each request and the ETag check cover the content.
	opts := minio.PutObjectOptions{ContentType: mime.TypeByExtension(path.Ext(c)), DisableContentSha256: true}
	if opts.ContentType == "" {
		opts.ContentType = "application/octet-stream"
	}
	whole := sha256.New()
	partSize := max(s.PartSize, 5<<20) // S3's smallest part
	var etag string
	if size <= partSize {
		buf, sums, err := readPart(r, size, whole, nil)
		if err != nil {
			return Info{}, err
		}
		if err := expectEOF(r); err != nil {
			return Info{}, err
		}
		if _, err := s.core.PutObject(ctx, s.bucket, k, bytes.NewReader(buf), size, sums.md5b64(), "", opts); err != nil {
			return Info{}, s.explain("uploading "+c, err)
		}
		etag = hex.EncodeToString(sums.md5)
	} else {
		if etag, err = s.putMultipart(ctx, c, k, r, size, partSize, whole, opts); err != nil {
			return Info{}, err
		}
	}
	sum := hex.EncodeToString(whole.Sum(nil))
	info, err := s.verify(ctx, c, k, size, etag, sum)
	if err != nil {
		return Info{}, err
	}
	info.SHA256 = sum
	return info, nil
}

// putMultipart sends r in parts of partSize, each with its MD5 for the server to check; it
// returns the ETag S3 gives such an object (MD5 of the parts' MD5s, "-", the number of parts).
// A failure aborts the upload, so no half object or stray parts stay behind.
func (s *S3) putMultipart(ctx context.Context, c, k string, r io.Reader, size, partSize int64, whole hash.Hash, opts minio.PutObjectOptions) (string, error) {
	s.abortStale(ctx, k)
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, k, opts)
	if err != nil {
		return "", s.explain("starting the upload of "+c, err)
	}
	ok := false
	defer func() {
		if !ok {
			// Not the request's context: a cancelled upload must still be aborted.
			_ = s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, k, id)
		}
	}()
	var parts []minio.CompletePart
	md5s := md5.New()
	var buf []byte // one part's buffer, reused
	for n, left := 1, size; left > 0; n++ {
		ps := min(partSize, left)
		var sums partSums
		var err error
		buf, sums, err = readPart(r, ps, whole, buf)
		if err != nil {
			return "", err
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, k, id, n, bytes.NewReader(buf), ps,
			minio.PutObjectPartOptions{Md5Base64: sums.md5b64(), DisableContentSha256: true})
		if err != nil {
			return "", s.explain(fmt.Sprintf("uploading part %d of %s", n, c), err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		md5s.Write(sums.md5)
		left -= ps
	}
	if err := expectEOF(r); err != nil {
		return "", err
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, k, id, parts, opts); err != nil {
		return "", s.explain("completing the upload of "+c, err)
	}
	ok = true
	return hex.EncodeToString(md5s.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// abortStale aborts unfinished uploads of k: a process killed while uploading leaves its parts
// on the server, and the retry after the restart is the moment to drop them. Best effort: a
// server that does not list uploads only keeps some garbage.
func (s *S3) abortStale(ctx context.Context, k string) {
	res, err := s.core.ListMultipartUploads(ctx, s.bucket, k, "", "", "", 100)
	if err != nil {
		return
	}
	for _, u := range res.Uploads {
		if u.Key == k {
			_ = s.core.AbortMultipartUpload(ctx, s.bucket, k, u.UploadID)
		}
	}
}

// verify checks the stored object: its size, and its ETag against the one computed while
// sending. A server whose ETags are not MD5s (encryption with managed keys, some S3-compatible
// servers) gets the object read back and its SHA-256 compared instead.
func (s *S3) verify(ctx context.Context, c, k string, size int64, etag, sum string) (Info, error) {
	info, err := s.Stat(ctx, c)
	if err != nil {
		return Info{}, fmt.Errorf("storage %s: checking %s after the upload: %w", s.where, c, err)
	}
	if info.Size != size {
		return Info{}, fmt.Errorf("storage %s: %s holds %d bytes after the upload, want %d", s.where, c, info.Size, size)
	}
	if strings.EqualFold(info.ETag, etag) {
		return info, nil
	}
	o, err := s.Open(ctx, c)
	if err != nil {
		return Info{}, err
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, o); err != nil {
		return Info{}, fmt.Errorf("storage %s: reading %s back: %w", s.where, c, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return Info{}, fmt.Errorf("storage %s: %s read back has SHA-256 %s, uploaded %s", s.where, c, got, sum)
	}
	return info, nil
}

type partSums struct{ md5 []byte }

func (p partSums) md5b64() string { return base64.StdEncoding.EncodeToString(p.md5) }

// readPart reads exactly n bytes of r into buf (ErrShort if it ends first), hashing them.
func readPart(r io.Reader, n int64, whole hash.Hash, buf []byte) ([]byte, partSums, error) {
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, partSums{}, ErrShort
		}
		return nil, partSums{}, err
	}
	whole.Write(buf)
	m := md5.Sum(buf)
	return buf, partSums{md5: m[:]}, nil
}

func expectEOF(r io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return ErrTooLarge
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	c, k, err := s.key("stat", key)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, k, minio.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return Info{}, notExist("stat", c)
		}
		return Info{}, s.explain("reading "+c, err)
	}
	return Info{Key: c, Size: oi.Size, ModTime: oi.LastModified, ETag: strings.Trim(oi.ETag, `"`)}, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	c, k, err := s.key("delete", key)
	if err != nil {
		return err
	}
	if err := s.core.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return s.explain("deleting "+c, err)
	}
	return nil
}

func (s *S3) List(ctx context.Context, prefix string, recursive bool) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		p, err := cleanPrefix(prefix)
		if err != nil {
			yield(Info{}, badKey("list", prefix))
			return
		}
		delim := "/"
		if recursive {
			delim = ""
		}
		// Page by page: a page's objects and sub-folders come in two lists, merged here so the
		// whole listing is in key order (pages follow each other in key order).
		token := ""
		for {
			if err := ctx.Err(); err != nil {
				yield(Info{}, err)
				return
			}
			res, err := s.core.ListObjectsV2(s.bucket, s.prefix+p, "", token, delim, s.listPage)
			if err != nil {
				yield(Info{}, s.explain("listing "+p, err))
				return
			}
			page := make([]Info, 0, len(res.Contents)+len(res.CommonPrefixes))
			for _, oi := range res.Contents {
				page = append(page, Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified, ETag: strings.Trim(oi.ETag, `"`)})
			}
			for _, cp := range res.CommonPrefixes {
				page = append(page, Info{Key: strings.TrimSuffix(cp.Prefix, "/"), Dir: true})
			}
			slices.SortFunc(page, func(a, b Info) int { return strings.Compare(sortKey(a), sortKey(b)) })
			for _, i := range page {
				k, ok := strings.CutPrefix(i.Key, s.prefix)
				// Keys the interface could not name (hidden, "..", empty parts: written by
				// something else) are not listed either.
				if c, err := Clean(k); !ok || err != nil || c != k {
					continue
				}
				i.Key = k
				if !yield(i, nil) {
					return
				}
			}
			if !res.IsTruncated || res.NextContinuationToken == "" {
				return
			}
			token = res.NextContinuationToken
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
