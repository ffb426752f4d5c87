package e2elog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Options tune Parse.
type Options struct {
	// Format forces the log format; FormatAuto detects it.
	Format Format
	// MaxMessageBytes caps each failure message kept (default 64 KiB).
	MaxMessageBytes int
	// BufferSize is the read buffer and the longest line examined in full
	// (default 256 KiB); longer lines are cut, never loaded whole.
	BufferSize int
}

// NotE2ELogError says why the input is not an e2e.log.
type NotE2ELogError struct{ Reason string }

func (e *NotE2ELogError) Error() string { return e.Reason }

// Parse reads an e2e.log from r and calls onSpec for every spec result in
// log order. It returns what it learned about the runs in the log. The input
// is read once, line by line; memory does not depend on its size.
func Parse(ctx context.Context, r io.Reader, opts Options, onSpec func(Spec) error) (*Log, error) {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 64 << 10
	}
	if opts.BufferSize < 4096 {
		opts.BufferSize = 256 << 10
	}
	if onSpec == nil {
		onSpec = func(Spec) error { return nil }
	}
	lr := newLineReader(r, opts.BufferSize)
	defer lr.stop()
	head, read, err := lr.head()
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, &NotE2ELogError{Reason: "the log is empty"}
	}
	if reason := binaryReason(head); reason != "" {
		return nil, &NotE2ELogError{Reason: reason}
	}
	p := &parser{opts: opts, onSpec: onSpec, forced: opts.Format, format: opts.Format}
	p.log.Format = opts.Format
	p.log.Bytes = read
	if err := p.readLines(ctx, lr); err != nil {
		return nil, err
	}
	p.log.Lines = p.lineNo
	p.finishRun()
	if p.err != nil {
		return nil, p.err
	}
	if len(p.log.Runs) == 0 {
		return nil, &NotE2ELogError{Reason: "no Ginkgo output found: this is not the console log of a Kubernetes e2e run (e2e.log)"}
	}
	if p.log.Format == FormatAuto {
		p.log.Format = p.log.Runs[len(p.log.Runs)-1].Format
	}
	return &p.log, nil
}

// binaryReason reports why head looks like binary data rather than a log.
func binaryReason(head []byte) string {
	if bytes.IndexByte(head, 0) >= 0 {
		return "the file is binary (it holds NUL bytes), not a text log"
	}
	bad, ctrl := 0, 0
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n <= 1 {
			if len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:]) {
				break // a rune cut by the peek window
			}
			bad++
		} else if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != 0x1b && r != '\f' && r != '\b' {
			ctrl++
		}
		i += n
	}
	if (bad+ctrl)*50 > len(head) {
		return "the file is binary (it is not UTF-8 text), not a text log"
	}
	return ""
}

type parser struct {
	opts   Options
	onSpec func(Spec) error
	log    Log
	forced Format
	format Format
	lineNo int64
	err    error
	run    *Run
	rs     runState
	// versions printed before the first "Running Suite:" banner
	pre Run
	// buffers reused from one result block to the next
	msgBuf []byte
	locBuf []string
	escBuf []byte // the line without its terminal escapes
	// freeBlk is a finished block, for the next
	freeBlk *block
	// wrBuf holds rs.wr, willBuf rs.will
	wrBuf   [3]string
	willBuf willRun
	key     []byte // failedBefore's
	// sumSpec is the pending spec of the failure summary, sumLine its line
	sumSpec Spec
	sumLine []byte
	// allow is allowSingleLabel's answer for the version allowFor
	allowFor          string
	allow, allowKnown bool
}

type runState struct {
	afterDelim bool
	wr         []string // WillRun lines being collected
	wrLine     int64
	will       *willRun // the announced spec awaiting its result
	held       *Spec    // Ginkgo v1: a result awaiting its progress JSON
	json       *Spec    // Ginkgo v2: a progress JSON awaiting its result
	blk        *block
	sum        *sumState
	results    int // spec (It) results so far, named or not
	emitted    int // results reported, suite nodes included
	failed     map[string]bool
	counts     bool // after "Ran N of M", expecting the status line
	beforeFail bool
}

type willRun struct {
	nodeType, text string
	line           int64
}

type sumState struct {
	pending *Spec
}

type block struct {
	h         header
	line      int64
	loc       []string
	locDone   bool
	inSection bool
	msg       []byte // message lines, each ended by '\n'
	lines     int
	cut       bool
	done      bool // Ginkgo v2: "In [X] at:" seen
	fail      Failure
}

func (p *parser) detect(f Format) {
	if p.format == FormatAuto && f != FormatAuto {
		p.format = f
		if p.log.Format == FormatAuto {
			p.log.Format = f
		}
	}
	if p.run != nil && p.run.Format == FormatAuto {
		p.run.Format = p.format
	}
}

// interesting reports whether a line starting with c can matter outside a
// block: everything else is test output.
func interesting(c byte) bool {
	switch c {
	case '-', 'R', 'W', 'S', 'P', 'F', 'T', '[', '{', 'p', 0xE2:
		return true
	}
	return c >= '0' && c <= '9'
}

// quiet reports whether the parser is outside any block, announcement or
// summary: where most lines are test output, which output passes over.
func (p *parser) quiet() bool {
	return p.rs.blk == nil && p.rs.wr == nil && p.rs.sum == nil && !p.rs.afterDelim
}

// output takes a line read while quiet (without its newline, and without
// terminal escapes) and, when it is test output that feed would look at
// and let be, counts it and reports true. Otherwise it changes nothing and
// reports false: the line is for feed.
func (p *parser) output(b []byte) bool {
	n := len(b)
	for n > 0 && b[n-1] == '\r' {
		n--
	}
	if n > 0 && (!p.versionsKnown() || !testOutput(b[:n])) {
		return false
	}
	p.lineNo++
	return true
}

// versionsKnown reports whether scanOutput no longer looks for the
// framework's version lines.
func (p *parser) versionsKnown() bool {
	run := p.run
	if run == nil {
		run = &p.pre
	}
	return p.rs.results > 0 || run.E2EVersion != "" && run.APIServerVersion != ""
}

