// Package s3test gives tests a real S3 server: a throwaway SeaweedFS (`weed server -s3` on
// 127.0.0.1 and free ports, in a temporary folder) or the server CALLREC_TEST_S3 names, and a
// fresh bucket with credentials of its own per test (a test's keys cannot touch another test's
// bucket).
//
// A package that uses New calls Main from its TestMain, so the shared server is stopped and its
// folder removed when the package's tests end:
//
//	func TestMain(m *testing.M) { s3test.Main(m) }
//
// Tests that stop or restart S3 start a server of their own with Start.
//
// The weed binary is the one scripts/seaweedfs.sh builds and caches, or the one CALLREC_WEED
// names; when it is missing the test is skipped naming the script, and fails when CALLREC_E2E=1.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"callrec/internal/testtool"
)

// Environment the helper reads.
const (
	// EnvServer names an existing S3 server instead of a throwaway SeaweedFS:
	// http://ACCESS_KEY:SECRET_KEY@host:port with keys that may create and delete buckets
	// (tests then share those keys, each with a bucket of its own).
	EnvServer = "CALLREC_TEST_S3"
	// EnvWeed names the weed binary to run instead of scripts/seaweedfs.sh's cached one.
	EnvWeed = "CALLREC_WEED"
)

// Region is the region the helper's servers answer to.
const Region = "us-east-1"

// Bucket is one test's bucket and the only keys that may use it.
type Bucket struct {
	Endpoint  string // http://127.0.0.1:PORT
	Region    string
	Name      string
	AccessKey string
	SecretKey string
}

// Env is the AWS-style environment that points a client at the bucket's server.
func (b Bucket) Env() map[string]string {
	return map[string]string{"AWS_ENDPOINT_URL": b.Endpoint, "AWS_REGION": b.Region,
		"AWS_ACCESS_KEY_ID": b.AccessKey, "AWS_SECRET_ACCESS_KEY": b.SecretKey}
}

// Client is a client with the bucket's own keys.
func (b Bucket) Client() (*minio.Client, error) { return client(b.Endpoint, b.AccessKey, b.SecretKey) }

// Server is a running SeaweedFS.
type Server struct {
	Endpoint string
	dir, bin string
	ports    []int
	admin    [2]string
	keys     [][2]string // per-bucket identities, handed out in turn
	next     atomic.Int64
	prefix   string // bucket names: prefix + index
	cmd      *exec.Cmd
	exited   chan struct{}
	log      string
}

var (
	shared struct {
		once sync.Once
		s    *Server
		err  error
	}
	mainCalled atomic.Bool
)

// Main runs the package's tests and then stops the shared server (when one was started).
func Main(m *testing.M) {
	stop := Enable()
	code := m.Run()
	stop()
	os.Exit(code)
}

// Enable is Main for a TestMain that also runs another helper's: call it before m.Run and the
// returned stop after it.
func Enable() (stop func()) {
	mainCalled.Store(true)
	return func() {
		if s := shared.s; s != nil {
			s.Stop()
			os.RemoveAll(s.dir)
		}
	}
}

