package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/types"
	types040 "github.com/containernetworking/cni/pkg/types/040"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"contivctl/cni-plugin/cnipb"
)

// The agent's reply as a CNI result in the version the runtime asked for.
// The library converts it (0.3.x and 0.4.0 carry "version": "4"|"6" on
// each address, 1.x dropped it); the JSON is written here rather than by
// the library's Print, which drops an empty "dns" and reorders the keys of
// each address: the output stays what the first plugin printed, key for
// key. "interface" indexes "interfaces" so that chained plugins (portmap)
// recognise the pod's own address.

func replyError(format string, args ...any) *types.Error {
	return cniError(codeAgentFailed, "the agent's reply is not a usable result: "+fmt.Sprintf(format, args...), "")
}

// resultFromReply: the reply as a 1.x result.
func resultFromReply(reply *cnipb.CNIReply) (*types100.Result, *types.Error) {
	res := &types100.Result{CNIVersion: types100.ImplementedSpecVersion}
	for index, iface := range reply.GetInterfaces() {
		res.Interfaces = append(res.Interfaces, &types100.Interface{
			Name: iface.GetName(), Mac: iface.GetMac(), Sandbox: iface.GetSandbox(),
		})
		for _, ip := range iface.GetIpAddresses() {
			addr, err := types.ParseCIDR(ip.GetAddress())
			if err != nil {
				return nil, replyError("address %q is not a CIDR", ip.GetAddress())
			}
			cfg := &types100.IPConfig{Interface: types100.Int(index), Address: *addr}
			if gw := ip.GetGateway(); gw != "" {
				if cfg.Gateway = net.ParseIP(gw); cfg.Gateway == nil {
					return nil, replyError("gateway %q is not an IP address", gw)
				}
			}
			res.IPs = append(res.IPs, cfg)
		}
	}
	for _, r := range reply.GetRoutes() {
		dst, err := types.ParseCIDR(r.GetDst())
		if err != nil {
			return nil, replyError("route destination %q is not a CIDR", r.GetDst())
		}
		route := &types.Route{Dst: *dst}
		if gw := r.GetGw(); gw != "" {
			if route.GW = net.ParseIP(gw); route.GW == nil {
				return nil, replyError("route gateway %q is not an IP address", gw)
			}
		}
		res.Routes = append(res.Routes, route)
	}
	if dns := reply.GetDns(); len(dns) > 0 {
		last := dns[len(dns)-1] // as the original plugin: the last entry wins
		res.DNS = types.DNS{
			Nameservers: last.GetNameservers(), Domain: last.GetDomain(),
			Search: last.GetSearch(), Options: last.GetOptions(),
		}
	}
	return res, nil
}

// versionedResult: the reply as the JSON result of version.
func versionedResult(reply *cnipb.CNIReply, version string) ([]byte, *types.Error) {
	res, cerr := resultFromReply(reply)
	if cerr != nil {
		return nil, cerr
	}
	converted, err := res.GetAsVersion(version)
	if err != nil {
		return nil, cniError(codeIncompatibleVersion, "cannot convert the result to "+version, err.Error())
	}
	out, err := encodeResult(converted)
	if err != nil {
		return nil, cniError(codeAgentFailed, "cannot encode the result", err.Error())
	}
	return out, nil
}

type outInterface struct {
	Name    string `json:"name"`
	Mac     string `json:"mac,omitempty"`
	Sandbox string `json:"sandbox,omitempty"`
}

type outIP04 struct {
	Version   string `json:"version"`
	Interface *int   `json:"interface,omitempty"`
	Address   string `json:"address"`
	Gateway   string `json:"gateway,omitempty"`
}

type outIP10 struct {
	Interface *int   `json:"interface,omitempty"`
	Address   string `json:"address"`
	Gateway   string `json:"gateway,omitempty"`
}

type outRoute struct {
	Dst string `json:"dst"`
	GW  string `json:"gw,omitempty"`
}

type outResult struct {
	CNIVersion string         `json:"cniVersion"`
	Interfaces []outInterface `json:"interfaces"`
	IPs        any            `json:"ips"`
	Routes     []outRoute     `json:"routes"`
	DNS        types.DNS      `json:"dns"`
}

func ipText(ip net.IP) string {
	if ip == nil {
		return ""
	}
	return ip.String()
}

func routesOut(routes []*types.Route) []outRoute {
	out := []outRoute{}
	for _, r := range routes {
		out = append(out, outRoute{Dst: r.Dst.String(), GW: ipText(r.GW)})
	}
	return out
}

// encodeResult writes a converted result as the first plugin did.
func encodeResult(r types.Result) ([]byte, error) {
	var out outResult
	switch res := r.(type) {
	case *types100.Result:
		out = outResult{CNIVersion: res.CNIVersion, Interfaces: []outInterface{}, Routes: routesOut(res.Routes), DNS: res.DNS}
		for _, i := range res.Interfaces {
			out.Interfaces = append(out.Interfaces, outInterface{i.Name, i.Mac, i.Sandbox})
		}
		ips := []outIP10{}
		for _, ip := range res.IPs {
			ips = append(ips, outIP10{ip.Interface, ip.Address.String(), ipText(ip.Gateway)})
		}
		out.IPs = ips
	case *types040.Result:
		out = outResult{CNIVersion: res.CNIVersion, Interfaces: []outInterface{}, Routes: routesOut(res.Routes), DNS: res.DNS}
		for _, i := range res.Interfaces {
			out.Interfaces = append(out.Interfaces, outInterface{i.Name, i.Mac, i.Sandbox})
		}
		ips := []outIP04{}
		for _, ip := range res.IPs {
			ips = append(ips, outIP04{ip.Version, ip.Interface, ip.Address.String(), ipText(ip.Gateway)})
		}
		out.IPs = ips
	default:
		return nil, fmt.Errorf("no encoding for a %T result", r)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// prevResultProblems: what in a CHECK's prevResult no longer matches the attachment (its interfaces, its addresses).
// prev is the raw JSON value: a prevResult of another shape is compared as far as it goes, never refused.
func prevResultProblems(prev map[string]any, current *types100.Result) []string {
	var problems []string
	// an absent or null sandbox is "no sandbox", as an empty one is in the reply
	type key struct{ name, sandbox string }
	have := map[key]bool{}
	if ifaces, ok := prev["interfaces"].([]any); ok {
		for _, i := range ifaces {
			m, _ := i.(map[string]any)
			name, isName := m["name"].(string)
			sandbox, isSandbox := m["sandbox"].(string)
			if isName && (isSandbox || m["sandbox"] == nil) {
				have[key{name, sandbox}] = true
			}
		}
		for _, i := range current.Interfaces {
			if !have[key{i.Name, i.Sandbox}] {
				problems = append(problems, fmt.Sprintf("prevResult has no interface %s in %s", i.Name, i.Sandbox))
			}
		}
	}
	addresses := map[string]bool{}
	if ips, ok := prev["ips"].([]any); ok {
		for _, ip := range ips {
			if m, ok := ip.(map[string]any); ok {
				if a, ok := m["address"].(string); ok {
					addresses[a] = true
				}
			}
		}
	}
	for _, ip := range current.IPs {
		if a := ip.Address.String(); !addresses[a] {
			problems = append(problems, "prevResult lacks the address "+a)
		}
	}
	return problems
}
