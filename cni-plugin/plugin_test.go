package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"contivctl/cni-plugin/cnipb"
)

// The whole plugin, as a runtime runs it: a process with an environment
// and a netconf on stdin, against an in-process fake agent serving
// RemoteCNI on a unix socket. The process is this test binary itself,
// re-executed into run() (see TestMain), so skel's dispatch is exercised too.

const asPlugin = "CONTIV_CNI_TEST_RUN_AS_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(asPlugin) == "1" {
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// fakeAgent answers each RPC with the function set for it and records the requests.
type fakeAgent struct {
	cnipb.UnimplementedRemoteCNIServer
	mu       sync.Mutex
	requests []proto.Message
	add      func(*cnipb.CNIRequest) (*cnipb.CNIReply, error)
	del      func(*cnipb.CNIRequest) (*cnipb.CNIReply, error)
	check    func(*cnipb.CNIRequest) (*cnipb.CNIReply, error)
	status   func() (*cnipb.StatusReply, error)
	gc       func(*cnipb.GCRequest) (*cnipb.GCReply, error)
}

func (f *fakeAgent) record(m proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, m)
}

func (f *fakeAgent) seen() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Message(nil), f.requests...)
}

func (f *fakeAgent) Add(_ context.Context, r *cnipb.CNIRequest) (*cnipb.CNIReply, error) {
	f.record(r)
	if f.add != nil {
		return f.add(r)
	}
	return podReply(r), nil
}

func (f *fakeAgent) Delete(_ context.Context, r *cnipb.CNIRequest) (*cnipb.CNIReply, error) {
	f.record(r)
	if f.del != nil {
		return f.del(r)
	}
	return &cnipb.CNIReply{}, nil
}

func (f *fakeAgent) Check(_ context.Context, r *cnipb.CNIRequest) (*cnipb.CNIReply, error) {
	f.record(r)
	if f.check != nil {
		return f.check(r)
	}
	return podReply(r), nil
}

func (f *fakeAgent) Status(_ context.Context, r *cnipb.StatusRequest) (*cnipb.StatusReply, error) {
	f.record(r)
	if f.status != nil {
		return f.status()
	}
	return &cnipb.StatusReply{Code: 0, Message: "ready"}, nil
}

func (f *fakeAgent) GarbageCollect(_ context.Context, r *cnipb.GCRequest) (*cnipb.GCReply, error) {
	f.record(r)
	if f.gc != nil {
		return f.gc(r)
	}
	return &cnipb.GCReply{}, nil
}

// podReply: what the agent answers for a wired pod.
func podReply(r *cnipb.CNIRequest) *cnipb.CNIReply {
	return &cnipb.CNIReply{
		Interfaces: []*cnipb.CNIReply_Interface{{
			Name: r.GetInterfaceName(), Mac: "02:fe:00:00:00:01", Sandbox: r.GetNetworkNamespace(),
			IpAddresses: []*cnipb.CNIReply_Interface_IP{{Address: "10.1.5.2/32", Gateway: "10.1.5.1"}},
		}},
		Routes: []*cnipb.CNIReply_Route{{Dst: "0.0.0.0/0", Gw: "10.1.5.1"}},
	}
}

func serve(t *testing.T, agent *fakeAgent) string {
	t.Helper()
	path := filepath.Join(shortDir(t), "cni.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	cnipb.RegisterRemoteCNIServer(srv, agent)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return path
}

// shortDir: unix socket paths must stay under 108 bytes, and t.TempDir's can be longer.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cgcni")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

type result struct {
	rc             int
	stdout, stderr string
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not one JSON object: %q (%v); stderr %q", r.stdout, err, r.stderr)
	}
	return out
}