// testOutput reports whether a line (without its line end) is test output
// in which, outside a block, only version lines matter: it starts with a
// blank or a character no line of Ginkgo's does, and is no interrupt.
func testOutput(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if c := b[0]; c != ' ' && c != '\t' && interesting(c) {
		return false
	}
	k := 0
	for k < len(b) && (b[k] == ' ' || b[k] == '\t') {
		k++
	}
	t := b[k:]
	return len(t) <= 14 || !(t[0] == 'I' && t[1] == 'n' || t[0] == 'R' && t[1] == 'e' || t[0] == 'p' && t[1] == 'a')
}

// feed handles one line as read (with its newline), which may be a view of
// the read buffer: see view.
func (p *parser) feed(b []byte, esc bool) {
	p.lineNo++
	n := len(b)
	for n > 0 && (b[n-1] == '\n' || b[n-1] == '\r') {
		n--
	}
	b = b[:n]
	if esc {
		b = stripANSI(append(p.escBuf[:0], b...))
		p.escBuf = b
	}
	s := view(b)
	if p.rs.wr == nil && p.rs.sum == nil && !p.rs.afterDelim {
		if blk := p.rs.blk; blk == nil {
			if len(s) == 0 {
				return
			}
			if c := s[0]; c == ' ' || c == '\t' || !interesting(c) {
				p.scanOutput(s)
				return
			}
		} else if v1 := blk.h.format == GinkgoV1 || (blk.h.format == FormatAuto && p.format == GinkgoV1); v1 && blk.locDone && len(s) > 0 && s[0] == ' ' {
			// Ginkgo v1 failure body: all of it is kept.
			p.addMsg(blk, s)
			return
		} else if !v1 && blk.locDone && !blk.inSection && !blk.done && len(s) > 2 && s[0] == ' ' && s[1] == ' ' &&
			(s[2] == ' ' || s[2] != '<' && s[2] != 'I' && !strings.HasSuffix(s, sectionStart)) {
			// Ginkgo v2 failure message.
			p.addMsg(blk, s[2:])
			return
		} else if !v1 && blk.locDone && len(s) > 2 && s[0] == ' ' && s[1] == ' ' && (blk.inSection || blk.done) {
			// Captured output inside a result block (a timeline, a
			// progress report): only its end matters, and the version
			// lines a parallel run prints there.
			if blk.inSection && s[2] == '<' && strings.HasPrefix(s, sectionEnd) {
				blk.inSection = false
				return
			}
			if !blk.done || blk.fail.Panic != "" || blk.h.state != Panicked {
				p.scanOutput(s)
				return
			}
		}
	}
	p.line(s)
}

const (
	sectionEnd   = "  << "
	sectionStart = " >>"
)

func (p *parser) line(s string) {
	if p.rs.wr != nil && p.willRunLine(s) {
		return
	}
	if p.rs.blk != nil && p.blockLine(s) {
		return
	}
	if p.rs.sum != nil && p.summaryLine(s) {
		return
	}
	p.topLine(s)
}

const (
	e2eVersionKey = "e2e test " + versionKey
	apiVersionKey = "kube-apiserver " + versionKey
	versionKey    = "version: "
)

// scanOutput looks at test output (not Ginkgo's own lines) for the
// framework's version lines, the command line and interrupts.
func (p *parser) scanOutput(b string) {
	run := p.run
	if run == nil {
		run = &p.pre
	}
	if p.rs.results == 0 && (run.E2EVersion == "" || run.APIServerVersion == "") {
		// Both keys end with versionKey: most lines have neither.
		if strings.Contains(b, versionKey) {
			if i := strings.Index(b, e2eVersionKey); i >= 0 && run.E2EVersion == "" {
				run.E2EVersion = strings.Clone(strings.TrimSpace(b[i+len(e2eVersionKey):]))
			}
			if i := strings.Index(b, apiVersionKey); i >= 0 && run.APIServerVersion == "" {
				run.APIServerVersion = strings.Clone(strings.TrimSpace(b[i+len(apiVersionKey):]))
			}
		}
		if run.Focus == "" {
			p.scanFlags(run, b)
		}
	}
	t := b
	for len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
		t = t[1:]
	}
	if len(t) > 14 && (t[0] == 'I' && t[1] == 'n' || t[0] == 'R' && t[1] == 'e' || t[0] == 'p' && t[1] == 'a') {
		p.interrupt(t)
	}
}

// scanFlags picks --focus/--skip out of a logged command line (go-runner
// and wrapper scripts print one).
func (p *parser) scanFlags(run *Run, b string) {
	if strings.IndexByte(b, '=') < 0 || !strings.Contains(b, "focus=") {
		return
	}
	sep := byte(' ')
	if strings.Contains(b, ",--") {
		sep = ','
	}
	value := func(key string) (string, bool) {
		for _, k := range []string{"--ginkgo." + key + "=", "-ginkgo." + key + "=", "--" + key + "=", "-" + key + "="} {
			if i := strings.Index(b, k); i >= 0 {
				v := b[i+len(k):]
				if j := strings.IndexByte(v, sep); j >= 0 {
					v = v[:j]
				}
				return strings.Clone(strings.Trim(v, `"'`)), true
			}
		}
		return "", false
	}
	if v, ok := value("focus"); ok {
		run.Focus = v
		if s, ok := value("skip"); ok {
			run.Skip = s
		}
	}
}

// interrupt records the interrupts and timeouts Ginkgo and go test print.
func (p *parser) interrupt(t string) {
	var reason string
	switch {
	case strings.HasPrefix(t, "Interrupted by "):
		reason = strings.Clone(strings.TrimSpace(t))
	case strings.HasPrefix(t, "Received interrupt"):
		reason = "Interrupted by User (Ginkgo: " + strings.TrimSpace(t) + ")"
	case strings.HasPrefix(t, "panic: test timed out after "):
		reason = "go test timed out (" + strings.TrimPrefix(strings.TrimSpace(t), "panic: ") + ")"
	default:
		return
	}
	p.ensureRun()
	if p.run.Interrupted == "" {
		p.run.Interrupted = reason
	}
}

