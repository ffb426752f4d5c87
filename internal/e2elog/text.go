package e2elog

import (
	"strings"
	"unicode"
)

// Helpers that recognise pieces of Ginkgo's console output.

const delimiter = "------------------------------"

// denoter is Ginkgo's spec denoter ("•") as printed on Linux.
const denoter = "•"

// suiteNodeTypes are Ginkgo v2's suite-level node types as they print.
var suiteNodeTypes = map[string]bool{
	"BeforeSuite": true, "SynchronizedBeforeSuite": true,
	"AfterSuite": true, "SynchronizedAfterSuite": true,
	"ReportBeforeSuite": true, "ReportAfterSuite": true,
	"DeferCleanup (Suite)": true,
}

// nodeTypes are every node type a failure can be attributed to.
var nodeTypes = map[string]bool{
	"It": true, "BeforeEach": true, "JustBeforeEach": true, "AfterEach": true,
	"JustAfterEach": true, "BeforeAll": true, "AfterAll": true,
	"ReportBeforeEach": true, "ReportAfterEach": true, "Container": true,
	"DeferCleanup": true, "DeferCleanup (Each)": true, "DeferCleanup (All)": true,
	"Measurement": true,
}

// maxNodeType bounds the length of a node type ("DeferCleanup (Suite)").
const maxNodeType = 24

func isNodeType(s string) bool { return nodeTypes[s] || isSuiteNodeType(s) }

// isSuiteNodeType is suiteNodeTypes[s], quick for the texts that open with
// a bracket but are no node type: those all start with a capital.
func isSuiteNodeType(s string) bool {
	return s != "" && s[0] >= 'A' && s[0] <= 'Z' && suiteNodeTypes[s]
}

// isLocation reports whether s (without indentation) is a Ginkgo code
// location, "path/file.go:123".
func isLocation(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 3 || i == len(s)-1 || !strings.HasSuffix(s[:i], ".go") {
		return false
	}
	for j := i + 1; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return false
		}
	}
	return strings.IndexByte(s, ' ') < 0
}

// indent returns the number of leading spaces.
func indent(s string) int {
	n := 0
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n
}

// cutIndent removes exactly n leading spaces, or as many as there are.
func cutIndent(s string, n int) string {
	i := 0
	for i < n && i < len(s) && s[i] == ' ' {
		i++
	}
	return s[i:]
}

// stripLabels removes the label group Ginkgo v2 appends to a spec's text,
// " [label1, label2]". Labels cannot contain commas, spec texts carry their
// tags as separate "[tag]" groups, so a final group with a comma is labels.
// A final single-label group is taken as labels only when allowSingle and
// the same tag also appears inline earlier in the text (Kubernetes adds
// every label to the text too), so that a text that merely ends with a tag
// such as "[Conformance]" is kept.
func stripLabels(s string, allowSingle bool) string {
	if !strings.HasSuffix(s, "]") {
		return s
	}
	j := lastIndexSpaceBracket(s)
	if j < 0 {
		return s
	}
	group := s[j+2 : len(s)-1]
	if group == "" || strings.IndexByte(group, '[') >= 0 || strings.IndexByte(group, ']') >= 0 {
		return s
	}
	if strings.Contains(group, ", ") {
		return s[:j]
	}
	if allowSingle && strings.Contains(s[:j], "["+group+"]") {
		return s[:j]
	}
	return s
}

// lastIndexSpaceBracket is strings.LastIndex(s, " ["), searching from the
// end, where the label group is.
func lastIndexSpaceBracket(s string) int {
	for {
		i := strings.LastIndexByte(s, '[')
		if i <= 0 {
			return -1
		}
		if s[i-1] == ' ' {
			return i - 1
		}
		s = s[:i]
	}
}

// lastIndexIt is strings.LastIndex(s, " [It] ").
func lastIndexIt(s string) int {
	for e := len(s); ; {
		i := strings.LastIndexByte(s[:e], '[')
		if i < 1 {
			return -1
		}
		if i+5 <= len(s) && s[i-1:i+5] == " [It] " {
			return i - 1
		}
		e = i
	}
}

// stripFailureMarks undoes what Ginkgo v2 adds to a one-line code location
// block of a failed spec: a "TOP-LEVEL [Type] " prefix, "[It] " before the
// leaf text, or " [Type]" after the container the failing node is in.
func stripFailureMarks(s string) string {
	if strings.HasPrefix(s, "TOP-LEVEL [") {
		if k := strings.Index(s, "] "); k > 0 {
			return s[k+2:]
		}
	}
	if strings.HasPrefix(s, "[It] ") {
		return s[len("[It] "):]
	}
	if k := lastIndexIt(s); k >= 0 {
		return s[:k] + s[k+len(" [It]"):]
	}
	// " [BeforeEach] " after a container text.
	for k := 0; k < len(s); {
		i := strings.Index(s[k:], " [")
		if i < 0 {
			break
		}
		i += k
		// Node types are short: look no further, so that a line of
		// brackets costs linear time.
		e := strings.IndexByte(s[i+2:min(len(s), i+2+maxNodeType)], ']')
		if e < 0 {
			k = i + 2
			continue
		}
		t := s[i+2 : i+2+e]
		if isNodeType(t) && t != "It" {
			return s[:i] + s[i+2+e+1:]
		}
		k = i + 2
	}
	return s
}

// parseSuiteNodeText splits "[SynchronizedBeforeSuite] text" into the node
// type and text when the type is a suite node type.
func parseSuiteNodeText(s string) (nodeType, text string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return "", "", false
	}
	e := strings.IndexByte(s, ']')
	if e < 0 || !isSuiteNodeType(s[1:e]) {
		return "", "", false
	}
	return s[1:e], strings.TrimSpace(s[e+1:]), true
}

// stripANSI removes terminal escape sequences (logs of runs without
// --no-color carry them).
func stripANSI(b []byte) []byte {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// isDelimiter reports whether s is Ginkgo's delimiter line, trailing spaces
// allowed.
func isDelimiter(s string) bool {
	if len(s) < len(delimiter) || s[:len(delimiter)] != delimiter {
		return false
	}
	for i := len(delimiter); i < len(s); i++ {
		if s[i] != ' ' {
			return false
		}
	}
	return true
}

// firstField is strings.Fields(s)[0], or "" when s has no field.
func firstField(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i]
	}
	return s
}
