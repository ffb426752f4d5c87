// Command dig is a small stand-in for ISC dig, enough for the e2e DNS
// conformance probes run in agnhost (upstream's agnhost is Alpine with
// bind-tools; the lab's is busybox-based): dig [@server] [+short] [+tcp|
// +notcp] [+noall] [+answer] [+search] name [type]. It queries the
// nameservers of /etc/resolv.conf (or @server) and prints the answer
// section, or with +short only the data. Like dig it exits 0 on NXDOMAIN.
package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var (
		short, tcp, search bool
		server, name       string
		qtype              = dns.TypeA
	)
	for _, a := range args {
		switch {
		case a == "+short":
			short = true
		case a == "+tcp" || a == "+vc":
			tcp = true
		case a == "+notcp" || a == "+novc":
			tcp = false
		case a == "+search":
			search = true
		case a == "+nosearch":
			search = false
		case strings.HasPrefix(a, "+"):
			// +noall, +answer and other display options: the answer section is all we print.
		case strings.HasPrefix(a, "@"):
			server = a[1:]
		case name == "":
			name = a
		default:
			t, ok := dns.StringToType[strings.ToUpper(a)]
			if !ok {
				fmt.Fprintf(os.Stderr, "dig: unknown type %q\n", a)
				return 1
			}
			qtype = t
		}
	}
	if name == "" {
		fmt.Fprintln(os.Stderr, "usage: dig [@server] [+short] [+tcp|+notcp] [+search] name [type]")
		return 1
	}
	conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil && server == "" {
		fmt.Fprintf(os.Stderr, "dig: %v\n", err)
		return 9
	}
	servers := []string{server}
	if server == "" {
		servers = conf.Servers
	}
	names := []string{dns.Fqdn(name)}
	if search && conf != nil && !strings.HasSuffix(name, ".") {
		names = conf.NameList(name)
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	for _, n := range names {
		m := new(dns.Msg)
		m.SetQuestion(n, qtype)
		var r *dns.Msg
		for try := 0; try < 3 && r == nil; try++ {
			for _, s := range servers {
				port := "53"
				if conf != nil && conf.Port != "" {
					port = conf.Port
				}
				if r, _, err = c.Exchange(m, net.JoinHostPort(s, port)); err == nil {
					break
				}
				r = nil
			}
		}
		if r == nil {
			fmt.Fprintf(os.Stderr, ";; connection timed out; no servers could be reached: %v\n", err)
			return 9
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			continue
		}
		for _, rr := range r.Answer {
			if short {
				f := strings.SplitN(rr.String(), "\t", 5)
				fmt.Println(f[len(f)-1])
			} else {
				fmt.Println(rr.String())
			}
		}
		return 0
	}
	return 0
}
