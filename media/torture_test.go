package media

// The torture messages of RFC 4475 and RFC 5118 against the running engine, over UDP and TCP:
// media/sip/testdata/torture holds them (adapted to the demo pool) and cases.txt what the engine
// must answer and whether a call may be placed. A raw destination on the trunk answers every
// INVITE with 486, so a call that is placed ends at once and shows in the answer.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callrec/internal/testtool"
)

type tortureCase struct {
	name, section string
	udp, tcp      string
	call          bool
	why           string
}

func tortureCases(t *testing.T) []tortureCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("sip", "testdata", "torture", "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []tortureCase
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 || (f[4] != "yes" && f[4] != "no") {
			t.Fatalf("bad line in cases.txt: %q", line)
		}
		out = append(out, tortureCase{f[0], f[1], f[2], f[3], f[4] == "yes", strings.Join(f[5:], " ")})
	}
	return out
}

// busyTrunk is the destination: every INVITE gets 486, and is counted.
type busyTrunk struct {
	conn *net.UDPConn
	mu   sync.Mutex
	n    int
}

func startBusyTrunk(t *testing.T, port int) *busyTrunk {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	tr := &busyTrunk{conn: c}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			switch {
			case strings.HasPrefix(msg, "INVITE "):
				tr.mu.Lock()
				tr.n++
				tr.mu.Unlock()
				_, _ = c.WriteToUDP([]byte(rawAnswer(msg, 486, "Busy Here")), from)
			case strings.HasPrefix(msg, "ACK "), strings.HasPrefix(msg, "SIP/2.0 "):
			default:
				_, _ = c.WriteToUDP([]byte(rawAnswer(msg, 200, "OK")), from)
			}
		}
	}()
	return tr
}

func (tr *busyTrunk) invites() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n
}

// rawAnswer is a response to req, copying its Via, From, To (with a tag), Call-ID and CSeq.
func rawAnswer(req string, code int, reason string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, line := range headerLines(req) {
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "from", "call-id", "cseq":
			b.WriteString(line + "\r\n")
		case "to":
			b.WriteString(line)
			if !strings.Contains(line, "tag=") {
				b.WriteString(";tag=trunk1")
			}
			b.WriteString("\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

func headerLines(msg string) []string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	return lines[1:]
}

// tortureAnswer is what came back for one message.
type tortureAnswer struct {
	codes  []int
	msgs   []string
	closed bool
}

// String is the answer as cases.txt writes it; codes are sorted, since the answers to two
// requests on one connection come in no fixed order.
func (a tortureAnswer) String() string {
	if len(a.codes) == 0 && !a.closed {
		return "-"
	}
	codes := append([]int(nil), a.codes...)
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, strconv.Itoa(c))
	}
	s := strings.Join(parts, ",")
	switch {
	case a.closed && s == "":
		return "close"
	case a.closed:
		return s + "+close"
	}
	return s
}

// ackFor acknowledges a failed INVITE in its transaction (RFC 3261 17.1.1.3).
func ackFor(req []byte, res string) []byte {
	ruri := "sip:x@127.0.0.1"
	if f := strings.Fields(strings.SplitN(string(req), "\r\n", 2)[0]); len(f) >= 2 {
		ruri = strings.Trim(f[1], "<>")
	}
	var b strings.Builder
	b.WriteString("ACK " + ruri + " SIP/2.0\r\n")
	via := false
	for _, line := range headerLines(res) {
		name, value, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via":
			if !via {
				b.WriteString(line + "\r\n")
				via = true
			}
		case "from", "to", "call-id":
			b.WriteString(line + "\r\n")
		case "cseq":
			n, _, _ := strings.Cut(strings.TrimSpace(value), " ")
			b.WriteString("CSeq: " + n + " ACK\r\n")
		}
	}
	b.WriteString("Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String())
}

var statusLine = regexp.MustCompile(`^SIP/2\.0 (\d{3}) `)

// final is the status code of a final response, or 0.
func final(msg string) int {
	m := statusLine.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	code, _ := strconv.Atoi(m[1])
	if code < 200 {
		return 0
	}
	return code
}

func isInviteAnswer(msg string) bool { return strings.HasSuffix(header(msg, "CSeq"), "INVITE") }

// wantCount is how many final responses an expectation names.
func wantCount(want string) int {
	want = strings.TrimSuffix(strings.TrimSuffix(want, "+close"), "close")
	if want == "-" || want == "" {
		return 0
	}
	return len(strings.Split(want, ","))
}

const tortureSettle = 300 * time.Millisecond

func tortureUDP(t *testing.T, engine string, data []byte, want string) tortureAnswer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", engine)
	if _, err := c.WriteToUDP(data, to); err != nil {
		t.Fatal(err)
	}
	var a tortureAnswer
	n := wantCount(want)
	deadline := time.Now().Add(5 * time.Second)
	if n == 0 {
		deadline = time.Now().Add(2 * tortureSettle)
	}
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		_ = c.SetReadDeadline(deadline)
		k, _, err := c.ReadFromUDP(buf)
		if err != nil {
			break
		}
		msg := string(buf[:k])
		code := final(msg)
		if code == 0 {
			continue
		}
		a.codes = append(a.codes, code)
		a.msgs = append(a.msgs, msg)
		if isInviteAnswer(msg) && code >= 300 {
			_, _ = c.WriteToUDP(ackFor(data, msg), to)
		}
		if len(a.codes) >= n {
			deadline = time.Now().Add(tortureSettle)
		}
	}
	return a
}