func (p *parser) ensureRun() {
	if p.run == nil {
		p.newRun()
	}
}

func (p *parser) newRun() {
	if r := p.run; r != nil && p.rs.emitted == 0 && r.Summary == nil && r.Suite == "" && r.WillRun == 0 {
		// A run opened by stray output before the banner: the banner
		// starts it properly.
		p.pre = *r
		p.log.Runs = p.log.Runs[:len(p.log.Runs)-1]
		p.run = nil
	}
	p.finishRun()
	p.log.Runs = append(p.log.Runs, Run{Index: len(p.log.Runs), StartLine: p.lineNo, Format: p.forced})
	p.run = &p.log.Runs[len(p.log.Runs)-1]
	p.format = p.forced
	p.run.E2EVersion, p.run.APIServerVersion = p.pre.E2EVersion, p.pre.APIServerVersion
	p.run.Focus, p.run.Skip, p.run.Interrupted = p.pre.Focus, p.pre.Skip, p.pre.Interrupted
	p.pre = Run{}
	p.rs = runState{}
}

func (p *parser) topLine(s string) {
	if s == "" {
		return
	}
	if isDelimiter(s) {
		p.rs.afterDelim = true
		return
	}
	after := p.rs.afterDelim
	p.rs.afterDelim = false
	if s[0] == ' ' || s[0] == '\t' {
		p.scanOutput(s)
		return
	}
	if p.banner(s) || p.summaryStart(s) {
		return
	}
	if p.rs.counts && p.countsLine(s) {
		return
	}
	if p.dotsOrJSON(s) || p.resultHeader(s) {
		return
	}
	if after && p.run != nil {
		p.rs.wr = append(p.wrBuf[:0], strings.Clone(s))
		p.rs.wrLine = p.lineNo
		return
	}
	p.scanOutput(s)
}

// banner handles the run's opening lines.
func (p *parser) banner(s string) bool {
	switch s[0] {
	case 'R', 'W', 'P', 'S', 'F', 'p', 'I':
	default:
		return false // none of the prefixes below
	}
	switch {
	case strings.HasPrefix(s, "Running Suite: "):
		p.newRun()
		desc := strings.TrimPrefix(s, "Running Suite: ")
		desc = strings.Clone(desc)
		if i := strings.LastIndex(desc, " - "); i >= 0 && strings.ContainsAny(desc[i+3:], "/\\") {
			p.run.Suite, p.run.SuitePath = desc[:i], desc[i+3:]
			p.detect(GinkgoV2)
		} else {
			p.run.Suite = desc
		}
	case strings.HasPrefix(s, "Random Seed: "):
		p.ensureRun()
		if f := firstField(strings.TrimPrefix(s, "Random Seed: ")); f != "" {
			p.run.RandomSeed, _ = strconv.ParseInt(f, 10, 64)
		}
		switch {
		case strings.Contains(s, " - will randomize all specs"):
			p.run.RandomizeAll = true
			p.detect(GinkgoV2)
		case strings.Contains(s, " - Will randomize all specs"):
			p.run.RandomizeAll = true
			p.detect(GinkgoV1)
		}
	case strings.HasPrefix(s, "Will run "):
		f := strings.Fields(s)
		switch {
		case len(f) == 6 && f[3] == "of" && strings.HasPrefix(f[5], "spec"):
			p.ensureRun()
			p.run.WillRun, _ = strconv.Atoi(f[2])
			p.run.TotalSpecs, _ = strconv.Atoi(f[4])
		case len(f) == 4 && strings.HasPrefix(f[3], "spec"):
			p.ensureRun()
			p.run.WillRun, _ = strconv.Atoi(f[2])
		default:
			return false
		}
	case strings.HasPrefix(s, "Running in parallel across "):
		f := strings.Fields(s)
		if len(f) < 6 {
			return false
		}
		p.ensureRun()
		p.run.Parallel, _ = strconv.Atoi(f[4])
		if f[5] == "nodes" {
			p.detect(GinkgoV1)
		} else {
			p.detect(GinkgoV2)
		}
	case strings.HasPrefix(s, "Parallel test node "):
		p.ensureRun()
		p.detect(GinkgoV1)
		if _, total, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(s, "Parallel test node "), "."), "/"); ok {
			p.run.Parallel, _ = strconv.Atoi(total)
		}
	case strings.HasPrefix(s, "Ran "):
		f := strings.Fields(s)
		if len(f) != 8 || f[2] != "of" || f[4] != "Specs" || f[5] != "in" {
			return false
		}
		p.ensureRun()
		p.flushPending()
		sum := &Summary{Line: p.lineNo}
		sum.Ran, _ = strconv.Atoi(f[1])
		sum.Total, _ = strconv.Atoi(f[3])
		sum.Seconds, _ = strconv.ParseFloat(f[6], 64)
		p.run.Summary = sum
		p.rs.counts = true
	case strings.HasPrefix(s, "SUCCESS!") || strings.HasPrefix(s, "FAIL!"):
		if p.run == nil || p.run.Summary == nil {
			return false
		}
		p.statusLine(s)
	case strings.HasPrefix(s, "Received interrupt") || strings.HasPrefix(s, "panic: test timed out after ") || strings.HasPrefix(s, "Interrupted by "):
		p.interrupt(s)
	default:
		return false
	}
	return true
}

