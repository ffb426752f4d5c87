package submit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// junitProps reads the suite properties Ginkgo v2 writes at the top of
// junit_01.xml (FocusStrings, SkipStrings, ...). It stops at the first
// testcase, so it is cheap on a large report. Ginkgo v1 reports have no
// properties: the map is then empty.
func junitProps(r io.Reader) (map[string]string, error) {
	dec := xml.NewDecoder(r)
	props := map[string]string{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return props, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing JUnit XML: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "testcase":
			return props, nil
		case "property":
			var name, value string
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "name":
					name = a.Value
				case "value":
					value = a.Value
				}
			}
			if name != "" {
				props[name] = value
			}
		}
	}
}
