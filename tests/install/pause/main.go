// Command pause is the process of a test's pod sandbox, as registry.k8s.io/pause is kubelet's:
// it waits for SIGTERM or SIGINT and reaps what it inherits as the pod's PID 1. Run as
// "pause netinfo", it prints as JSON what a container of the pod sees of its network: each
// interface with its addresses, and the IPv4 routes of /proc/net/route.
//
// The tests build it with CGO_ENABLED=0 into a static executable and make an image of it,
// because no image can be pulled where they run.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

type route struct {
	Iface   string `json:"iface"`
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
	Mask    string `json:"mask"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "netinfo" {
		if err := netinfo(); err != nil {
			fmt.Fprintln(os.Stderr, "netinfo:", err)
			os.Exit(1)
		}
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			return
		case <-children:
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}

func netinfo() error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	out := struct {
		Interfaces map[string][]string `json:"interfaces"`
		Routes     []route             `json:"routes"`
	}{Interfaces: map[string][]string{}, Routes: []route{}}
	for _, i := range ifaces {
		addrs, err := i.Addrs()
		if err != nil {
			return err
		}
		list := []string{}
		for _, a := range addrs {
			list = append(list, a.String())
		}
		out.Interfaces[i.Name] = list
	}
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return err
	}
	defer f.Close()
	scan := bufio.NewScanner(f)
	scan.Scan() // the header
	for scan.Scan() {
		fields := strings.Fields(scan.Text())
		if len(fields) < 8 {
			continue
		}
		out.Routes = append(out.Routes, route{fields[0], ipv4(fields[1]), ipv4(fields[2]), ipv4(fields[7])})
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// ipv4 reads an address of /proc/net/route: hexadecimal, in the host's (little-endian) order.
func ipv4(text string) string {
	raw, err := hex.DecodeString(text)
	if err != nil || len(raw) != 4 {
		return text
	}
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.LittleEndian.Uint32(raw))
	return ip.String()
}