// statusLine reads "SUCCESS! -- 3 Passed | 0 Failed | 0 Pending | 9 Skipped",
// "FAIL! - Interrupted by User -- ..." and
// "FAIL! -- A BeforeSuite node failed so all tests were skipped.".
func (p *parser) statusLine(s string) {
	sum := p.run.Summary
	sum.Succeeded = strings.HasPrefix(s, "SUCCESS!")
	rest := strings.TrimPrefix(strings.TrimPrefix(s, "SUCCESS!"), "FAIL!")
	counts := ""
	if i := strings.Index(rest, " -- "); i >= 0 {
		rest, counts = rest[:i], rest[i+4:]
	}
	if r, ok := strings.CutPrefix(rest, " - "); ok {
		for reason := range strings.SplitSeq(r, ", ") {
			if reason = strings.TrimSpace(reason); reason != "" {
				sum.Reasons = append(sum.Reasons, strings.Clone(reason))
			}
		}
	}
	if counts != "" {
		p.countsLine(counts)
	}
}

// countsLine reads "3 Passed | 0 Failed | 1 Flaked | 0 Pending | 9 Skipped".
func (p *parser) countsLine(s string) bool {
	sum := p.run.Summary
	if strings.HasPrefix(s, "A BeforeSuite node failed") {
		sum.BeforeSuiteFailed = true
		p.rs.counts = false
		return true
	}
	if !strings.Contains(s, " Passed | ") {
		return false
	}
	fields := [...]struct {
		name  string
		count *int
	}{
		{"Passed", &sum.Passed}, {"Failed", &sum.Failed}, {"Flaked", &sum.Flaked},
		{"Repeated", &sum.Repeated}, {"Pending", &sum.Pending}, {"Skipped", &sum.Skipped},
	}
	for part := range strings.SplitSeq(s, " | ") {
		f := strings.Fields(part)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		for _, field := range fields {
			if f[1] == field.name {
				*field.count = n
			}
		}
	}
	sum.HasCounts = true
	p.rs.counts = false
	return true
}

// dotsOrJSON handles runs of denoters ("SSSS•SS•P") and the e2e framework's
// progress JSON ({"msg":"PASSED ..."}), which can share a line.
func (p *parser) dotsOrJSON(s string) bool {
	i, skipped, pending, passed := 0, 0, 0, 0
	if s[0] == 'S' && strings.Count(s, "S") == len(s) {
		// A line of skipped specs, counted at once.
		i, skipped = len(s), len(s)
	}
scan:
	for i < len(s) {
		switch c := s[i]; {
		case c == 'S':
			n := skips(s[i:])
			skipped += n
			i += n
		case c == 'P':
			pending++
			i++
		case c == denoter[0] && i+2 < len(s) && s[i+1] == denoter[1] && s[i+2] == denoter[2]:
			passed++
			i += len(denoter)
		default:
			break scan
		}
	}
	rest := s[i:]
	if (rest != "" && rest[0] != '{') || (i == 0 && !strings.HasPrefix(rest, `{"msg":`)) {
		return false
	}
	if i > 0 {
		p.ensureRun()
		p.run.AnonymousSkipped += skipped
		p.run.Pending += pending
		for range passed {
			p.barePass()
		}
	}
	if rest != "" {
		p.progressJSON(rest)
	}
	return true
}

// skips counts the 'S' that start s, eight at a time.
func skips(s string) int {
	const eight = 0x5353535353535353 // "SSSSSSSS"
	n := 0
	for len(s)-n >= 8 && binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[n:]), 8)) == eight {
		n += 8
	}
	for n < len(s) && s[n] == 'S' {
		n++
	}
	return n
}

// barePass is a passing spec printed as a bare "•".
func (p *parser) barePass() {
	p.result(&Spec{NodeType: "It", State: Passed}, "", false)
}

// progressJSON handles the e2e framework's progress line, printed after each
// spec by Kubernetes v1.17 to v1.30: {"msg":"PASSED <full text>",...}.
func (p *parser) progressJSON(s string) {
	msg, ok := jsonMsg(s)
	if !ok {
		return
	}
	var st State
	var text string
	switch {
	case strings.HasPrefix(msg, "PASSED "):
		st, text = Passed, msg[len("PASSED "):]
	case strings.HasPrefix(msg, "FAILED "):
		st, text = Failed, msg[len("FAILED "):]
	default:
		return
	}
	if h := p.rs.held; h != nil && h.State == st && h.NodeType == "It" {
		// Ginkgo v1 prints the result first, the framework its JSON after.
		h.Text = text
		p.rs.held = nil
		p.emit(h)
		return
	}
	spec := Spec{NodeType: "It", State: st, Text: text, Line: p.lineNo}
	if p.format == GinkgoV1 {
		p.flushHeld()
		p.emit(&spec)
		return
	}
	// Ginkgo v2 runs the framework's ReportAfterEach before it prints the
	// result: keep the name for the result that follows.
	p.flushJSON()
	p.rs.json = &spec
}

// jsonMsg extracts the "msg" string of a progress line whose tail may have
// been cut.
func jsonMsg(s string) (string, bool) {
	const key = `{"msg":"`
	if !strings.HasPrefix(s, key) {
		return "", false
	}
	for i := len(key); i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			var msg string
			if err := json.Unmarshal([]byte(s[len(key)-1:i+1]), &msg); err != nil {
				return "", false
			}
			return msg, true
		}
	}
	return "", false
}

// resultHeader starts a result block.
func (p *parser) resultHeader(s string) bool {
	var h header
	ok := false
	if p.format != GinkgoV1 {
		h, ok = parseV2Header(s)
	}
	if !ok && p.format != GinkgoV2 {
		h, ok = parseV1Header(s)
	}
	if !ok {
		return false
	}
	if h.nodeType != "It" {
		h.nodeType = strings.Clone(h.nodeType)
	}
	h.failType = strings.Clone(h.failType)
	p.ensureRun()
	p.detect(h.format)
	b := p.freeBlk
	if b == nil {
		b = new(block)
	}
	p.freeBlk = nil
	*b = block{h: h, line: p.lineNo, msg: p.msgBuf[:0], loc: p.locBuf[:0]}
	p.rs.blk = b
	return true
}

