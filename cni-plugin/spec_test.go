package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types/create"
	"github.com/containernetworking/cni/pkg/utils"
	"google.golang.org/protobuf/proto"

	"contivctl/cni-plugin/cnipb"
)

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func addEnv() map[string]string {
	return map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc", "CNI_NETNS": "/var/run/netns/p", "CNI_IFNAME": "eth0"}
}

func TestParseAcceptsAGoodAddAndReadsEveryKey(t *testing.T) {
	stdin := []byte(`{"cniVersion":"0.4.0","name":"k8s","grpcServer":"[::1]:9111","grpcTimeout":2.5,"logFile":"/tmp/l"}`)
	req, err := parse(getenv(addEnv()), stdin, false)
	if err != nil {
		t.Fatal(err)
	}
	if req.Version != "0.4.0" || req.Server != "[::1]:9111" || req.Timeout != 2500*time.Millisecond ||
		req.ContainerID != "abc" || req.Netns != "/var/run/netns/p" || req.IfName != "eth0" {
		t.Errorf("%+v", req)
	}
	req, err = parse(getenv(addEnv()), []byte(`{"cniVersion":"1.1.0","name":"k8s","grpcServer":"/run/cni.sock"}`), false)
	if err != nil || req.Timeout != defaultTimeout {
		t.Errorf("default timeout: %+v %v", req, err)
	}
}

func TestTheEnvironmentIsCheckedBeforeTheNetconf(t *testing.T) {
	vars := addEnv()
	delete(vars, "CNI_NETNS")
	_, err := parse(getenv(vars), []byte("garbage"), false)
	if err == nil || err.Code != 4 || err.Msg != "CNI_NETNS is missing or empty" || err.Details != "required for ADD" {
		t.Errorf("%+v", err)
	}
}

func TestIfnames(t *testing.T) {
	for name, ok := range map[string]bool{
		"eth0": true, "a": true, "123456789012345": true, "net-1.2_x": true,
		"1234567890123456": false, ".": false, "..": false, "a/b": false, "a:b": false, "a b": false,
		"a\tb": false, "a\u00a0b": false, "a\x1fb": false, "ü2345678": true, "ü23456789012345": false,
	} {
		if got := ifnameProblem(name) == ""; got != ok {
			t.Errorf("%q: usable %v, want %v", name, got, ok)
		}
		// never more lenient than the library, or skel would refuse what was let through
		if ok && utils.ValidateInterfaceName(name) != nil {
			t.Errorf("%q: accepted here, refused by skel", name)
		}
	}
}

func TestServers(t *testing.T) {
	for server, ok := range map[string]bool{
		"/var/run/contiv/cni.sock": true, "127.0.0.1:9111": true, "[::1]:9111": true, "node:65535": true,
		"relative.sock": false, "host:": false, ":9111": false, "host:0": false, "host:65536": false,
		"host:+80": false, "host:8a": false, "host:٨٠": false,
	} {
		_, err := grpcServer(map[string]any{"grpcServer": server})
		if (err == nil) != ok {
			t.Errorf("%q: accepted %v, want %v (%v)", server, err == nil, ok, err)
		}
	}
}

func TestTimeouts(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"1": time.Second, "0.5": 500 * time.Millisecond, "3600": time.Hour, "1e1": 10 * time.Second,
		"0": 0, "-1": 0, "3600.001": 0, "1e400": 0, `"5"`: 0, "true": 0, "null": 0, "[]": 0,
	} {
		conf, derr := decodeNetconf([]byte(`{"grpcTimeout":` + text + `}`))
		if derr != nil {
			t.Fatal(derr)
		}
		got, err := timeout(conf)
		if want == 0 && (err == nil || !strings.Contains(err.Msg, "grpcTimeout")) || want != 0 && got != want {
			t.Errorf("%s: %v %v, want %v", text, got, err, want)
		}
	}
}

func TestPeekFindsTheLogAndVersionOfAnyObject(t *testing.T) {
	for stdin, want := range map[string][2]string{
		`{"cniVersion":"0.3.1","logFile":"/l"}`: {"/l", "0.3.1"},
		`{"cniVersion":"9.9.9","logFile":5}`:    {"", "1.1.0"},
		`{"cniVersion":1,"logFile":null}`:       {"", "1.1.0"},
		`[1]`:                                   {"", "1.1.0"},
		"{\"logFile\":\"\xff\"}":                {"", "1.1.0"},
	} {
		path, version := peek([]byte(stdin))
		if [2]string{path, version} != want {
			t.Errorf("%s: %q %q, want %q", stdin, path, version, want)
		}
	}
}

func TestCheckOfADriftedPrevResultNamesEachItem(t *testing.T) {
	reply := podReply(&cnipb.CNIRequest{InterfaceName: "eth0", NetworkNamespace: "/ns"})
	current, err := resultFromReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	var prev map[string]any
	_ = json.Unmarshal([]byte(`{"interfaces":[{"name":"eth0","sandbox":"/other"}],"ips":[{"address":"10.1.5.3/32"}]}`), &prev)
	got := prevResultProblems(prev, current)
	want := []string{"prevResult has no interface eth0 in /ns", "prevResult lacks the address 10.1.5.2/32"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%q", got)
	}
	_ = json.Unmarshal([]byte(`{"interfaces":[{"name":"eth0","sandbox":"/ns"}],"ips":[{"address":"10.1.5.2/32"}]}`), &prev)
	if got := prevResultProblems(prev, current); len(got) != 0 {
		t.Errorf("%q", got)
	}
}

