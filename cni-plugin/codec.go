package main

import (
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"contivctl/cni-plugin/cnipb"
)

// The messages of ADD and DEL (a CNIRequest out, a CNIReply back) are
// encoded and decoded here with protowire, field by field as the generated
// code declares them; everything else goes to gRPC's protobuf codec. The
// plugin makes one call per process, and the protobuf runtime's first
// Marshal and Unmarshal build its reflective view of each message type
// first: a tenth to a third of a millisecond, measured, of a call that
// costs a few. The wire is the same: what the fast path would write or
// read differently (a string that is not UTF-8, a field it does not know, a
// malformed reply) it leaves to the protobuf codec, which then answers as it
// always did (codec_test.go compares both on fuzzed input).

type wireCodec struct {
	encoding.CodecV2 // gRPC's protobuf codec, for every other message and every case the fast path leaves
}

func init() {
	// grpcproto, imported, has registered the protobuf codec before this runs.
	encoding.RegisterCodecV2(wireCodec{encoding.GetCodecV2(grpcproto.Name)})
}

func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	if req, ok := v.(*cnipb.CNIRequest); ok {
		if b, ok := appendRequest(nil, req); ok {
			return mem.BufferSlice{mem.SliceBuffer(b)}, nil
		}
	}
	return c.CodecV2.Marshal(v)
}

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if reply, ok := v.(*cnipb.CNIReply); ok {
		var fast cnipb.CNIReply
		if decodeReply(data.Materialize(), &fast) {
			// Field by field: a message's internal state must not be copied.
			reply.Result, reply.Error, reply.Interfaces, reply.Routes, reply.Dns = fast.Result, fast.Error, fast.Interfaces, fast.Routes, fast.Dns
			return nil
		}
	}
	return c.CodecV2.Unmarshal(data, v)
}

// appendRequest: req in field order, empty strings left out (proto3); false if a string is not UTF-8.
func appendRequest(b []byte, req *cnipb.CNIRequest) ([]byte, bool) {
	fields := [...]string{
		req.GetVersion(), req.GetContainerId(), req.GetNetworkNamespace(), req.GetInterfaceName(),
		req.GetExtraNwConfig(), req.GetExtraArguments(), req.GetIpamType(), req.GetIpamData(),
	}
	for i, s := range fields {
		if s == "" {
			continue
		}
		if !utf8.ValidString(s) {
			return nil, false
		}
		b = protowire.AppendTag(b, protowire.Number(i+1), protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	return b, true
}

// fields walks a message's fields; false at the first that is malformed or that each does not accept.
func fields(b []byte, each func(protowire.Number, protowire.Type, []byte) (int, bool)) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		used, ok := each(num, typ, b)
		if !ok || used < 0 {
			return false
		}
		b = b[used:]
	}
	return true
}

func consumeString(typ protowire.Type, b []byte, into *string) (int, bool) {
	if typ != protowire.BytesType {
		return 0, false
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 || !utf8.Valid(v) {
		return 0, false
	}
	*into = string(v)
	return n, true
}

func consumeVarint(typ protowire.Type, b []byte) (uint64, int, bool) {
	if typ != protowire.VarintType {
		return 0, 0, false
	}
	v, n := protowire.ConsumeVarint(b)
	return v, n, n >= 0
}

func consumeMessage(typ protowire.Type, b []byte, decode func([]byte) bool) (int, bool) {
	if typ != protowire.BytesType {
		return 0, false
	}
	v, n := protowire.ConsumeBytes(b)
	return n, n >= 0 && decode(v)
}

func decodeReply(b []byte, m *cnipb.CNIReply) bool {
	return fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		switch num {
		case 1:
			v, n, ok := consumeVarint(typ, b)
			m.Result = uint32(v)
			return n, ok
		case 2:
			return consumeString(typ, b, &m.Error)
		case 4:
			iface := &cnipb.CNIReply_Interface{}
			m.Interfaces = append(m.Interfaces, iface)
			return consumeMessage(typ, b, func(b []byte) bool { return decodeInterface(b, iface) })
		case 5:
			route := &cnipb.CNIReply_Route{}
			m.Routes = append(m.Routes, route)
			return consumeMessage(typ, b, func(b []byte) bool {
				return fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
					switch num {
					case 1:
						return consumeString(typ, b, &route.Dst)
					case 2:
						return consumeString(typ, b, &route.Gw)
					}
					return 0, false
				})
			})
		case 6:
			dns := &cnipb.CNIReply_DNS{}
			m.Dns = append(m.Dns, dns)
			return consumeMessage(typ, b, func(b []byte) bool { return decodeDNS(b, dns) })
		}
		return 0, false
	})
}

func decodeInterface(b []byte, m *cnipb.CNIReply_Interface) bool {
	return fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		switch num {
		case 1:
			return consumeString(typ, b, &m.Name)
		case 2:
			return consumeString(typ, b, &m.Mac)
		case 3:
			return consumeString(typ, b, &m.Sandbox)
		case 4:
			ip := &cnipb.CNIReply_Interface_IP{}
			m.IpAddresses = append(m.IpAddresses, ip)
			return consumeMessage(typ, b, func(b []byte) bool {
				return fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
					switch num {
					case 1:
						v, n, ok := consumeVarint(typ, b)
						ip.Version = cnipb.CNIReply_Interface_IP_Version(int32(v))
						return n, ok
					case 2:
						return consumeString(typ, b, &ip.Address)
					case 3:
						return consumeString(typ, b, &ip.Gateway)
					}
					return 0, false
				})
			})
		}
		return 0, false
	})
}

func decodeDNS(b []byte, m *cnipb.CNIReply_DNS) bool {
	return fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		var s string
		var n int
		var ok bool
		switch num {
		case 1:
			return consumeString(typ, b, &m.Domain)
		case 2:
			n, ok = consumeString(typ, b, &s)
			m.Nameservers = append(m.Nameservers, s)
		case 3:
			n, ok = consumeString(typ, b, &s)
			m.Search = append(m.Search, s)
		case 4:
			n, ok = consumeString(typ, b, &s)
			m.Options = append(m.Options, s)
		}
		return n, ok
	})
}