// isMarker reports whether a column-0 line inside a block is Ginkgo's own
// and ends the block.
func (p *parser) isMarker(s string) bool {
	if isDelimiter(s) {
		return true
	}
	for _, pre := range []string{"Running Suite: ", "Summarizing ", "Ran ", "SUCCESS!", "FAIL!", "Will run "} {
		if strings.HasPrefix(s, pre) {
			return true
		}
	}
	if _, ok := parseV2Header(s); ok && p.format != GinkgoV1 {
		return true
	}
	if _, ok := parseV1Header(s); ok && p.format != GinkgoV2 {
		return true
	}
	i := 0
	for i < len(s) && (s[i] == 'S' || s[i] == 'P' || strings.HasPrefix(s[i:], denoter)) {
		if s[i] == 'S' || s[i] == 'P' {
			i++
		} else {
			i += len(denoter)
		}
	}
	return i > 0 && (i == len(s) || strings.HasPrefix(s[i:], `{"msg":`))
}

// willRunLine collects the lines Ginkgo prints before a spec runs with -v.
func (p *parser) willRunLine(s string) bool {
	wr := append(p.rs.wr, s)
	t := strings.TrimLeft(s, " ")
	ind := indent(s)
	switch {
	case isLocation(t) && (ind == 0 || ind == 2):
		p.rs.wr = nil
		p.willRun(wr[:len(wr)-1], ind)
		return true
	case len(wr) >= 3 || s == "" || ind != 2 || p.isMarker(s):
		// Not an announcement: hand the collected lines back.
		p.rs.wr = nil
		p.handBack(wr[1:])
		return true
	}
	wr[len(wr)-1] = strings.Clone(s)
	p.rs.wr = wr
	return true
}

// handBack parses lines collected as a possible announcement that was
// not one (at most two: see willRunLine).
func (p *parser) handBack(lines []string) {
	// Copied: parsing them may start collecting again, in p.wrBuf.
	var back [len(p.wrBuf) - 1]string
	for _, l := range back[:copy(back[:], lines)] {
		p.line(l)
	}
}

// willRun records the spec Ginkgo announced: [text, location] or
// [containers, "  leaf", "  location"].
func (p *parser) willRun(texts []string, locIndent int) {
	w := willRun{nodeType: "It", line: p.rs.wrLine}
	switch {
	case len(texts) == 1 && locIndent == 0:
		if nt, text, ok := parseSuiteNodeText(texts[0]); ok {
			w.nodeType, w.text = nt, text
			p.detect(GinkgoV2)
		} else if p.format == GinkgoV1 {
			w.text = texts[0]
		} else {
			w.text = stripLabels(texts[0], p.allowSingleLabel())
		}
	case len(texts) == 2 && locIndent == 2:
		leaf := cutIndent(texts[1], 2)
		if p.format == GinkgoV1 || (p.format == FormatAuto && strings.HasSuffix(texts[0], " ")) {
			// Ginkgo v1 prints every container followed by a space.
			w.text = texts[0] + leaf
			p.detect(GinkgoV1)
		} else {
			w.text = texts[0] + " " + stripLabels(leaf, p.allowSingleLabel())
		}
	default:
		return
	}
	if p.rs.will != nil && p.run != nil {
		p.run.Unfinished = p.rs.will.text
	}
	p.willBuf = w
	p.rs.will = &p.willBuf
	p.run.Verbose = true
}

// allowSingleLabel is false for Kubernetes releases before v1.29, which did
// not use Ginkgo labels.
func (p *parser) allowSingleLabel() bool {
	if p.run == nil {
		return true
	}
	if !p.allowKnown || p.allowFor != p.run.E2EVersion {
		p.allowFor, p.allow, p.allowKnown = p.run.E2EVersion, allowSingleLabel(p.run.E2EVersion), true
	}
	return p.allow
}

// allowSingleLabel is parser.allowSingleLabel for an e2e test version.
func allowSingleLabel(v string) bool {
	v = strings.TrimPrefix(v, "v")
	maj, rest, ok := strings.Cut(v, ".")
	if !ok || maj != "1" {
		return true
	}
	minor := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = rest[:i]
	}
	n, err := strconv.Atoi(minor)
	return err != nil || n >= 29
}

func (p *parser) blockLine(s string) bool {
	b := p.rs.blk
	isDelim := isDelimiter(s)
	if !b.locDone {
		switch {
		case isDelim:
			p.finishBlock()
			p.rs.afterDelim = true
			return true
		case s == "":
			b.locDone = true
			return true
		case len(b.loc) == 0 && indent(s) > 0:
			b.locDone = true // no location block: the body starts
		case len(b.loc) >= 2 && indent(s) == 0 && p.isMarker(s):
			b.locDone = true
		case len(b.loc) < 32:
			b.loc = append(b.loc, strings.Clone(s))
			return true
		default:
			b.locDone = true
		}
	}
	if isDelim {
		p.finishBlock()
		p.rs.afterDelim = true
		return true
	}
	if s != "" && s[0] != ' ' && s[0] != '\t' && p.isMarker(s) {
		p.finishBlock()
		return false
	}
	if s != "" {
		// Captured output: the framework's version lines (parallel runs
		// print the BeforeSuite's output here) and interrupts.
		p.scanOutput(s)
	}
	if b.h.format == GinkgoV1 || (b.h.format == FormatAuto && p.format == GinkgoV1) {
		p.addMsg(b, s)
		return true
	}
	if indent(s) == 2 {
		t := s[2:]
		switch {
		case strings.HasSuffix(t, " >>"):
			b.inSection, b.msg, b.lines = true, b.msg[:0], 0
			return true
		case strings.HasPrefix(t, "<< "):
			b.inSection = false
			return true
		case !b.inSection && !b.done && strings.HasPrefix(t, "In ["):
			p.failureWhere(b, t)
			return true
		}
	}
	if b.done && !b.inSection && b.h.state == Panicked && b.fail.Panic == "" && indent(s) == 2 {
		// Ginkgo v2 prints the forwarded panic after the location.
		b.fail.Panic = strings.Clone(strings.TrimSpace(s))
	}
	if b.inSection || b.done {
		return true
	}
	if s == "" && b.lines == 0 {
		return true
	}
	p.addMsg(b, cutIndent(s, 2))
	return true
}

