package main

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"contivctl/cni-plugin/cnipb"
)

// Wire compatibility with the original Contiv-VPP CNI protocol, byte for
// byte: the same bytes as tests/cni/test_wire.py checks for the agent's
// Python code, so both ends agree with the original and with each other.

func lenPrefixed(tag byte, b []byte) []byte {
	return append([]byte{tag, byte(len(b))}, b...)
}

func TestRequestBytesUseTheOriginalFieldNumbers(t *testing.T) {
	want := bytes.Join([][]byte{
		lenPrefixed(0x0a, []byte("0.3.1")), lenPrefixed(0x12, []byte("cid")), lenPrefixed(0x1a, []byte("/ns")),
		lenPrefixed(0x22, []byte("eth0")), lenPrefixed(0x2a, []byte("{}")), lenPrefixed(0x32, []byte("K=V")),
		lenPrefixed(0x3a, []byte("host-local")), lenPrefixed(0x42, []byte("{}")),
	}, nil)
	req := &cnipb.CNIRequest{
		Version: "0.3.1", ContainerId: "cid", NetworkNamespace: "/ns", InterfaceName: "eth0",
		ExtraNwConfig: "{}", ExtraArguments: "K=V", IpamType: "host-local", IpamData: "{}",
	}
	got, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%x, want %x (%v)", got, want, err)
	}
}

func TestReplyBytesUseTheOriginalFieldNumbers(t *testing.T) {
	ip := []byte("\x08\x01\x12\x01a\x1a\x01g") // version=IPV6, address, gateway
	iface := append([]byte("\x0a\x04eth0\x12\x01m\x1a\x03/ns"), lenPrefixed(0x22, ip)...)
	route := []byte("\x0a\x090.0.0.0/0\x12\x01g")
	dns := []byte("\x0a\x01d\x12\x02n1\x1a\x01s\x22\x01o")
	want := bytes.Join([][]byte{[]byte("\x08\x01\x12\x01e"), lenPrefixed(0x22, iface), lenPrefixed(0x2a, route), lenPrefixed(0x32, dns)}, nil)
	var reply cnipb.CNIReply
	if err := proto.Unmarshal(want, &reply); err != nil {
		t.Fatal(err)
	}
	i := reply.GetInterfaces()[0]
	if reply.GetResult() != 1 || reply.GetError() != "e" || i.GetName() != "eth0" || i.GetMac() != "m" || i.GetSandbox() != "/ns" ||
		i.GetIpAddresses()[0].GetVersion() != cnipb.CNIReply_Interface_IP_IPV6 || reply.GetRoutes()[0].GetDst() != "0.0.0.0/0" ||
		reply.GetDns()[0].GetNameservers()[0] != "n1" {
		t.Fatalf("decoded %v", &reply)
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&reply)
	if err != nil || !bytes.Equal(again, want) {
		t.Fatalf("%x, want %x", again, want)
	}
}

func TestAnOriginalAgentsSuccessReplyIsAResult(t *testing.T) {
	// what a v2.0 agent sends for an ADD: result 0 (absent), an interface without a MAC, one route
	ip := []byte("\x12\x0b10.1.1.2/32\x1a\x0810.1.1.1")
	iface := append([]byte("\x0a\x04eth0\x1a\x11/proc/1234/ns/net"), lenPrefixed(0x22, ip)...)
	route := []byte("\x0a\x090.0.0.0/0\x12\x0810.1.1.1")
	var reply cnipb.CNIReply
	if err := proto.Unmarshal(append(lenPrefixed(0x22, iface), lenPrefixed(0x2a, route)...), &reply); err != nil {
		t.Fatal(err)
	}
	out, e := versionedResult(&reply, "0.3.1")
	if e != nil {
		t.Fatal(e)
	}
	want := `{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","sandbox":"/proc/1234/ns/net"}],` +
		`"ips":[{"version":"4","interface":0,"address":"10.1.1.2/32","gateway":"10.1.1.1"}],` +
		`"routes":[{"dst":"0.0.0.0/0","gw":"10.1.1.1"}],"dns":{}}` + "\n"
	if string(out) != want {
		t.Errorf("%s\nwant\n%s", out, want)
	}
}

func TestMethodPathsAreTheOriginalsPlusTheNewOnes(t *testing.T) {
	want := map[string]bool{"Add": true, "Delete": true, "Check": true, "Status": true, "GarbageCollect": true}
	if cnipb.RemoteCNI_ServiceDesc.ServiceName != "cni.RemoteCNI" {
		t.Errorf("service %s", cnipb.RemoteCNI_ServiceDesc.ServiceName)
	}
	got := map[string]bool{}
	for _, m := range cnipb.RemoteCNI_ServiceDesc.Methods {
		got[m.MethodName] = true
	}
	if len(got) != len(want) {
		t.Errorf("methods %v", got)
	}
	for m := range want {
		if !got[m] {
			t.Errorf("no method %s", m)
		}
	}
}