func TestIPv6AndDNSInOldAndNewResults(t *testing.T) {
	reply := &cnipb.CNIReply{
		Interfaces: []*cnipb.CNIReply_Interface{{Name: "eth0", IpAddresses: []*cnipb.CNIReply_Interface_IP{
			{Version: cnipb.CNIReply_Interface_IP_IPV6, Address: "fd00::2/128", Gateway: "fd00::1"},
		}}},
		Routes: []*cnipb.CNIReply_Route{{Dst: "::/0", Gw: "fd00::1"}},
		Dns:    []*cnipb.CNIReply_DNS{{Domain: "first"}, {Domain: "cluster.local", Nameservers: []string{"10.96.0.10"}, Search: []string{"svc"}}},
	}
	old, err := versionedResult(reply, "0.3.0")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cniVersion":"0.3.0","interfaces":[{"name":"eth0"}],"ips":[{"version":"6","interface":0,"address":"fd00::2/128","gateway":"fd00::1"}],` +
		`"routes":[{"dst":"::/0","gw":"fd00::1"}],"dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["svc"]}}` + "\n"
	if string(old) != want {
		t.Errorf("%s\nwant\n%s", old, want)
	}
	current, err := versionedResult(reply, "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(current), `"ips":[{"interface":0,"address":"fd00::2/128","gateway":"fd00::1"}]`) {
		t.Errorf("%s", current)
	}
}

var fuzzNetconfs = []string{
	`{"cniVersion":"1.1.0","name":"k8s","type":"contiv-cni","grpcServer":"/var/run/contiv/cni.sock"}`,
	`{"cniVersion":"0.3.1","name":"k8s","grpcServer":"127.0.0.1:9111","grpcTimeout":1.5,"logFile":"/tmp/cni.log"}`,
	`{"cniVersion":"1.1.0","name":"k8s","grpcServer":"/s","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]}`,
	`{"cniVersion":"1.0.0","name":"k8s","grpcServer":"/s","prevResult":{"interfaces":[{"name":"eth0"}],"ips":[]}}`,
	`{"cniVersion":"1.1.0","name":"k8s","grpcServer":"/s","grpcTimeout":1e400}`,
	`{"cniVersion":"0.2.0"}`, `[1,2]`, `{`, ``, "\xff\xfe{}", `{"a":1} x`, `{"cniVersion":null,"name":{}}`,
}

// FuzzParse: whatever the environment and stdin, parse answers with one of
// the input codes or with a request that skel, too, accepts, and never panics.
func FuzzParse(f *testing.F) {
	for _, command := range commands {
		for _, c := range fuzzNetconfs {
			f.Add(command, "0123456789abcdef", "/var/run/netns/p", "eth0", "/opt/cni/bin", []byte(c))
		}
	}
	f.Add("ADD", "-bad", "", "a/b", "", []byte(fuzzNetconfs[0]))
	f.Add("REBOOT", "x", "y", "0123456789abcdefg", "z", []byte(fuzzNetconfs[1]))
	f.Fuzz(func(t *testing.T, command, cid, netns, ifname, path string, stdin []byte) {
		vars := map[string]string{"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": ifname, "CNI_PATH": path}
		tooLarge := len(stdin) > maxNetconf
		req, err := parse(getenv(vars), stdin, tooLarge)
		peek(stdin)
		if err != nil {
			switch err.Code {
			case codeIncompatibleVersion, codeInvalidEnvironment, codeDecodingFailure, codeInvalidConfig:
			default:
				t.Fatalf("code %d for input: %+v", err.Code, err)
			}
			if err.Msg == "" || !json.Valid(errorJSON(currentVersion, err)) {
				t.Fatalf("unusable error %+v", err)
			}
			return
		}
		if req.Command != command {
			t.Fatalf("command %q became %q", command, req.Command)
		}
		if command == "ADD" || command == "DEL" || command == "CHECK" {
			if e := utils.ValidateContainerID(cid); e != nil {
				t.Fatalf("container ID %q accepted here, refused by skel: %v", cid, e)
			}
			if e := utils.ValidateInterfaceName(ifname); e != nil {
				t.Fatalf("ifname %q accepted here, refused by skel: %v", ifname, e)
			}
		}
		if command == "VERSION" {
			return
		}
		if v, e := create.DecodeVersion(stdin); e != nil || v != req.Version || !supported(v) {
			t.Fatalf("version %q, skel reads %q (%v)", req.Version, v, e)
		}
		if e := utils.ValidateNetworkName(req.Conf["name"].(string)); e != nil {
			t.Fatalf("name accepted here, refused by skel: %v", e)
		}
		if req.Server == "" || req.Timeout <= 0 || req.Timeout > maxTimeout*time.Second {
			t.Fatalf("server %q timeout %v", req.Server, req.Timeout)
		}
		if _, has := req.Conf["prevResult"]; has && command == "ADD" {
			t.Fatal("prevResult let through on ADD")
		}
		for _, a := range req.Valid {
			if a.ContainerID == "" || a.IfName == "" {
				t.Fatalf("empty attachment %+v", a)
			}
		}
	})
}

// FuzzReply: whatever an agent sends, the plugin prints a result or an error, never panics.
func FuzzReply(f *testing.F) {
	seed, _ := proto.Marshal(podReply(&cnipb.CNIRequest{InterfaceName: "eth0", NetworkNamespace: "/ns"}))
	f.Add(seed, "1.1.0")
	f.Add(seed, "0.3.0")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		var reply cnipb.CNIReply
		if proto.Unmarshal(data, &reply) != nil || !supported(version) {
			return
		}
		out, err := versionedResult(&reply, version)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
		if current, err := resultFromReply(&reply); err == nil {
			var prev map[string]any
			_ = json.Unmarshal(out, &prev)
			if problems := prevResultProblems(prev, current); err == nil && out != nil && len(problems) > 0 {
				t.Fatalf("a result does not match itself: %q", problems)
			}
		}
	})
}