func (p *parser) addMsg(b *block, s string) {
	if b.cut {
		return
	}
	if len(b.msg)+len(s) > p.opts.MaxMessageBytes {
		b.msg = append(b.msg, "[... cut by confrun: message longer than "+strconv.Itoa(p.opts.MaxMessageBytes)+" bytes]\n"...)
		b.lines++
		b.cut = true
		return
	}
	b.msg = append(append(b.msg, s...), '\n')
	b.lines++
}

// msgLines splits the collected message into lines.
func (b *block) msgLines() []string {
	if b.lines == 0 {
		return nil
	}
	return strings.Split(string(b.msg[:len(b.msg)-1]), "\n")
}

// failureWhere reads "In [It] at: path/file.go:12 @ 11/21/26 23:54:41.051".
func (p *parser) failureWhere(b *block, t string) {
	e := strings.Index(t, "] at: ")
	if e < 0 {
		return
	}
	b.done = true
	b.fail.NodeType = strings.Clone(t[len("In ["):e])
	where := strings.Clone(t[e+len("] at: "):])
	if loc, at, ok := strings.Cut(where, " @ "); ok {
		b.fail.Location, b.fail.Time = loc, at
	} else {
		b.fail.Location = where
	}
}

// finishBlock turns the collected block into a result.
func (p *parser) finishBlock() {
	b := p.rs.blk
	p.rs.blk = nil
	spec := Spec{
		NodeType: b.h.nodeType, State: b.h.state, Duration: b.h.duration,
		HasDuration: b.h.hasDur, Attempts: b.h.attempts, Line: b.line, slow: b.h.slow,
	}
	v1 := b.h.format == GinkgoV1 || (b.h.format == FormatAuto && p.format == GinkgoV1)
	var text string
	var named bool
	if v1 {
		text, named = p.v1Block(b, &spec)
	} else {
		text, named = p.v2Block(b, &spec)
	}
	p.result(&spec, text, named)
	// Reuse the block and its buffers: what the result keeps was copied
	// out.
	if cap(b.msg) <= 1<<20 {
		p.msgBuf = b.msg[:0]
	}
	p.locBuf = b.loc[:0]
	*b = block{}
	p.freeBlk = b
}

// v2Block reads the code location block and failure of a Ginkgo v2 result.
func (p *parser) v2Block(b *block, spec *Spec) (string, bool) {
	msg := trimBlankBytes(b.msg)
	if len(msg) > 0 || b.fail.Location != "" {
		f := b.fail
		f.Message = string(msg)
		if spec.State == Panicked && f.Panic == "" {
			f.Panic = panicValue(strings.Split(f.Message, "\n"))
		}
		spec.Failure = &f
	}
	loc := b.loc
	// A failure outside the leaf node prints, instead of one location,
	// "  [BeforeEach] location" and "  [It] location".
	nodeLoc := func(l string) bool {
		t := strings.TrimSpace(l)
		e := strings.Index(t, "] ")
		return indent(l) == 2 && strings.HasPrefix(t, "[") && e > 0 && isLocation(t[e+2:])
	}
	if len(loc) < 2 || !(isLocation(loc[1]) || nodeLoc(loc[1])) {
		return "", false
	}
	if spec.NodeType != "It" {
		nt, text, ok := parseSuiteNodeText(strings.TrimRight(loc[0], " "))
		if ok && nt == spec.NodeType {
			return text, true
		}
		return "", false
	}
	single := len(loc) == 2 || nodeLoc(loc[1]) || indent(loc[2]) != 2 ||
		(len(loc) >= 4 && !isLocation(strings.TrimSpace(loc[3])))
	allow := p.allowSingleLabel()
	if single {
		text := stripLabels(loc[0], allow)
		if spec.State != Passed {
			text = stripFailureMarks(text)
		}
		return text, true
	}
	// Ginkgo v2.1-v2.4 without -v on a failure: one text and location per
	// line, each nested deeper.
	var texts []string
	for i := 0; i+1 < len(loc); i += 2 {
		if indent(loc[i]) != i || !isLocation(strings.TrimSpace(loc[i+1])) {
			break
		}
		texts = append(texts, stripLabels(loc[i][i:], allow))
	}
	if spec.State != Passed && len(texts) > 0 {
		if strings.HasPrefix(texts[0], "TOP-LEVEL [") {
			texts = texts[1:]
		}
		for i, t := range texts {
			if s := stripFailureMarks(t); s != t {
				texts[i] = s
				break
			}
		}
	}
	return strings.Join(texts, " "), len(texts) > 0
}

// v1Block reads the code location block and failure of a Ginkgo v1 result.
func (p *parser) v1Block(b *block, spec *Spec) (string, bool) {
	failType := b.h.failType
	if failType == "" {
		failType = "It"
	}
	loc := b.loc
	var texts, locs []string
	if len(loc) >= 2 && indent(loc[0]) == 0 && indent(loc[1]) == 0 && isLocation(loc[1]) {
		// Suite setup: "[BeforeSuite] BeforeSuite " / location.
		if spec.NodeType == "" {
			t := strings.TrimSpace(loc[0])
			if e := strings.IndexByte(t, ']'); strings.HasPrefix(t, "[") && e > 0 {
				spec.NodeType = t[1:e]
			}
		}
	}
	for i := 0; i+1 < len(loc); i += 2 {
		if indent(loc[i]) != i || !isLocation(strings.TrimSpace(loc[i+1])) {
			break
		}
		texts = append(texts, loc[i][i:])
		locs = append(locs, strings.TrimSpace(loc[i+1]))
	}
	if spec.NodeType == "" {
		spec.NodeType = "BeforeSuite"
	}
	compLoc := ""
	if spec.State != Passed && spec.NodeType == "It" {
		marker := " [" + failType + "]"
		idx := -1
		for i := range texts {
			if strings.HasSuffix(texts[i], marker) {
				idx = i
				if failType != "It" {
					break
				}
			}
		}
		if idx >= 0 {
			texts[idx] = strings.TrimSuffix(texts[idx], marker)
			compLoc = locs[idx]
		}
	}
	if spec.State != Passed && spec.State != Pending {
		spec.Failure = v1Failure(b.msgLines(), failType, compLoc, spec.State)
		if spec.NodeType != "It" && len(locs) > 0 {
			spec.Failure.ComponentLocation = locs[0]
			spec.Failure.NodeType = spec.NodeType
		}
	}
	if spec.NodeType != "It" {
		return spec.NodeType, true
	}
	return strings.Join(texts, " "), len(texts) > 0
}

