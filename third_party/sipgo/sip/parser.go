package sip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The whitespace characters recognised by the Augmented Backus-Naur Form syntax
// that SIP uses (RFC 3261 S.25).
const abnf = " \t"

// The maximum permissible CSeq number in a SIP message (2**31 - 1).
// C.f. RFC 3261 S. 8.1.1.5.
const maxCseq = 2147483647

var (
	ErrParseLineNoCRLF = errors.New("line has no CRLF")
	ErrParseEOF        = errors.New("EOF on reading line")

	// Stream parse errors
	ErrParseSipPartial         = errors.New("SIP partial data")
	ErrParseReadBodyIncomplete = errors.New("reading body incomplete")
	ErrMessageTooLarge         = errors.New("Message exceeds ParseMaxMessageLength")

	defaultParser = NewParser()
)

var (
	ParseMaxMessageLength = 65535
)

func ParseMessage(msgData []byte) (Message, error) {
	return defaultParser.ParseSIP(msgData)
}

// Parser is implementation of SIPParser
// It is optimized with faster header parsing
type Parser struct {
	// HeadersParsers uses default list of headers to be parsed. Smaller list parser will be faster
	headersParsers HeadersParser

	MaxMessageLength int
}

// ParserOption are addition option for NewParser. Check WithParser...
type ParserOption func(p *Parser)

// Create a new Parser.
func NewParser(options ...ParserOption) *Parser {
	p := &Parser{
		headersParsers:   DefaultHeadersParser(),
		MaxMessageLength: ParseMaxMessageLength,
	}

	for _, o := range options {
		o(p)
	}

	return p
}

// WithHeadersParsers allows customizing parser headers parsers
// Consider performance when adding custom parser.
// Add only if it will appear in almost every message
//
// Check DefaultHeadersParser as starting point
func WithHeadersParsers(m map[string]HeaderParser) ParserOption {
	return func(p *Parser) {
		p.headersParsers = m
	}
}

// ParseHeaders parses all headers of a SIP message. It returns the number of bytes read.
// Data must contain a full SIP message header section, including double CRLF (\r\n).
//
// If the message is cut in the middle of a header or the first line, io.ErrUnexpectedEOF is returned.
// It may return an error wrapping ErrParseLineNoCRLF if one of the header lines is malformed,
// or if there's no CRLF (\r\n) delimiter after headers.
func (p *Parser) ParseHeaders(data []byte, stream bool) (Message, int, error) {
	msg, _, n, err := p.parseHeaders(data, stream)
	return msg, n, err
}

func (p *Parser) parseHeaders(data []byte, stream bool) (Message, *ContentLengthHeader, int, error) {
	msg, total, err := p.parseStartLine(data, stream)
	if err != nil && (msg == nil || AsParseError(err) == nil) {
		return msg, nil, total, err
	}
	lineErr := err
	data = data[total:]

	contentLength, n, err := p.parseHeadersOnly(msg, data)
	total += n
	if lineErr != nil && (err == nil || AsParseError(err) != nil && !IsFramingError(err)) {
		// The Request-Line is the first thing wrong; framing errors and a cut message still
		// say more about what the stream must do.
		err = lineErr
	}
	return msg, contentLength, total, err
}

func (p *Parser) parseStartLine(data []byte, stream bool) (Message, int, error) {
	var (
		total   int
		skipped bool
	)

	if stream {
		// RFC 3261 - 7.5.
		// Implementations processing SIP messages over stream-oriented
		// transports MUST ignore any CRLF appearing before the start-line.
		for len(data) >= 2 && data[0] == '\r' && data[1] == '\n' {
			data = data[2:]
			total += 2
			skipped = true
		}
	}

	startLine, n, err := nextLine(data)
	if err != nil {
		if err == io.EOF && skipped {
			return nil, total, io.ErrUnexpectedEOF
		}
		return nil, total, err
	}
	total += n

	msg, err := parseLine(string(startLine))
	// A malformed Request-Line still yields its request, so that the headers can be read
	// and the sender told what is wrong.
	return msg, total, err
}

