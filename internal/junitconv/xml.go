package junitconv

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/confrun/confrun/internal/e2elog"
)

// The testcases are written by hand, appending to a byte slice, exactly as
// encoding/xml writes the junit package's types with two tabs of
// indentation (TestWriteTestcaseMatchesEncodingXML): a log with tens of
// thousands of specs spends most of its time here otherwise.

// child is the <skipped>, <error> or <failure> element of a testcase.
type child struct {
	tag, message, typ string
	data              []byte // character data, written as CDATA
}

// appendChildren appends the children of a testcase, if any, and its end
// tag, after the start tag's attributes.
func appendChildren(dst []byte, children ...child) []byte {
	if len(children) == 0 {
		return append(dst, "></testcase>"...)
	}
	dst = append(dst, '>')
	for _, c := range children {
		dst = append(dst, "\n\t\t\t<"...)
		dst = append(dst, c.tag...)
		dst = appendAttr(dst, "message", c.message)
		if c.typ != "" {
			dst = appendAttr(dst, "type", c.typ)
		}
		dst = append(dst, '>')
		if len(c.data) > 0 {
			dst = appendCDATA(dst, c.data)
		}
		dst = append(dst, "</"...)
		dst = append(dst, c.tag...)
		dst = append(dst, '>')
	}
	return append(dst, "\n\t\t</testcase>"...)
}

// appendJUnitTestcase appends tc.
func appendJUnitTestcase(dst []byte, tc junit.Testcase) []byte {
	dst = append(dst, "\t\t<testcase"...)
	dst = appendAttr(dst, "name", tc.Name)
	dst = appendAttr(dst, "classname", tc.Classname)
	if tc.Time != "" {
		dst = appendAttr(dst, "time", tc.Time)
	}
	if tc.Status != "" {
		dst = appendAttr(dst, "status", tc.Status)
	}
	var children []child
	for _, r := range []struct {
		tag string
		res *junit.Result
	}{{"skipped", tc.Skipped}, {"error", tc.Error}, {"failure", tc.Failure}} {
		if r.res != nil {
			children = append(children, child{tag: r.tag, message: r.res.Message, typ: r.res.Type, data: []byte(r.res.Data)})
		}
	}
	return appendChildren(dst, children...)
}

// writeTestcase writes tc as encoding/xml would with the junit package's
// field tags (two tabs of indentation).
func writeTestcase(w io.Writer, tc junit.Testcase) error {
	_, err := w.Write(appendJUnitTestcase(nil, tc))
	return err
}

func appendAttr(dst []byte, name, value string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = appendEscaped(dst, value)
	return append(dst, '"')
}

// appendEscaped appends s escaped as encoding/xml escapes attribute
// values (xml.EscapeText), invalid UTF-8 and characters XML forbids
// replaced with U+FFFD, as xmlSafe does.
func appendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		if len(s)-i >= 8 && !needsEscape(le64(s[i:])) {
			i += 8
			continue
		}
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\'' && c != '&' && c != '<' && c != '>' {
			i++
			continue
		}
		var esc string
		width := 1
		switch c {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			var r rune
			r, width = utf8.DecodeRuneInString(s[i:])
			if xmlChar(r) && !(r == utf8.RuneError && width == 1) {
				i += width
				continue
			}
			esc = "\uFFFD"
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		i += width
		last = i
	}
	return append(dst, s[last:]...)
}

// appendCDATA appends d, made XML-safe (xmlSafe), as CDATA sections.
func appendCDATA(dst []byte, d []byte) []byte {
	if !xmlClean(d) {
		d = []byte(xmlSafe(string(d)))
	}
	dst = append(dst, "<![CDATA["...)
	for {
		i := bytes.Index(d, []byte("]]>"))
		if i < 0 {
			break
		}
		dst = append(dst, d[:i]...)
		dst = append(dst, "]]]]><![CDATA[>"...)
		d = d[i+3:]
	}
	dst = append(dst, d...)
	return append(dst, "]]>"...)
}

// xmlClean reports whether b is printable ASCII, tabs and newlines: what
// xmlSafe returns unchanged without a closer look.
func xmlClean(b []byte) bool {
	i := 0
	for ; len(b)-i >= 8; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&hi != 0 {
			return false
		}
		if less(w, 0x20) && !cleanBytes(b[i:i+8]) {
			return false
		}
	}
	return cleanBytes(b[i:])
}

