package main

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"contivctl/cni-plugin/cnipb"
)

// The codec's fast path against the protobuf runtime: the same bytes out,
// the same message (or the same refusal) in, whatever the input.

func codec() encoding.CodecV2 {
	return encoding.GetCodecV2(grpcproto.Name)
}

func TestTheCodecIsTheOneGRPCUses(t *testing.T) {
	if _, ok := codec().(wireCodec); !ok {
		t.Fatalf("registered codec %T", codec())
	}
}

func marshalBoth(t *testing.T, req *cnipb.CNIRequest) {
	t.Helper()
	got, errGot := codec().Marshal(req)
	want, errWant := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if (errGot == nil) != (errWant == nil) {
		t.Fatalf("%v: error %v, the protobuf runtime's %v", req, errGot, errWant)
	}
	if errGot == nil && !bytes.Equal(got.Materialize(), want) {
		t.Fatalf("%v: %x, the protobuf runtime's %x", req, got.Materialize(), want)
	}
}

func TestRequestsEncodeAsTheProtobufRuntimeDoes(t *testing.T) {
	for _, req := range []*cnipb.CNIRequest{
		{},
		{Version: "1.1.0", ContainerId: "0123456789abcdef", NetworkNamespace: "/var/run/netns/p", InterfaceName: "eth0",
			ExtraNwConfig: string(bytes.Repeat([]byte("x"), 70000)), ExtraArguments: "K8S_POD_NAME=web", IpamType: "t", IpamData: "{}"},
		{InterfaceName: "eth0"},
		{NetworkNamespace: "/var/run/netns/\xff"}, // not UTF-8: refused by both
	} {
		marshalBoth(t, req)
	}
}

func FuzzRequest(f *testing.F) {
	f.Add("1.1.0", "0123456789abcdef", "/var/run/netns/p", "eth0", `{"cniVersion":"1.1.0"}`, "K=V", "", "")
	f.Add("", "", "\xc3", "", "", "", "x", "\x00")
	f.Fuzz(func(t *testing.T, version, cid, netns, ifname, conf, args, ipamType, ipamData string) {
		marshalBoth(t, &cnipb.CNIRequest{
			Version: version, ContainerId: cid, NetworkNamespace: netns, InterfaceName: ifname,
			ExtraNwConfig: conf, ExtraArguments: args, IpamType: ipamType, IpamData: ipamData,
		})
	})
}

func unmarshalBoth(t *testing.T, data []byte) {
	t.Helper()
	var got, want cnipb.CNIReply
	errGot := codec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &got)
	errWant := proto.Unmarshal(data, &want)
	if (errGot == nil) != (errWant == nil) {
		t.Fatalf("%x: error %v, the protobuf runtime's %v", data, errGot, errWant)
	}
	if errGot == nil && !proto.Equal(&got, &want) {
		t.Fatalf("%x: %v, the protobuf runtime's %v", data, &got, &want)
	}
}

func replySeeds() [][]byte {
	pod, _ := proto.Marshal(podReply(&cnipb.CNIRequest{InterfaceName: "eth0", NetworkNamespace: "/ns"}))
	full, _ := proto.Marshal(&cnipb.CNIReply{
		Result: 1, Error: "e",
		Interfaces: []*cnipb.CNIReply_Interface{{Name: "eth0", Mac: "m", Sandbox: "/ns", IpAddresses: []*cnipb.CNIReply_Interface_IP{
			{Version: cnipb.CNIReply_Interface_IP_IPV6, Address: "a", Gateway: "g"}, {}}}, {}},
		Routes: []*cnipb.CNIReply_Route{{Dst: "0.0.0.0/0", Gw: "g"}, {}},
		Dns:    []*cnipb.CNIReply_DNS{{Domain: "d", Nameservers: []string{"n1", ""}, Search: []string{"s"}, Options: []string{"o"}}},
	})
	return [][]byte{
		nil, pod, full,
		append(append([]byte(nil), pod...), 0x3a, 0x01, 'x'),   // field 7: unknown, kept by the runtime
		[]byte("\x12\x01\xff"),                                 // error not UTF-8
		[]byte("\x22\x05\x0a\x04et"),                           // truncated interface
		[]byte("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), // a varint beyond 32 bits
		[]byte("\x0a\x01a"),                                    // field 1 with the wrong wire type
		[]byte("\x12\x01a\x12\x01b"),                           // a string twice: the last wins
	}
}

func TestRepliesDecodeAsTheProtobufRuntimeDoes(t *testing.T) {
	for _, data := range replySeeds() {
		unmarshalBoth(t, data)
	}
}

func FuzzCodecReply(f *testing.F) {
	for _, data := range replySeeds() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { unmarshalBoth(t, data) })
}