// New makes a bucket for t on the shared server (started on first use), removed with its
// objects when t ends.
func New(t testing.TB) Bucket {
	t.Helper()
	if ext := os.Getenv(EnvServer); ext != "" {
		return external(t, ext)
	}
	if !mainCalled.Load() {
		t.Fatal("s3test: the package's TestMain must call s3test.Main(m) so the shared server is stopped")
	}
	shared.once.Do(func() {
		bin, err := Weed()
		if err != nil {
			shared.err = err
			return
		}
		dir, err := os.MkdirTemp("", "callrec-s3test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.s, shared.err = start(dir, bin)
		if shared.err != nil {
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		need(t, shared.err)
	}
	return shared.s.Bucket(t)
}

// Start runs a SeaweedFS of t's own in t.TempDir(), stopped when t ends: for tests that stop
// S3 or break it.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Weed()
	if err != nil {
		need(t, err)
	}
	s, err := start(t.TempDir(), bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Bucket makes a fresh bucket on s with keys of its own, removed when t ends.
func (s *Server) Bucket(t testing.TB) Bucket {
	t.Helper()
	i := int(s.next.Add(1)) - 1
	if i >= len(s.keys) {
		t.Fatalf("s3test: all %d buckets of this server are handed out", len(s.keys))
	}
	b := Bucket{Endpoint: s.Endpoint, Region: Region, Name: s.prefix + strconv.Itoa(i), AccessKey: s.keys[i][0], SecretKey: s.keys[i][1]}
	admin, err := client(s.Endpoint, s.admin[0], s.admin[1])
	if err != nil {
		t.Fatal(err)
	}
	makeBucket(t, admin, b.Name)
	return b
}

// AdminKeys are keys that may do anything on s (to test a key that may not).
func (s *Server) AdminKeys() (access, secret string) { return s.admin[0], s.admin[1] }

// Weed finds the weed binary: CALLREC_WEED, or scripts/seaweedfs.sh's cache.
func Weed() (string, error) {
	if p := os.Getenv(EnvWeed); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("s3test: %s=%s: %w", EnvWeed, p, err)
		}
		return p, nil
	}
	p, err := cachedWeed()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", errMissing{"SeaweedFS not built (" + p + "): run scripts/seaweedfs.sh (builds and caches it, minutes)"}
	}
	return p, nil
}

// cachedWeed is where scripts/seaweedfs.sh puts the binary: the commit of the version that
// internal/tools/seaweedfs/go.mod requires names it.
func cachedWeed() (string, error) {
	_, self, _, _ := runtime.Caller(0)
	gomod := filepath.Join(filepath.Dir(self), "..", "tools", "seaweedfs", "go.mod")
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("s3test: reading the SeaweedFS pin: %w", err)
	}
	version := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "require" && f[1] == "github.com/seaweedfs/seaweedfs" {
			version = f[2]
		}
	}
	i := strings.LastIndexByte(version, '-')
	if i < 0 || len(version)-i-1 < 12 {
		return "", fmt.Errorf("s3test: no SeaweedFS pseudo-version in %s", gomod)
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "callrec", "weed-"+version[i+1:i+13]), nil
}

type errMissing struct{ msg string }

func (e errMissing) Error() string { return e.msg }

func need(t testing.TB, err error) {
	t.Helper()
	var m errMissing
	if !errors.As(err, &m) {
		t.Fatal(err)
	}
	if testtool.E2E() {
		t.Fatal(m.msg + " (CALLREC_E2E=1 requires it)")
	}
	t.Skip(m.msg)
}

// bucketsPerServer bounds how many tests one server serves; the identities are written into its
// configuration at start.
const bucketsPerServer = 400