// errorObject checks a failed run's shape: exit 1, one error object on stdout, one line on stderr.
func (r result) error(t *testing.T) errorObject {
	t.Helper()
	if r.rc != 1 {
		t.Fatalf("rc %d, want 1: stdout %q stderr %q", r.rc, r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("want one line on stdout and stderr each: %q %q", r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("stack trace on stderr: %s", r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	var e errorObject
	if err := dec.Decode(&e); err != nil || e.Msg == "" || e.CNIVersion == "" {
		t.Fatalf("not a CNI error object: %q (%v)", r.stdout, err)
	}
	return e
}

func env(command string, more ...string) []string {
	e := []string{asPlugin + "=1", "CNI_COMMAND=" + command, "CNI_PATH=/opt/cni/bin", "PATH=" + os.Getenv("PATH")}
	if command == "ADD" || command == "DEL" || command == "CHECK" {
		e = append(e, "CNI_CONTAINERID=0123456789abcdef", "CNI_NETNS=/var/run/netns/cgpod", "CNI_IFNAME=eth0",
			"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web")
	}
	return append(e, more...)
}

func conf(server, version string, extra map[string]any) []byte {
	c := map[string]any{"cniVersion": version, "name": "contiv-k8s-net", "type": "contiv-cni", "grpcServer": server}
	for k, v := range extra {
		c[k] = v
	}
	out, _ := json.Marshal(c)
	return out
}

func runPlugin(t *testing.T, environ []string, stdin []byte) result {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = environ
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{rc, stdout.String(), stderr.String()}
}

func wantResult(version string) map[string]any {
	ip := map[string]any{"interface": 0.0, "address": "10.1.5.2/32", "gateway": "10.1.5.1"}
	if version < "1.0.0" {
		ip["version"] = "4"
	}
	return map[string]any{
		"cniVersion": version,
		"interfaces": []any{map[string]any{"name": "eth0", "mac": "02:fe:00:00:00:01", "sandbox": "/var/run/netns/cgpod"}},
		"ips":        []any{ip},
		"routes":     []any{map[string]any{"dst": "0.0.0.0/0", "gw": "10.1.5.1"}},
		"dns":        map[string]any{},
	}
}

func TestAddPrintsTheResultInEachVersionAndForwardsTheCallVerbatim(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	for _, v := range supportedVersions {
		stdin := conf(sock, v, nil)
		r := runPlugin(t, env("ADD"), stdin)
		if r.rc != 0 || r.stderr != "" {
			t.Fatalf("%s: rc %d %q %q", v, r.rc, r.stdout, r.stderr)
		}
		if got, want := r.json(t), wantResult(v); !jsonEqual(got, want) {
			t.Errorf("%s: result\n%v\nwant\n%v", v, got, want)
		}
		if strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("%s: more than the result on stdout: %q", v, r.stdout)
		}
		req := agent.seen()[len(agent.seen())-1].(*cnipb.CNIRequest)
		want := &cnipb.CNIRequest{
			Version: v, ContainerId: "0123456789abcdef", NetworkNamespace: "/var/run/netns/cgpod",
			InterfaceName: "eth0", ExtraNwConfig: string(stdin),
			ExtraArguments: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web",
		}
		if !proto.Equal(req, want) {
			t.Errorf("%s: the agent got %v, want %v", v, req, want)
		}
	}
}

func TestAddAddressKeysKeepTheirOrder(t *testing.T) {
	sock := serve(t, &fakeAgent{})
	old := runPlugin(t, env("ADD"), conf(sock, "0.4.0", nil))
	if !strings.Contains(old.stdout, `"ips":[{"version":"4","interface":0,"address":"10.1.5.2/32","gateway":"10.1.5.1"}]`) {
		t.Errorf("0.4.0 address: %s", old.stdout)
	}
	current := runPlugin(t, env("ADD"), conf(sock, "1.1.0", nil))
	if !strings.Contains(current.stdout, `"ips":[{"interface":0,"address":"10.1.5.2/32","gateway":"10.1.5.1"}]`) {
		t.Errorf("1.1.0 address: %s", current.stdout)
	}
}

func TestDelPrintsNothingAndNeedsNoNetns(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	environ := []string{}
	for _, e := range env("DEL") {
		if !strings.HasPrefix(e, "CNI_NETNS=") {
			environ = append(environ, e)
		}
	}
	r := runPlugin(t, environ, conf(sock, "1.0.0", nil))
	if r.rc != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("rc %d %q %q", r.rc, r.stdout, r.stderr)
	}
	if req := agent.seen()[0].(*cnipb.CNIRequest); req.GetNetworkNamespace() != "" || req.GetContainerId() != "0123456789abcdef" {
		t.Errorf("the agent got %v", req)
	}
}

func TestCNIPathIsOptionalExceptForGC(t *testing.T) {
	sock := serve(t, &fakeAgent{})
	without := func(command string) []string {
		out := []string{}
		for _, e := range env(command) {
			if !strings.HasPrefix(e, "CNI_PATH=") {
				out = append(out, e)
			}
		}
		return out
	}
	for _, command := range []string{"ADD", "DEL", "CHECK", "STATUS"} {
		if r := runPlugin(t, without(command), conf(sock, "1.1.0", nil)); r.rc != 0 {
			t.Errorf("%s without CNI_PATH: rc %d %s", command, r.rc, r.stdout)
		}
	}
	gc := runPlugin(t, without("GC"), conf(sock, "1.1.0", map[string]any{validAttachmentsKey: []any{}})).error(t)
	if gc.Code != 4 || !strings.Contains(gc.Msg, "CNI_PATH") {
		t.Errorf("GC without CNI_PATH: %+v", gc)
	}
}

func TestCheckComparesPrevResultWithTheAttachment(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	added := runPlugin(t, env("ADD"), conf(sock, "1.1.0", nil)).json(t)
	ok := runPlugin(t, env("CHECK"), conf(sock, "1.1.0", map[string]any{"prevResult": added}))
	if ok.rc != 0 || ok.stdout != "" {
		t.Fatalf("CHECK of a matching prevResult: rc %d %q %q", ok.rc, ok.stdout, ok.stderr)
	}
	// a prevResult of an old version (with "version" on the address) still matches
	old := runPlugin(t, env("ADD"), conf(sock, "0.4.0", nil)).json(t)
	if r := runPlugin(t, env("CHECK"), conf(sock, "0.4.0", map[string]any{"prevResult": old})); r.rc != 0 {
		t.Fatalf("CHECK 0.4.0: %q", r.stdout)
	}

	drift := map[string]any{"cniVersion": "1.1.0", "interfaces": []any{map[string]any{"name": "eth1"}}, "ips": []any{}}
	e := runPlugin(t, env("CHECK"), conf(sock, "1.1.0", map[string]any{"prevResult": drift})).error(t)
	if e.Code != 100 || !strings.Contains(e.Msg, "no interface eth0 in /var/run/netns/cgpod") ||
		!strings.Contains(e.Msg, "lacks the address 10.1.5.2/32") {
		t.Errorf("drift: %+v", e)
	}
	// shapes a runtime should never send are compared as far as they go, never a crash
	odd := map[string]any{"interfaces": []any{[]any{1}, map[string]any{"name": []any{}}}, "ips": "no"}
	e = runPlugin(t, env("CHECK"), conf(sock, "1.1.0", map[string]any{"prevResult": odd})).error(t)
	if e.Code != 100 {
		t.Errorf("odd prevResult: %+v", e)
	}

	agent.check = func(*cnipb.CNIRequest) (*cnipb.CNIReply, error) {
		return nil, status.Error(codes.FailedPrecondition, "linux/route//var/run/netns/cgpod/0.0.0.0/0: missing")
	}
	e = runPlugin(t, env("CHECK"), conf(sock, "1.1.0", map[string]any{"prevResult": added})).error(t)
	if e.Code != 100 || e.Msg != "linux/route//var/run/netns/cgpod/0.0.0.0/0: missing" || e.Details != "gRPC FAILED_PRECONDITION" {
		t.Errorf("agent-found drift: %+v", e)
	}
	agent.check = func(*cnipb.CNIRequest) (*cnipb.CNIReply, error) {
		return nil, status.Error(codes.NotFound, "no attachment 0123456789abcdef/eth0")
	}
	e = runPlugin(t, env("CHECK"), conf(sock, "1.1.0", map[string]any{"prevResult": added})).error(t)
	if e.Code != 3 || !strings.Contains(e.Msg, "no attachment") {
		t.Errorf("unknown attachment: %+v", e)
	}
}

func TestAgentStatusesBecomeCNICodes(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	for _, c := range []struct {
		status codes.Code
		code   uint
		msg    string
	}{
		{codes.Unavailable, 11, "the agent is not ready: the agent is starting"},
		{codes.ResourceExhausted, 11, "the agent is not ready: the agent is starting"},
		{codes.NotFound, 3, "the agent is starting"},
		{codes.Unknown, 100, "the agent is starting"},
		{codes.Internal, 100, "the agent is starting"},
		{codes.Unknown, 100, "two\nlines"}, // still one line on stderr (checked by error)
	} {
		agent.add = func(*cnipb.CNIRequest) (*cnipb.CNIReply, error) {
			return nil, status.Error(c.status, strings.TrimPrefix(c.msg, "the agent is not ready: "))
		}
		e := runPlugin(t, env("ADD"), conf(sock, "1.0.0", nil)).error(t)
		if e.Code != c.code || e.Msg != c.msg || e.CNIVersion != "1.0.0" {
			t.Errorf("%v: %+v, want code %d %q", c.status, e, c.code, c.msg)
		}
	}
	agent.add = func(*cnipb.CNIRequest) (*cnipb.CNIReply, error) {
		r := podReply(&cnipb.CNIRequest{InterfaceName: "eth0"})
		r.Interfaces[0].IpAddresses[0].Address = "not-an-address"
		return r, nil
	}
	if e := runPlugin(t, env("ADD"), conf(sock, "1.0.0", nil)).error(t); e.Code != 100 || !strings.Contains(e.Msg, "not-an-address") {
		t.Errorf("unusable reply: %+v", e)
	}
}

func TestStatusComesFromTheAgent(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	if r := runPlugin(t, env("STATUS"), conf(sock, "1.1.0", nil)); r.rc != 0 || r.stdout != "" {
		t.Fatalf("ready: %d %q", r.rc, r.stdout)
	}
	for _, code := range []uint32{50, 51} {
		agent.status = func() (*cnipb.StatusReply, error) {
			return &cnipb.StatusReply{Code: code, Message: "VPP is not connected"}, nil
		}
		if e := runPlugin(t, env("STATUS"), conf(sock, "1.1.0", nil)).error(t); e.Code != uint(code) || e.Msg != "VPP is not connected" {
			t.Errorf("status %d: %+v", code, e)
		}
	}
	agent.status = func() (*cnipb.StatusReply, error) { return &cnipb.StatusReply{Code: 50}, nil }
	if e := runPlugin(t, env("STATUS"), conf(sock, "1.1.0", nil)).error(t); e.Msg != "the agent cannot serve ADD" {
		t.Errorf("status without a message: %+v", e)
	}
	agent.status = func() (*cnipb.StatusReply, error) { return nil, status.Error(codes.Unavailable, "VPP gone") }
	if e := runPlugin(t, env("STATUS"), conf(sock, "1.1.0", nil)).error(t); e.Code != 50 || !strings.Contains(e.Msg, "VPP gone") {
		t.Errorf("status failing: %+v", e)
	}
	nowhere := filepath.Join(shortDir(t), "none.sock")
	if e := runPlugin(t, env("STATUS"), conf(nowhere, "1.1.0", nil)).error(t); e.Code != 50 || !strings.Contains(e.Msg, nowhere) {
		t.Errorf("no agent: %+v", e)
	}
}

func TestGCSendsTheValidAttachmentsAndReportsWhatItLeft(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	valid := []any{map[string]any{"containerID": "c1", "ifname": "eth0"}, map[string]any{"containerID": "c2", "ifname": "net1"}}
	stdin := conf(sock, "1.1.0", map[string]any{validAttachmentsKey: valid})
	if r := runPlugin(t, env("GC"), stdin); r.rc != 0 || r.stdout != "" {
		t.Fatalf("GC: %d %q %q", r.rc, r.stdout, r.stderr)
	}
	want := &cnipb.GCRequest{Version: "1.1.0", ExtraNwConfig: string(stdin), ValidAttachments: []*cnipb.Attachment{
		{ContainerId: "c1", InterfaceName: "eth0"}, {ContainerId: "c2", InterfaceName: "net1"},
	}}
	if got := agent.seen()[0]; !proto.Equal(got, want) {
		t.Errorf("the agent got %v, want %v", got, want)
	}
	agent.gc = func(*cnipb.GCRequest) (*cnipb.GCReply, error) {
		return &cnipb.GCReply{Errors: []string{"c3/eth0: busy", "c4/eth0: gone"}}, nil
	}
	e := runPlugin(t, env("GC"), stdin).error(t)
	if e.Code != 100 || e.Details != "c3/eth0: busy; c4/eth0: gone" {
		t.Errorf("GC errors: %+v", e)
	}
}

func TestAnAgentThatNeverAnswersIsCode11AtTheDeadline(t *testing.T) {
	path := filepath.Join(shortDir(t), "silent.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for _, command := range []string{"ADD", "CHECK", "GC"} {
		e := runPlugin(t, env(command), conf(path, "1.1.0", map[string]any{"grpcTimeout": 0.3, validAttachmentsKey: []any{}})).error(t)
		if e.Code != 11 || !strings.Contains(e.Msg, "did not answer within 0.3s") || e.Details != "grpcTimeout" {
			t.Errorf("%s: %+v", command, e)
		}
	}
	// a DEL is queued for the agent instead (delqueue_test.go)
	queue := filepath.Join(shortDir(t), "queue")
	r := runPlugin(t, env("DEL"), conf(path, "1.1.0", map[string]any{"grpcTimeout": 0.3, "delQueueDir": queue}))
	if r.rc != 0 || r.stdout != "" || len(queued(t, queue)) != 1 {
		t.Errorf("DEL: rc %d %q %q, queued %v", r.rc, r.stdout, r.stderr, queued(t, queue))
	}
	e := runPlugin(t, env("STATUS"), conf(path, "1.1.0", map[string]any{"grpcTimeout": 0.3})).error(t)
	if e.Code != 50 || !strings.Contains(e.Msg, "did not answer within 0.3s") {
		t.Errorf("STATUS: %+v", e)
	}
}

func TestAnAgentThatIsGoneIsCode11(t *testing.T) {
	dir := shortDir(t)
	refusing := filepath.Join(dir, "stale.sock")
	lis, err := net.Listen("unix", refusing)
	if err != nil {
		t.Fatal(err)
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = lis.Close() // the socket file of an agent that died: connect is refused
	for _, server := range []string{filepath.Join(dir, "missing.sock"), refusing, "127.0.0.1:1"} {
		e := runPlugin(t, env("ADD"), conf(server, "1.0.0", map[string]any{"grpcTimeout": 600})).error(t)
		if e.Code != 11 || !strings.Contains(e.Msg, "cannot reach the agent at "+server) {
			t.Errorf("%s: %+v", server, e)
		}
	}
}

func TestLogFileGetsOneLinePerCallPrivately(t *testing.T) {
	sock := serve(t, &fakeAgent{})
	log := filepath.Join(t.TempDir(), "cni.log")
	stdin := conf(sock, "1.1.0", map[string]any{"logFile": log})
	runPlugin(t, env("ADD"), stdin)
	runPlugin(t, env("DEL", "CNI_IFNAME=a/b"), stdin)
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "ADD 0123456789abcdef eth0 /var/run/netns/cgpod: ok in ") ||
		!strings.Contains(lines[1], "DEL 0123456789abcdef a/b /var/run/netns/cgpod: error 4: CNI_IFNAME") {
		t.Errorf("log: %q", lines)
	}
	if st, _ := os.Stat(log); st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v", st.Mode().Perm())
	}
	// a log that cannot be written never fails the pod
	bad := conf(sock, "1.1.0", map[string]any{"logFile": filepath.Join(t.TempDir(), "no", "such", "dir", "cni.log")})
	r := runPlugin(t, env("ADD"), bad)
	if r.rc != 0 || !strings.Contains(r.stderr, "cannot open log file") {
		t.Errorf("unwritable log: rc %d %q", r.rc, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := runPlugin(t, env("VERSION"), []byte("not even json"))
	want := map[string]any{"cniVersion": "1.1.0", "supportedVersions": []any{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}}
	if r.rc != 0 || !jsonEqual(r.json(t), want) {
		t.Errorf("VERSION: %d %q", r.rc, r.stdout)
	}
}

func TestBadInputIsAnErrorObjectWithTheSpecsCode(t *testing.T) {
	sock := filepath.Join(shortDir(t), "unused.sock")
	big := conf(sock, "1.1.0", map[string]any{"padding": strings.Repeat("x", maxNetconf)})
	for _, c := range []struct {
		name    string
		environ []string
		stdin   []byte
		code    uint
		culprit string
	}{
		{"no command", []string{asPlugin + "=1"}, conf(sock, "1.1.0", nil), 4, "CNI_COMMAND"},
		{"unknown command", env("REBOOT"), conf(sock, "1.1.0", nil), 4, "REBOOT"},
		{"bad container ID", env("ADD", "CNI_CONTAINERID=-x"), conf(sock, "1.1.0", nil), 4, "CNI_CONTAINERID"},
		{"long ifname", env("ADD", "CNI_IFNAME=0123456789abcdef"), conf(sock, "1.1.0", nil), 4, "CNI_IFNAME"},
		{"empty netns", env("ADD", "CNI_NETNS="), conf(sock, "1.1.0", nil), 4, "CNI_NETNS"},
		{"own netns", env("ADD", "CNI_NETNS=/proc/self/ns/net"), conf(sock, "1.1.0", nil), 4, "CNI_NETNS"},
		{"garbage", env("ADD"), []byte("{not json"), 6, "decode"},
		{"truncated", env("ADD"), conf(sock, "1.1.0", nil)[:20], 6, "decode"},
		{"two objects", env("ADD"), []byte(`{"a":1} {"b":2}`), 6, "decode"},
		{"not an object", env("ADD"), []byte(`[1,2]`), 6, "not a JSON object"},
		{"not UTF-8", env("ADD"), []byte("{\"name\": \"\xff\"}"), 6, "decode"},
		{"empty", env("ADD"), nil, 6, "decode"},
		{"too large", env("ADD"), big, 7, "larger than"},
		{"no name", env("ADD"), []byte(`{"cniVersion":"1.1.0","grpcServer":"/x"}`), 7, "name"},
		{"bad name", env("ADD"), conf(sock, "1.1.0", map[string]any{"name": "a b"}), 7, "name"},
		{"version a number", env("ADD"), conf(sock, "1.1.0", map[string]any{"cniVersion": 1.1}), 7, "cniVersion"},
		{"no version", env("ADD"), []byte(`{"name":"n","grpcServer":"/x"}`), 7, "cniVersion"},
		{"old version", env("ADD"), conf(sock, "0.2.0", nil), 1, "incompatible"},
		{"CHECK too old", env("CHECK"), conf(sock, "0.3.1", nil), 1, "CHECK"},
		{"GC too old", env("GC"), conf(sock, "1.0.0", map[string]any{validAttachmentsKey: []any{}}), 1, "GC"},
		{"server a list", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcServer": []any{"/x"}}), 7, "grpcServer"},
		{"server no port", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcServer": "host"}), 7, "grpcServer"},
		{"server port 0", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcServer": "host:0"}), 7, "grpcServer"},
		{"timeout a string", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcTimeout": "30"}), 7, "grpcTimeout"},
		{"timeout a bool", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcTimeout": true}), 7, "grpcTimeout"},
		{"timeout too long", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcTimeout": 3601}), 7, "grpcTimeout"},
		{"timeout null", env("ADD"), conf(sock, "1.1.0", map[string]any{"grpcTimeout": nil}), 7, "grpcTimeout"},
		{"log a number", env("ADD"), conf(sock, "1.1.0", map[string]any{"logFile": 5}), 7, "logFile"},
		{"queue relative", env("DEL"), conf(sock, "1.1.0", map[string]any{"delQueueDir": "queue"}), 7, "delQueueDir"},
		{"queue a number", env("ADD"), conf(sock, "1.1.0", map[string]any{"delQueueDir": 1}), 7, "delQueueDir"},
		{"queue empty", env("DEL"), conf(sock, "1.1.0", map[string]any{"delQueueDir": ""}), 7, "delQueueDir"},
		{"prevResult on ADD", env("ADD"), conf(sock, "1.1.0", map[string]any{"prevResult": nil}), 7, "prevResult"},
		{"GC without list", env("GC"), conf(sock, "1.1.0", nil), 7, validAttachmentsKey},
		{"GC list of junk", env("GC"), conf(sock, "1.1.0", map[string]any{validAttachmentsKey: []any{1}}), 7, validAttachmentsKey + "[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := runPlugin(t, c.environ, c.stdin).error(t)
			if e.Code != c.code || !strings.Contains(e.Msg, c.culprit) {
				t.Errorf("%+v, want code %d naming %q", e, c.code, c.culprit)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestThePluginsOwnNetnsIsRefusedBeforeTheAgentIsCalled(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	for _, command := range []string{"ADD", "DEL"} {
		r := runPlugin(t, env(command, "CNI_NETNS=/proc/self/ns/net"), conf(sock, "1.1.0", nil))
		if e := r.error(t); e.Code != 4 || !strings.Contains(e.Msg, "CNI_NETNS /proc/self/ns/net is the plugin's own network namespace") {
			t.Errorf("%s: %+v", command, e)
		}
	}
	if n := len(agent.seen()); n != 0 {
		t.Fatalf("the agent was called %d times", n)
	}
	// the runtime may say it knows better; and a namespace that is gone is not the plugin's (a late DEL)
	if r := runPlugin(t, env("ADD", "CNI_NETNS=/proc/self/ns/net", "CNI_NETNS_OVERRIDE=1"), conf(sock, "1.1.0", nil)); r.rc != 0 {
		t.Errorf("override: rc %d %q %q", r.rc, r.stdout, r.stderr)
	}
	if r := runPlugin(t, env("DEL", "CNI_NETNS=/var/run/netns/cg-gone"), conf(sock, "1.1.0", nil)); r.rc != 0 {
		t.Errorf("DEL of a gone namespace: rc %d %q %q", r.rc, r.stdout, r.stderr)
	}
	if n := len(agent.seen()); n != 2 {
		t.Fatalf("the agent was called %d times, want 2", n)
	}
}