// v1Failure reads the body of a Ginkgo v1 failure: message, blank line,
// location (panics: message, panic, location, blank, Full Stack Trace).
func v1Failure(body []string, nodeType, compLoc string, st State) *Failure {
	for i, l := range body {
		if strings.TrimSpace(l) == "Full Stack Trace" {
			body = body[:i]
			break
		}
	}
	body = trimBlank(body)
	f := &Failure{NodeType: nodeType, ComponentLocation: compLoc}
	if n := len(body); n > 0 && isLocation(strings.TrimSpace(body[n-1])) {
		f.Location = strings.TrimSpace(body[n-1])
		body = trimBlank(body[:n-1])
	}
	body = dedent(body)
	if st == Panicked && len(body) > 1 {
		f.Panic = strings.TrimSpace(body[len(body)-1])
	}
	f.Message = strings.Join(body, "\n")
	return f
}

// panicValue finds the forwarded panic Ginkgo v2 prints after the failure.
func panicValue(msg []string) string {
	for _, l := range msg {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "[PANICKED]") {
			return t
		}
	}
	return ""
}

// trimBlankBytes drops the blank lines that start and end a message
// buffer, and its final newline.
func trimBlankBytes(b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 || len(bytes.TrimSpace(b[:i])) > 0 {
			break
		}
		b = b[i+1:]
	}
	for len(b) > 0 {
		b = bytes.TrimSuffix(b, []byte("\n"))
		i := bytes.LastIndexByte(b, '\n')
		if len(bytes.TrimSpace(b[i+1:])) > 0 {
			break
		}
		b = b[:max(i, 0)]
	}
	return b
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// dedent removes the indentation all non-empty lines share.
func dedent(lines []string) []string {
	min := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := indent(l); min < 0 || n < min {
			min = n
		}
	}
	if min <= 0 {
		return lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = cutIndent(l, min)
	}
	return out
}

// result names a result from the progress JSON, the announcement before it
// or its own code location block, and emits it (Ginkgo v1: holds it for the
// progress JSON that follows).
func (p *parser) result(spec *Spec, text string, named bool) {
	p.ensureRun()
	if spec.Line == 0 {
		spec.Line = p.lineNo
	}
	if w := p.rs.will; w != nil {
		p.rs.will = nil
		if w.nodeType == spec.NodeType || (p.format == GinkgoV1 && spec.NodeType == "It") {
			if spec.NodeType == "It" {
				text, named = w.text, true
			} else if !named {
				text, named = w.text, true
			}
		}
	}
	if j := p.rs.json; j != nil && spec.NodeType == "It" {
		p.rs.json = nil
		if j.State == spec.State {
			text, named = j.Text, true
		} else {
			p.emit(j)
		}
	}
	if !named {
		if spec.NodeType == "It" && spec.State == Passed && p.format != GinkgoV1 {
			p.run.AnonymousPassed++
			p.rs.results++
			return
		}
	}
	spec.Text = text
	if p.format == GinkgoV1 && spec.NodeType == "It" && (spec.State == Passed || spec.State == Failed) {
		p.flushHeld()
		held := *spec
		p.rs.held = &held
		return
	}
	p.emit(spec)
}

func (p *parser) flushHeld() {
	h := p.rs.held
	if h == nil {
		return
	}
	p.rs.held = nil
	if h.Text == "" && h.State == Passed {
		p.run.AnonymousPassed++
		p.rs.results++
		return
	}
	p.emit(h)
}

func (p *parser) flushJSON() {
	if j := p.rs.json; j != nil {
		p.rs.json = nil
		p.emit(j)
	}
}

// flushPending settles everything waiting for a line that did not come.
func (p *parser) flushPending() {
	if p.rs.wr != nil {
		wr := p.rs.wr
		p.rs.wr = nil
		p.handBack(wr[1:])
	}
	if p.rs.blk != nil {
		p.finishBlock()
	}
	p.flushHeld()
	p.flushJSON()
}

// emit reports spec, which it completes: the caller lets it be.
func (p *parser) emit(spec *Spec) {
	if p.err != nil {
		return
	}
	p.ensureRun()
	p.rs.emitted++
	spec.Run = p.run.Index
	spec.Suite = p.run.Suite
	if spec.NodeType == "It" && spec.State == Passed && spec.HasDuration && !spec.slow && p.format != GinkgoV1 {
		// Ginkgo v2 prints a passing spec with its runtime only with -v.
		p.run.Verbose = true
	}
	spec.Format = p.format
	if spec.Format == FormatAuto {
		spec.Format = GinkgoV2
	}
	if spec.NodeType == "It" {
		p.rs.results++
		if spec.State.Ran() {
			p.run.NamedRan++
		}
		switch {
		case spec.State == Passed:
			p.run.NamedPassed++
		case spec.State.IsFailure():
			p.run.NamedFailed++
		}
	} else if spec.State.IsFailure() && (spec.NodeType == "BeforeSuite" || spec.NodeType == "SynchronizedBeforeSuite") {
		p.rs.beforeFail = true
	}
	if spec.State.IsFailure() {
		if p.rs.failed == nil {
			p.rs.failed = map[string]bool{}
		}
		p.rs.failed[spec.NodeType+"\x00"+spec.Text] = true
	}
	if err := p.onSpec(*spec); err != nil {
		p.err = err
	}
}

