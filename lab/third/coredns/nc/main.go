// Command nc is a small stand-in for OpenBSD netcat, enough for the e2e
// Service probes run in agnhost (upstream's agnhost is Alpine with
// netcat-openbsd; busybox's nc lacks -v, -t, -u and -z):
//
//	nc [-v] [-t|-u] [-z] [-w secs] host port      (client; stdin to the peer, the peer to stdout)
//	nc -l [-p] port | nc -lU path                 (accept one connection)
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	verbose := flag.Bool("v", false, "verbose")
	_ = flag.Bool("t", false, "TCP (default)")
	udp := flag.Bool("u", false, "UDP")
	scan := flag.Bool("z", false, "only check that the port is open")
	listen := flag.Bool("l", false, "listen")
	unix := flag.Bool("U", false, "unix socket")
	wait := flag.Int("w", 0, "connect and idle timeout in seconds")
	lport := flag.String("p", "", "port to listen on")
	_ = flag.Bool("N", false, "shutdown the write side after EOF on stdin")
	_ = flag.Bool("n", false, "numeric addresses only")
	args := reorder(os.Args[1:])
	if err := flag.CommandLine.Parse(args); err != nil {
		os.Exit(2)
	}
	timeout := time.Duration(*wait) * time.Second
	rest := flag.Args()
	switch {
	case *listen:
		os.Exit(serve(*unix, *udp, *lport, rest))
	case len(rest) == 2:
		os.Exit(client(rest[0], rest[1], *udp, *scan, *verbose, timeout))
	default:
		fmt.Fprintln(os.Stderr, "usage: nc [-v] [-t|-u] [-z] [-w secs] host port | nc -l [-p] port | nc -lU path")
		os.Exit(1)
	}
}

// reorder moves flags after the operands to the front (nc -vz host port -w 2).
func reorder(in []string) []string {
	var flags, ops []string
	for i := 0; i < len(in); i++ {
		a := in[i]
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if (a == "-w" || a == "-p") && i+1 < len(in) {
				flags = append(flags, in[i+1])
				i++
			}
			continue
		}
		ops = append(ops, a)
	}
	return append(flags, ops...)
}

func client(host, port string, udp, scan, verbose bool, timeout time.Duration) int {
	network := "tcp"
	if udp {
		network = "udp"
	}
	d := net.Dialer{Timeout: timeout}
	if timeout == 0 {
		d.Timeout = 30 * time.Second
	}
	conn, err := d.Dial(network, net.JoinHostPort(host, port))
	if err != nil {
		if verbose {
			fmt.Fprintf(os.Stderr, "nc: connect to %s port %s (%s) failed: %v\n", host, port, network, err)
		}
		return 1
	}
	defer conn.Close()
	if verbose {
		fmt.Fprintf(os.Stderr, "Connection to %s %s port [%s/*] succeeded!\n", host, port, network)
	}
	if scan {
		return 0
	}
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, err := os.Stdin.Read(buf)
			if n > 0 {
				if _, werr := conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64*1024)
	for {
		if timeout > 0 {
			conn.SetReadDeadline(time.Now().Add(timeout))
		}
		n, err := conn.Read(buf)
		if n > 0 {
			os.Stdout.Write(buf[:n])
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0
			}
			if err == io.EOF {
				return 0
			}
			if udp {
				// ICMP port unreachable on a connected UDP socket.
				if verbose {
					fmt.Fprintf(os.Stderr, "nc: %v\n", err)
				}
				return 1
			}
			return 0
		}
	}
}

func serve(unix, udp bool, port string, rest []string) int {
	network, addr := "tcp", ":"+port
	switch {
	case unix && len(rest) == 1:
		network, addr = "unix", rest[0]
	case port == "" && len(rest) == 1:
		addr = ":" + rest[0]
	}
	if udp {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nc: %v\n", err)
			return 1
		}
		buf := make([]byte, 64*1024)
		n, _, err := pc.ReadFrom(buf)
		if err == nil {
			os.Stdout.Write(buf[:n])
		}
		return 0
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nc: %v\n", err)
		return 1
	}
	conn, err := l.Accept()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nc: %v\n", err)
		return 1
	}
	go io.Copy(conn, os.Stdin)
	io.Copy(os.Stdout, conn)
	return 0
}