func cleanBytes(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Eight bytes at a time (SWAR).
const (
	ones = 0x0101010101010101
	hi   = 0x8080808080808080
)

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// less reports whether a byte of w is less than n (n <= 128).
func less(w uint64, n byte) bool { return (w-ones*uint64(n))&^w&hi != 0 }

// has reports whether a byte of w is c.
func has(w uint64, c byte) bool { return less(w^(ones*uint64(c)), 1) }

// needsEscape reports whether a byte of w is one appendEscaped looks at.
func needsEscape(w uint64) bool {
	return w&hi != 0 || less(w, 0x20) || has(w, '"') || has(w, '\'') || has(w, '&') || has(w, '<') || has(w, '>')
}

// appendSpec appends the <testcase> Ginkgo's JUnit reporter of the spec's
// generation writes for it (name, classname, time, status and child, with
// DefaultSuite when the log names no suite), building its failure text in
// scratch.
func appendSpec(dst []byte, s *e2elog.Spec, scratch *[]byte) []byte {
	// The name, as xmlSafe(s.JUnitName()), without building it.
	dst = append(dst, "\t\t<testcase name=\""...)
	if s.Format == e2elog.GinkgoV1 {
		if s.SuiteNode() {
			dst = appendEscaped(dst, s.NodeType)
		} else {
			dst = appendEscaped(dst, strings.TrimSpace(s.Text))
		}
	} else {
		// strings.TrimSpace("[" + s.NodeType + "] " + s.Text)
		dst = append(dst, '[')
		dst = appendEscaped(dst, s.NodeType)
		if text := trimRightSpace(s.Text); text != "" {
			dst = append(dst, "] "...)
			dst = appendEscaped(dst, text)
		} else {
			dst = append(dst, ']')
		}
	}
	dst = append(dst, '"')
	classname := s.Suite
	if classname == "" {
		classname = DefaultSuite
	}
	dst = appendAttr(dst, "classname", classname)
	// strconv's 'f' format needs no escaping.
	dst = append(dst, ` time="`...)
	if s.HasDuration {
		dst = appendSeconds(dst, s.Duration)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, '"')
	if s.State != "" {
		dst = appendAttr(dst, "status", string(s.State))
	}
	if c, ok := specChild(s, scratch); ok {
		return appendChildren(dst, c)
	}
	return appendChildren(dst)
}

// trimRightSpace is strings.TrimRightFunc(s, unicode.IsSpace), quick for
// the usual ASCII end.
func trimRightSpace(s string) string {
	if n := len(s); n > 0 && s[n-1] < utf8.RuneSelf && s[n-1] != ' ' && (s[n-1] < '\t' || s[n-1] > '\r') {
		return s
	}
	return strings.TrimRightFunc(s, unicode.IsSpace)
}

// appendSeconds appends d's seconds as strconv.FormatFloat(d.Seconds(),
// 'f', 3, 64) does: for whole milliseconds, the parser's durations, by
// integer arithmetic.
func appendSeconds(dst []byte, d time.Duration) []byte {
	if d < 0 || d%time.Millisecond != 0 || d > 1e9*time.Second {
		return strconv.AppendFloat(dst, d.Seconds(), 'f', 3, 64)
	}
	ms := int64(d / time.Millisecond)
	dst = strconv.AppendInt(dst, ms/1000, 10)
	f := ms % 1000
	return append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// v1Types are Ginkgo v1's JUnit failure types.
var v1Types = map[e2elog.State]string{e2elog.Failed: "Failure", e2elog.TimedOut: "Timeout", e2elog.Panicked: "Panic"}

// specChild is the child element Ginkgo's reporter of the spec's
// generation writes for it, if any.
func specChild(s *e2elog.Spec, scratch *[]byte) (child, bool) {
	f := s.Failure
	first := xmlSafe(f.FirstLine())
	if s.Format == e2elog.GinkgoV1 {
		switch s.State {
		case e2elog.Skipped, e2elog.Pending:
			return child{tag: "skipped", message: first}, true
		case e2elog.Failed, e2elog.TimedOut, e2elog.Panicked:
			var data []byte
			if f != nil {
				data = append(append(append(append(append((*scratch)[:0], f.ComponentLocation...), '\n'), f.Message...), '\n'), f.Location...)
				*scratch = data
			}
			return child{tag: "failure", message: first, typ: v1Types[s.State], data: data}, true
		}
		return child{}, false
	}
	switch s.State {
	case e2elog.Skipped:
		msg := "skipped"
		if r := strings.TrimSpace(strings.TrimPrefix(first, "[SKIPPED]")); r != "" {
			msg += " - " + r
		}
		return child{tag: "skipped", message: msg}, true
	case e2elog.Pending:
		return child{tag: "skipped", message: "pending"}, true
	case e2elog.Failed, e2elog.TimedOut, e2elog.Aborted:
		return child{tag: "failure", message: first, typ: string(s.State), data: v2FailureText(f, scratch)}, true
	case e2elog.Panicked, e2elog.Interrupted:
		msg := first
		if s.State == e2elog.Panicked && f != nil && f.Panic != "" {
			msg = xmlSafe(f.Panic)
		}
		return child{tag: "error", message: msg, typ: string(s.State), data: v2FailureText(f, scratch)}, true
	}
	return child{}, false
}

// v2FailureText is the failure as Ginkgo v2's JUnit description starts:
// the message, then "In [It] at: location @ time", built in scratch.
func v2FailureText(f *e2elog.Failure, scratch *[]byte) []byte {
	if f == nil {
		return nil
	}
	b := append((*scratch)[:0], f.Message...)
	if f.Location != "" {
		if len(b) > 0 {
			b = append(b, '\n')
		}
		b = append(b, "In ["...)
		b = append(b, f.NodeType...)
		b = append(b, "] at: "...)
		b = append(b, f.Location...)
		if f.Time != "" {
			b = append(b, " @ "...)
			b = append(b, f.Time...)
		}
	}
	b = append(b, '\n')
	*scratch = b
	return b
}