// emitSummarized emits a spec only the failure summary names.
func (p *parser) emitSummarized(spec *Spec, f *Failure) {
	s := *spec
	if s.NodeType != "It" {
		s.NodeType = strings.Clone(s.NodeType)
	}
	s.Text = strings.Clone(s.Text)
	s.Failure = f
	p.emit(&s)
}

// failedBefore reports whether the log reported the spec failing before
// its summary.
func (p *parser) failedBefore(spec *Spec) bool {
	p.key = append(append(append(p.key[:0], spec.NodeType...), 0), spec.Text...)
	return p.rs.failed[string(p.key)]
}

// summaryStart handles "Summarizing N Failures:".
func (p *parser) summaryStart(s string) bool {
	if !strings.HasPrefix(s, "Summarizing ") || !strings.Contains(s, " Failure") {
		return false
	}
	p.ensureRun()
	p.flushPending()
	p.rs.sum = &sumState{}
	return true
}

// summaryLine reads the failures Ginkgo lists at the end; any the log did
// not already report (a block cut short) are reported from here.
func (p *parser) summaryLine(s string) bool {
	sum := p.rs.sum
	if s == "" {
		return true
	}
	t := strings.TrimLeft(s, " ")
	if sum.pending != nil && isLocation(t) {
		spec := sum.pending
		sum.pending = nil
		if !p.failedBefore(spec) {
			p.emitSummarized(spec, &Failure{Location: strings.Clone(t)})
		}
		return true
	}
	for _, hd := range []struct {
		prefix string
		state  State
		v1     bool
	}{
		{"[FAIL] ", Failed, false}, {"[TIMEDOUT] ", TimedOut, false}, {"[PANICKED!] ", Panicked, false},
		{"[INTERRUPTED] ", Interrupted, false}, {"[ABORTED] ", Aborted, false},
		{"[Fail] ", Failed, true}, {"[Panic!] ", Panicked, true}, {"[Timeout...] ", TimedOut, true},
	} {
		rest, ok := strings.CutPrefix(t, hd.prefix)
		if !ok {
			continue
		}
		// Kept in p.sumLine until the location that follows: most
		// were reported already, and are not copied.
		p.sumLine = append(p.sumLine[:0], rest...)
		rest = view(p.sumLine)
		p.sumSpec = Spec{NodeType: "It", State: hd.state, Line: p.lineNo}
		spec := &p.sumSpec
		if hd.v1 {
			p.detect(GinkgoV1)
			spec.Text = strings.TrimSuffix(stripV1Mark(rest), " ")
		} else if nt, text, ok := parseSuiteNodeText(strings.TrimRight(rest, " ")); ok {
			spec.NodeType, spec.Text = nt, text
		} else {
			spec.Text = stripFailureMarks(stripLabels(rest, p.allowSingleLabel()))
		}
		sum.pending = spec
		return true
	}
	p.rs.sum = nil
	return false
}

// stripV1Mark removes the "[It] " Ginkgo v1 puts before the failed
// component in its failure summary.
func stripV1Mark(s string) string {
	for k := 0; k < len(s); {
		i := strings.IndexByte(s[k:], '[')
		if i < 0 {
			break
		}
		i += k
		e := strings.IndexByte(s[i:min(len(s), i+2+maxNodeType)], ']')
		if e < 0 {
			k = i + 1
			continue
		}
		if t := s[i+1 : i+e]; isNodeType(t) && (i == 0 || s[i-1] == ' ') && strings.HasPrefix(s[i+e:], "] ") {
			return s[:i] + s[i+e+2:]
		}
		k = i + 1
	}
	return s
}

// finishRun settles the current run and works out whether it is complete.
func (p *parser) finishRun() {
	if p.run == nil {
		return
	}
	p.flushPending()
	if p.rs.sum != nil && p.rs.sum.pending != nil {
		spec := p.rs.sum.pending
		p.rs.sum.pending = nil
		if !p.failedBefore(spec) {
			p.emitSummarized(spec, nil)
		}
	}
	r := p.run
	if r.Format == FormatAuto {
		r.Format = p.format
	}
	if r.Format == FormatAuto {
		r.Format = GinkgoV2
	}
	if w := p.rs.will; w != nil && r.Unfinished == "" {
		r.Unfinished = w.text
	}
	var why []string
	sum := r.Summary
	if sum == nil {
		why = append(why, `the log ends before Ginkgo's final summary ("Ran N of M Specs"): the run was cut short or the log truncated`)
	}
	if r.Interrupted != "" {
		why = append(why, "the run was interrupted: "+r.Interrupted)
	} else if sum != nil {
		for _, reason := range sum.Reasons {
			if strings.Contains(reason, "nterrupt") || strings.Contains(reason, "Timeout") || strings.Contains(reason, "Abort") {
				why = append(why, "Ginkgo reports: "+reason)
			}
		}
	}
	if (sum != nil && sum.BeforeSuiteFailed) || p.rs.beforeFail {
		why = append(why, "a BeforeSuite node failed, so no spec ran")
	}
	switch {
	case p.rs.beforeFail:
		// Ginkgo v1 counts every spec as failed when BeforeSuite fails.
	case sum != nil && sum.HasCounts && r.NamedRan < sum.Ran:
		why = append(why, fmt.Sprintf("%d of the %d specs that ran are not named in the log: Ginkgo prints passing specs as bare dots unless it runs with -v", sum.Ran-r.NamedRan, sum.Ran))
	case (sum == nil || !sum.HasCounts) && r.AnonymousPassed > 0:
		why = append(why, fmt.Sprintf("%d passing specs are printed as bare dots, without names: Ginkgo runs without -v", r.AnonymousPassed))
	}
	if r.Unfinished != "" {
		why = append(why, fmt.Sprintf("spec %q started but the log shows no result for it", r.Unfinished))
	}
	if r.Format == GinkgoV2 && !r.Verbose {
		why = append(why, "without -v Ginkgo v2 does not print suite nodes that pass (BeforeSuite, AfterSuite, report nodes), so they are missing")
	}
	r.Incomplete = why
	p.run = nil
	p.rs = runState{}
	p.format = p.forced
}