func start(dir, bin string) (*Server, error) {
	s := &Server{dir: dir, bin: bin, log: filepath.Join(dir, "weed.log"), prefix: "t" + randomHex(4) + "-"}
	s.admin = [2]string{"ADMIN" + strings.ToUpper(randomHex(8)), randomHex(20)}
	type cred struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string   `json:"name"`
		Credentials []cred   `json:"credentials"`
		Actions     []string `json:"actions"`
	}
	ids := []identity{{Name: "admin", Credentials: []cred{{s.admin[0], s.admin[1]}}, Actions: []string{"Admin", "Read", "List", "Tagging", "Write"}}}
	for i := range bucketsPerServer {
		k := [2]string{"T" + strings.ToUpper(randomHex(9)), randomHex(20)}
		s.keys = append(s.keys, k)
		b := s.prefix + strconv.Itoa(i)
		ids = append(ids, identity{Name: "test" + strconv.Itoa(i), Credentials: []cred{{k[0], k[1]}},
			Actions: []string{"Read:" + b, "Write:" + b, "List:" + b, "Tagging:" + b}})
	}
	conf, _ := json.Marshal(map[string]any{"identities": ids})
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), conf, 0o600); err != nil {
		return nil, err
	}
	// One volume per bucket instead of seven: every test makes a bucket.
	if err := os.WriteFile(filepath.Join(dir, "master.toml"), []byte("[master.volume_growth]\ncopy_1 = 1\ncopy_other = 1\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	var err error
	for range 3 { // a free port may be taken between choosing and binding it
		if s.ports, err = freePorts(8); err != nil {
			return nil, err
		}
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.ports[6])
		if err = s.run(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// args: every port given explicitly (SeaweedFS would put each gRPC port at its HTTP port +
// 10000, which need not be free), every extra listener off, nothing reported outside.
func (s *Server) args() []string {
	p := func(i int) string { return strconv.Itoa(s.ports[i]) }
	return []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + filepath.Join(s.dir, "data"),
		"-master.port=" + p(0), "-master.port.grpc=" + p(1), "-volume.port=" + p(2), "-volume.port.grpc=" + p(3),
		"-filer.port=" + p(4), "-filer.port.grpc=" + p(5), "-s3", "-s3.port=" + p(6), "-s3.port.grpc=" + p(7),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + filepath.Join(s.dir, "s3.json"),
		"-s3.allowDeleteBucketNotEmpty=true", "-s3.autoCreateBucket=false",
		"-filer.localSocket=" + filepath.Join(s.dir, "filer.sock"), "-s3.localSocket=" + filepath.Join(s.dir, "s3.sock"),
		"-master.telemetry=false", "-master.volumeSizeLimitMB=256", "-volume.max=100", "-volume.preStopSeconds=0",
		"-master.electionTimeout=1s"}
}

func (s *Server) run() error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir // master.toml and nothing of the caller's folder
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "HOME="+s.dir) // no ~/.seaweedfs of the developer's
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	if err := s.ready(exited); err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		b, _ := os.ReadFile(s.log)
		return fmt.Errorf("%w\n%s", err, tail(string(b), 3000))
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// ready waits until an object can be written and read back: the S3 port answering is not
// enough, the volume server must have registered with the master.
func (s *Server) ready(exited chan struct{}) error {
	c, err := client(s.Endpoint, s.admin[0], s.admin[1])
	if err != nil {
		return err
	}
	probe := "ready-" + randomHex(4)
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("s3test: weed server exited at start")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		last = c.MakeBucket(ctx, probe, minio.MakeBucketOptions{})
		if last != nil && minio.ToErrorResponse(last).Code == "BucketAlreadyOwnedByYou" {
			last = nil
		}
		if last == nil {
			_, last = c.PutObject(ctx, probe, "x", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		}
		cancel()
		if last == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return c.RemoveBucketWithOptions(ctx, probe, minio.RemoveBucketOptions{ForceDelete: true})
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("s3test: SeaweedFS not ready within 60 s: %v", last)
}

// Stop kills the server (as a crash or a network loss would look to a client); StartAgain
// brings it back with the same data and ports.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	// SeaweedFS puts its gRPC Unix sockets in /tmp whatever the folder; a kill leaves them.
	for i, kind := range map[int]string{1: "master", 3: "volume", 5: "filer", 7: "s3"} {
		os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", kind, s.ports[i]))
	}
}

// StartAgain restarts a stopped server.
func (s *Server) StartAgain() error {
	if s.cmd != nil {
		return nil
	}
	return s.run()
}

func external(t testing.TB, raw string) Bucket {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		t.Fatalf("s3test: %s must be http(s)://ACCESS_KEY:SECRET_KEY@host:port", EnvServer)
	}
	secret, _ := u.User.Password()
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = Region
	}
	b := Bucket{Endpoint: u.Scheme + "://" + u.Host, Region: region, Name: "callrec-test-" + randomHex(6),
		AccessKey: u.User.Username(), SecretKey: secret}
	c, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	makeBucket(t, c, b.Name)
	return b
}

func makeBucket(t testing.TB, c *minio.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("s3test: making bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Objects first: not every server deletes a bucket that is not empty.
		for o := range c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err == nil {
				c.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{})
			}
		}
		for u := range c.ListIncompleteUploads(ctx, name, "", true) {
			if u.Err == nil {
				c.RemoveIncompleteUpload(ctx, name, u.Key)
			}
		}
		if err := c.RemoveBucket(ctx, name); err != nil && !strings.Contains(err.Error(), "connection refused") {
			t.Logf("s3test: removing bucket %s: %v", name, err)
		}
	})
}

func client(endpoint, access, secret string) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	return minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Secure: u.Scheme == "https",
		Region: Region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
}

// freePorts returns n distinct free ports of 127.0.0.1, all held until all are chosen.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