var errParseNoMoreHeaders = errors.New("no more headers")

func (p *Parser) parseNextHeader(out []Header, data []byte) ([]Header, int, error) {
	line, n, err := nextLine(data)
	if err != nil {
		if err == io.EOF {
			return out, 0, io.ErrUnexpectedEOF
		}

		// NOTE: n > 0  but we return 0 as we need to read more bytes
		return out, 0, err
	}

	// Advance only after a successful parse.
	if len(line) == 0 {
		// We've hit the end of the header section.
		return out, n, errParseNoMoreHeaders
	}

	if n < len(data) && isHeaderContinuation(data[n]) {
		line, n, err = foldHeaderLine(line, n, data)
		if err != nil {
			return out, 0, err
		}
	}

	before := len(out)
	out, err = p.headersParsers.ParseHeader(out, line)
	if err != nil {
		// The line is consumed: keep it as it came, so that a response can still copy it,
		// and let the caller go on with the next header.
		out = out[:before]
		name, value, _ := bytes.Cut(line, []byte(":"))
		name = bytes.TrimSpace(name)
		lower := string(headerToLower(name))
		if canonical := headerFieldName(lower); canonical != "" {
			name = []byte(canonical)
		}
		if len(name) > 0 && bytes.IndexByte(line, ':') >= 0 {
			out = append(out, NewHeader(string(name), string(bytes.TrimSpace(value))))
		}
		return out, n, malformedHeader(lower, err)
	}
	return out, n, nil
}

