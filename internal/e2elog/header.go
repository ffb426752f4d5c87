package e2elog

import (
	"strconv"
	"strings"
	"time"
)

// header is a parsed result line such as "• [FAILED] [2.079 seconds]".
type header struct {
	format   Format // the generation only this layout belongs to, or FormatAuto
	nodeType string // "It" or a suite node type; "" for Ginkgo v1 suite setup failures
	state    State
	duration time.Duration
	hasDur   bool
	attempts int
	slow     bool
	// failType is Ginkgo v1's failure context ("BeforeEach" for "in Spec
	// Setup (BeforeEach)").
	failType string
}

// parseSeconds reads "12.345 seconds" (without brackets).
func parseSeconds(s string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(s, " seconds")
	if !ok {
		return 0, false
	}
	if ms, ok := millis(num); ok {
		// What the float computation below gives for these.
		if ms > 1e12 {
			return 0, false
		}
		return time.Duration(ms) * time.Millisecond, true
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, false
	}
	return time.Duration(f*1e3+0.5) * time.Millisecond, true
}

// millis reads the decimal seconds Ginkgo prints, "12.345", as
// milliseconds, exactly: digits, and at most three after a point.
func millis(s string) (int64, bool) {
	var ms int64
	i := 0
	for i < len(s) && i < 12 && s[i] >= '0' && s[i] <= '9' {
		ms = ms*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, false
	}
	frac := 0
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && frac < 3 && s[i] >= '0' && s[i] <= '9'; i++ {
			ms = ms*10 + int64(s[i]-'0')
			frac++
		}
		if frac == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	for ; frac < 3; frac++ {
		ms *= 10
	}
	return ms, true
}

// v2States are the states Ginkgo v2 prints in brackets.
var v2States = map[string]State{
	"FAILED": Failed, "TIMEDOUT": TimedOut, "PANICKED": Panicked, "INTERRUPTED": Interrupted,
	"ABORTED": Aborted, "SKIPPED": Skipped, "PENDING": Pending,
}

// parseV2Header recognises Ginkgo v2's DidRun headers:
//
//   - [0.047 seconds]
//   - [FAILED] [4.090 seconds]
//     •! [PANICKED] [1.000 seconds]            (Ginkgo v2.1-v2.4)
//   - [SLOW TEST] [30.100 seconds]           (Ginkgo v2.1-v2.4)
//     ↺ [FLAKEY TEST - TOOK 2 ATTEMPTS TO PASS] [5.000 seconds]
//   - [FAILED] DURING REPETITION #2 [1.0 seconds]
//     [SynchronizedBeforeSuite] PASSED [0.019 seconds]
//     [SynchronizedBeforeSuite] [FAILED] [0.001 seconds]
//     S [SKIPPED] [0.500 seconds]
//     P [PENDING]
func parseV2Header(s string) (header, bool) {
	h := header{nodeType: "It", format: GinkgoV2}
	rest := s
	switch {
	case strings.HasPrefix(rest, denoter):
		rest, h.state = rest[len(denoter):], Passed
	case strings.HasPrefix(rest, "↺"):
		rest, h.state = rest[len("↺"):], Passed
	case strings.HasPrefix(rest, "S ["):
		rest, h.state = rest[1:], Skipped
	case strings.HasPrefix(rest, "P ["):
		rest, h.state, h.format = rest[1:], Pending, FormatAuto
	case strings.HasPrefix(rest, "["):
		e := strings.IndexByte(rest, ']')
		if e < 0 || !isSuiteNodeType(rest[1:e]) {
			return h, false
		}
		h.nodeType, rest = rest[1:e], rest[e+1:]
	default:
		return h, false
	}
	rest = strings.TrimPrefix(rest, "!")
	tokens := 0
	for {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		tokens++
		switch {
		case strings.HasPrefix(rest, "PASSED"):
			h.state, rest = Passed, rest[len("PASSED"):]
			continue
		case strings.HasPrefix(rest, "DURING REPETITION #"):
			rest = strings.TrimLeft(rest[len("DURING REPETITION #"):], "0123456789")
			continue
		case rest[0] != '[':
			return h, false
		}
		e := strings.IndexByte(rest, ']')
		if e < 0 {
			return h, false
		}
		tok := rest[1:e]
		rest = rest[e+1:]
		if tok != "" && tok[0] >= 'A' && tok[0] <= 'Z' { // as the states are
			if st, ok := v2States[tok]; ok {
				h.state = st
				continue
			}
		}
		switch tok {
		case "SLOW TEST":
			h.slow = true
		default:
			if n, ok := strings.CutPrefix(tok, "FLAKEY TEST - TOOK "); ok {
				h.attempts, _ = strconv.Atoi(strings.TrimSuffix(n, " ATTEMPTS TO PASS"))
				h.state = Passed
				continue
			}
			d, ok := parseSeconds(tok)
			if !ok {
				return h, false
			}
			h.duration, h.hasDur = d, true
		}
	}
	if tokens == 0 || h.state == "" {
		return h, false
	}
	if h.state == Pending && h.format == FormatAuto && h.hasDur {
		h.format = GinkgoV2
	}
	return h, true
}