// readMessage reads one SIP message from a stream, framed by its Content-Length.
func readMessage(r *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if head.Len() == 0 && line == "\r\n" {
			continue
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	n, _ := strconv.Atoi(header(head.String(), "Content-Length"))
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return head.String() + string(body), nil
}

func tortureTCP(t *testing.T, engine string, data []byte, want string, messageTimeout time.Duration) tortureAnswer {
	t.Helper()
	c, err := net.Dial("tcp", engine)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	var a tortureAnswer
	n := wantCount(want)
	wait := 5 * time.Second
	if strings.HasSuffix(want, "close") {
		wait = messageTimeout + 5*time.Second
	} else if n == 0 {
		wait = 2 * tortureSettle
	}
	deadline := time.Now().Add(wait)
	r := bufio.NewReader(c)
	for time.Now().Before(deadline) {
		_ = c.SetReadDeadline(deadline)
		msg, err := readMessage(r)
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				a.closed = true
			}
			break
		}
		code := final(msg)
		if code == 0 {
			continue
		}
		a.codes = append(a.codes, code)
		a.msgs = append(a.msgs, msg)
		if isInviteAnswer(msg) && code >= 300 {
			_, _ = c.Write(ackFor(data, msg))
		}
		if len(a.codes) >= n && !strings.HasSuffix(want, "close") {
			deadline = time.Now().Add(tortureSettle)
		}
	}
	return a
}

// TestTortureMessagesAnsweredAsTheRFCsSay sends every RFC 4475 and RFC 5118 message to the
// engine, over UDP and over TCP: the answers are the RFCs' (cases.txt), nothing crashes, no call
// is placed for a message that must not place one, and no answer names the software.
//
// Each message meets an engine of its own: several messages share a Via branch (the RFCs'
// examples are independent), and a second one would be taken for a retransmission.
func TestTortureMessagesAnsweredAsTheRFCsSay(t *testing.T) {
	testtool.Short(t)
	const messageTimeout = time.Second
	cases := tortureCases(t)
	if len(cases) != 61 {
		t.Fatalf("%d cases, want the 49 of RFC 4475 section 3 and the 12 of RFC 5118", len(cases))
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8) // the test mostly waits for silence; 8 at a time
	for _, tc := range cases {
		data, err := os.ReadFile(filepath.Join("sip", "testdata", "torture", tc.name+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range []string{"udp", "tcp"} {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer func() { <-slots; wg.Done() }()
				t.Run(tc.name+"/"+tp, func(t *testing.T) { runTorture(t, tc, tp, data, messageTimeout) })
			}()
		}
	}
	wg.Wait()
}

func runTorture(t *testing.T, tc tortureCase, tp string, data []byte, messageTimeout time.Duration) {
	trunkPort := freePort(t)
	trunk := startBusyTrunk(t, trunkPort)
	e := startEngine(t, memDir{"49711218431431": demoRoute(t, Policy{})}, trunkPort, func(c *Config) {
		c.SIPTCPMessageTimeout = messageTimeout
	})
	want := tc.udp
	if tp == "tcp" {
		want = tc.tcp
	}
	var got tortureAnswer
	if tp == "udp" {
		got = tortureUDP(t, e.SIPAddr(), data, want)
	} else {
		got = tortureTCP(t, e.SIPAddr(), data, want, messageTimeout)
	}
	if got.String() != sortedWant(want) {
		t.Errorf("%s over %s (%s, %s): got %s, want %s\n%s", tc.name, tp, tc.section, tc.why, got, want, strings.Join(got.msgs, "\n"))
	}
	placed := trunk.invites()
	if tc.call && placed != 1 || !tc.call && placed != 0 {
		t.Errorf("%s over %s: %d calls reached the destination, want call=%v", tc.name, tp, placed, tc.call)
	}
	if !tc.call && sinkCalls(e) != 0 {
		t.Errorf("%s over %s: the engine started a call", tc.name, tp)
	}
	for _, m := range got.msgs {
		checkTortureAnswer(t, tc.name, m)
	}
	e.stop()
	drainEnded(e)
	noLeaks(t, e)
}

func sortedWant(want string) string {
	codes, close := strings.CutSuffix(want, "+close")
	if codes == "-" || codes == "close" {
		return want
	}
	parts := strings.Split(codes, ",")
	sort.Strings(parts)
	out := strings.Join(parts, ",")
	if close {
		out += "+close"
	}
	return out
}

// sinkCalls counts the calls the engine reported.
func sinkCalls(e *testEngine) int {
	e.sink.mu.Lock()
	defer e.sink.mu.Unlock()
	ids := map[string]bool{}
	for _, c := range e.sink.changes {
		ids[c.ID] = true
	}
	return len(ids)
}

// checkTortureAnswer holds every answer to what RFC 3261 asks of its status code, and to naming
// no software.
func checkTortureAnswer(t *testing.T, name, msg string) {
	t.Helper()
	if bytes.Contains(bytes.ToLower([]byte(msg)), []byte("callrec")) || header(msg, "Server") != "" || header(msg, "User-Agent") != "" {
		t.Errorf("%s: the answer names the software:\n%s", name, msg)
	}
	switch final(msg) {
	case 405, 501:
		if header(msg, "Allow") == "" {
			t.Errorf("%s: %d without Allow", name, final(msg))
		}
	case 415:
		if header(msg, "Accept") != "application/sdp" {
			t.Errorf("%s: 415 without Accept: application/sdp:\n%s", name, msg)
		}
	case 420:
		if u := header(msg, "Unsupported"); u != "nothingSupportsThis, nothingSupportsThisEither" {
			t.Errorf("%s: 420 with Unsupported %q", name, u)
		}
	case 400:
		if reason := strings.TrimSpace(strings.SplitN(msg, "\r\n", 2)[0][12:]); reason == "" || reason == "Bad Request" {
			t.Errorf("%s: 400 without a reason naming the problem: %q", name, reason)
		}
	}
}