func foldHeaderLine(line []byte, n int, data []byte) ([]byte, int, error) {
	total := n
	baseLen := trimRightHeaderWhitespaceLen(line)
	foldedLen := baseLen
	for total < len(data) && isHeaderContinuation(data[total]) {
		cont, contN, err := nextLine(data[total:])
		if err != nil {
			if err == io.EOF {
				return nil, 0, io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		cont = trimHeaderContinuationLine(cont)
		foldedLen += 1 + len(cont)
		total += contN
	}

	folded := make([]byte, 0, foldedLen)
	folded = append(folded, line[:baseLen]...)

	offset := n
	for offset < total {
		cont, contN, _ := nextLine(data[offset:])
		cont = trimHeaderContinuationLine(cont)
		folded = append(folded, ' ')
		folded = append(folded, cont...)
		offset += contN
	}

	return folded, total, nil
}

func isHeaderContinuation(c byte) bool {
	return c == ' ' || c == '\t'
}

func trimHeaderContinuationLine(line []byte) []byte {
	for len(line) > 0 && isHeaderContinuation(line[0]) {
		line = line[1:]
	}
	return line[:trimRightHeaderWhitespaceLen(line)]
}

func trimRightHeaderWhitespaceLen(line []byte) int {
	n := len(line)
	for n > 0 && isHeaderContinuation(line[n-1]) {
		n--
	}
	return n
}

func (p *Parser) parseHeadersOnly(msg Message, data []byte) (*ContentLengthHeader, int, error) {
	var (
		total, n      int
		headerBuf     []Header
		contentLength *ContentLengthHeader
		err, first    error
	)
	for {
		headerBuf, n, err = p.parseNextHeader(headerBuf[:0], data)
		data = data[n:]
		total += n
		for _, h := range headerBuf {
			switch h := h.(type) {
			case *ContentLengthHeader:
				if cerr := checkContentLength(contentLength, h); cerr != nil && first == nil {
					first = cerr
				}
				contentLength = h
			}
			msg.AppendHeader(h)
		}
		if err == errParseNoMoreHeaders {
			return contentLength, total, first
		}
		if pe := AsParseError(err); pe != nil {
			// One bad header: read on, so that the message can still be answered.
			if first == nil {
				first = err
			}
			continue
		}
		if err != nil {
			return contentLength, total, err
		}
	}
}

var errConflictingContentLength = &ParseError{Reason: "Conflicting Content-Length header fields", Framing: true}

// checkContentLength refuses a second Content-Length that disagrees with the first: which one
// frames the message cannot be known (RFC 4475 3.3.9).
func checkContentLength(prev, next *ContentLengthHeader) error {
	if prev != nil && *prev != *next {
		return errConflictingContentLength
	}
	return nil
}

// Parse data to a SIP message. It returns the number of bytes read. Data must contain a full SIP message.
//
// If the message is cut in the middle of a header or a first line, io.ErrUnexpectedEOF is returned.
// It may return an error wrapping ErrParseLineNoCRLF if one of the header lines is malformed,
// or if there's no CRLF (\r\n) delimiter after headers.
//
// In case the end of the body cannot be determined, or the body is incomplete,
// an ErrParseReadBodyIncomplete is returned.
func (p *Parser) Parse(data []byte, stream bool) (Message, int, error) {
	if len(data) > p.MaxMessageLength {
		return nil, 0, ErrMessageTooLarge
	}
	msg, contentLength, total, err := p.parseHeaders(data, stream)
	if err != nil && (AsParseError(err) == nil || IsFramingError(err) || msg == nil) {
		return msg, total, err
	}
	// A malformed header (err != nil here) still leaves the body to read: the message is
	// complete and can be answered.
	malformed := err
	data = data[total:]
	bodySize := -1
	if contentLength != nil {
		bodySize = int(*contentLength)
	} else if !stream {
		bodySize = len(data)
	}
	if bodySize < 0 {
		// RFC 3261 - 7.5.
		// The Content-Length header field value is used to locate the end of
		// each SIP message in a stream. It will always be present when SIP
		// messages are sent over stream-oriented transports.
		return msg, total, errMissingContentLength
	}
	if bodySize == 0 {
		return msg, total, malformed
	}
	if bodySize > p.MaxMessageLength-total {
		return msg, total, ErrMessageTooLarge
	}
	body := make([]byte, bodySize)
	n := copy(body, data)
	total += n
	msg.SetBody(body)
	// RFC 3261 - 18.3.
	if n != bodySize {
		return msg, total, errBodyIncomplete
	}
	return msg, total, malformed
}

var (
	errMissingContentLength = &ParseError{Reason: "Missing Content-Length header field", Framing: true, Err: ErrParseReadBodyIncomplete}
	errBodyIncomplete       = &ParseError{Reason: "Content-Length larger than message", Framing: true, Err: ErrParseReadBodyIncomplete}
)

// ParseSIP converts data to sip message. Buffer must contain full sip message
func (p *Parser) ParseSIP(data []byte) (msg Message, err error) {
	msg, _, err = p.Parse(data, false)
	if err == io.ErrUnexpectedEOF {
		err = ErrParseEOF
	}
	return msg, err
}

// NewSIPStream implements SIP parsing contructor for IO that stream SIP message
// It should be created per each stream
func (p *Parser) NewSIPStream() *ParserStream {
	if p == nil {
		p = NewParser()
	}
	return &ParserStream{
		p: p, // safe as it read only
	}
}

func parseLine(startLine string) (msg Message, err error) {
	if len(startLine) >= 4 && UriIsSIP(startLine[:3]) && startLine[3] == '/' {
		sipVersion, statusCode, reason, err := parseStatusLine(startLine)
		if err != nil {
			return nil, err
		}
		m := NewResponse(statusCode, reason)
		m.SipVersion = sipVersion
		return m, nil
	}
	return parseRequestLine(startLine)
}

// nextLine reads the next line of a SIP message and the number of bytes read.
//
// It returns io.ErrUnexpectedEOF is there's no CRLF (\r\n) in the data.
// If there's a CR (\r) which is not followed by LF (\n), a ErrParseLineNoCRLF is returned.
// As a special case, it returns io.EOF if data is empty.
func nextLine(data []byte) ([]byte, int, error) {
	if len(data) == 0 {
		return nil, 0, io.EOF
	}
	// https://www.rfc-editor.org/rfc/rfc3261.html#section-7
	// The start-line, each message-header line, and the empty line MUST be
	// terminated by a carriage-return line-feed sequence (CRLF).  Note that
	// the empty line MUST be present even if the message-body is not.

	// Lines could be multiline as well so this is also acceptable
	// TO :\n
	// sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
	i := bytes.IndexByte(data, '\r')
	if i < 0 {
		return data, len(data), io.ErrUnexpectedEOF
	}
	line := data[:i]
	if i+1 >= len(data) {
		return line, i + 1, io.ErrUnexpectedEOF
	}
	if data[i+1] != '\n' {
		return line, i + 1, ErrParseLineNoCRLF
	}
	return line, i + 2, nil
}

// parseRequestLine parses Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 7.1,
// 25.1): one SP between the elements and none at the end, a token for the method, which is
// case-sensitive and kept as sent, and a Request-URI without brackets, whitespace or, for SIP
// URIs, headers (19.1.1). A line that is recognisably a request but breaks these rules still
// yields the request (its method and version) with a ParseError, so that the sender can be told
// (RFC 4475 3.1.2.7 to 3.1.2.11); anything else is not a SIP message.
func parseRequestLine(line string) (Message, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 || !isToken(fields[0]) || !isSIPVersion(fields[len(fields)-1]) {
		return nil, fmt.Errorf("transmission beginning '%s' is not a SIP message", cutForError(line))
	}
	parts := strings.Split(line, " ")
	method := RequestMethod(fields[0])
	if len(parts) != 3 || parts[0] != fields[0] || parts[2] != fields[len(fields)-1] {
		m := NewRequest(method, Uri{})
		m.SipVersion = fields[len(fields)-1]
		return m, errMalformedRequestLine
	}
	m := NewRequest(method, Uri{})
	m.SipVersion = parts[2]
	uri := parts[1]
	if strings.ContainsAny(uri, "<>\t\"") {
		return m, errMalformedRequestLine
	}
	if err := ParseUri(uri, &m.Recipient); err != nil {
		m.Recipient = Uri{}
		return m, &ParseError{Reason: "Malformed Request-URI", Err: err}
	}
	if m.Recipient.Wildcard {
		m.Recipient = Uri{}
		return m, &ParseError{Reason: "Malformed Request-URI", Err: errors.New("wildcard URI '*' not permitted in request line")}
	}
	if (m.Recipient.Scheme == "sip" || m.Recipient.Scheme == "sips") && (m.Recipient.Host == "" || m.Recipient.Headers != nil) {
		return m, &ParseError{Reason: "Malformed Request-URI"}
	}
	return m, nil
}

// isToken reports whether s is a token (RFC 3261 25.1).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isSIPVersion reports whether s is "SIP" "/" 1*DIGIT "." 1*DIGIT; "SIP" is case-insensitive.
func isSIPVersion(s string) bool {
	if len(s) < 7 || !strings.EqualFold(s[:4], "SIP/") {
		return false
	}
	major, minor, ok := strings.Cut(s[4:], ".")
	return ok && isDigits(major) && isDigits(minor)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func cutForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// parseStatusLine parses Status-Line = SIP-Version SP Status-Code SP Reason-Phrase, e.g.
//
//	SIP/2.0 200 OK
//
// The status code is three digits (RFC 3261 7.2); the reason phrase may be empty.
func parseStatusLine(line string) (sipVersion string, statusCode int, reasonPhrase string, err error) {
	sipVersion, rest, _ := strings.Cut(line, " ")
	code, reasonPhrase, _ := strings.Cut(rest, " ")
	if !isSIPVersion(sipVersion) {
		return "", 0, "", fmt.Errorf("malformed SIP version in status line '%s'", cutForError(line))
	}
	if len(code) != 3 || !isDigits(code) || code[0] == '0' {
		return "", 0, "", fmt.Errorf("malformed status code in status line '%s'", cutForError(line))
	}
	statusCode, _ = strconv.Atoi(code)
	return sipVersion, statusCode, reasonPhrase, nil
}