// parseV1Header recognises Ginkgo v1's result headers:
//
//   - [SLOW TEST:30.342 seconds]
//   - [MEASUREMENT]
//   - Failure [12.300 seconds]
//   - Failure in Spec Setup (BeforeEach) [0.501 seconds]
//     •! Panic [0.100 seconds]
//     •... Timeout [600.000 seconds]
//     S [SKIPPING] in Spec Setup (BeforeEach) [0.123 seconds]
//     Failure [0.001 seconds]            (BeforeSuite/AfterSuite; also Panic, Timeout)
func parseV1Header(s string) (header, bool) {
	h := header{nodeType: "It", format: GinkgoV1}
	var rest string
	switch {
	case strings.HasPrefix(s, denoter+" [SLOW TEST:"):
		d, ok := parseSeconds(strings.TrimSuffix(s[len(denoter+" [SLOW TEST:"):], "]"))
		if !ok || !strings.HasSuffix(s, "]") {
			return h, false
		}
		h.state, h.duration, h.hasDur = Passed, d, true
		return h, true
	case s == denoter+" [MEASUREMENT]":
		h.state = Passed
		return h, true
	case strings.HasPrefix(s, denoter+" Failure"):
		h.state, rest = Failed, s[len(denoter+" Failure"):]
	case strings.HasPrefix(s, denoter+"! Panic"):
		h.state, rest = Panicked, s[len(denoter+"! Panic"):]
	case strings.HasPrefix(s, denoter+"... Timeout"):
		h.state, rest = TimedOut, s[len(denoter+"... Timeout"):]
	case strings.HasPrefix(s, "S [SKIPPING]"):
		h.state, rest = Skipped, s[len("S [SKIPPING]"):]
	case strings.HasPrefix(s, "Failure ["):
		h.state, h.nodeType, rest = Failed, "", s[len("Failure"):]
	case strings.HasPrefix(s, "Panic ["):
		h.state, h.nodeType, rest = Panicked, "", s[len("Panic"):]
	case strings.HasPrefix(s, "Timeout ["):
		h.state, h.nodeType, rest = TimedOut, "", s[len("Timeout"):]
	default:
		return h, false
	}
	if ctx, ok := strings.CutPrefix(rest, " in "); ok {
		o, c := strings.IndexByte(ctx, '('), strings.IndexByte(ctx, ')')
		if o < 0 || c < o {
			return h, false
		}
		h.failType = ctx[o+1 : c]
		rest = ctx[c+1:]
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
		return h, false
	}
	d, ok := parseSeconds(rest[1 : len(rest)-1])
	if !ok {
		return h, false
	}
	h.duration, h.hasDur = d, true
	return h, true
}
