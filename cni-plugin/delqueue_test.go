package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"contivctl/cni-plugin/cnipb"
)

// The DEL queue (delqueue.go), through the plugin process as a runtime runs it.

// queued: the queue directory's entries by name, each decoded (strictly: no field the agent does not expect).
func queued(t *testing.T, dir string) map[string]queuedDel {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]queuedDel{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var d queuedDel
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s is not a queued DEL: %v: %q", e.Name(), err, data)
		}
		out[e.Name()] = d
	}
	return out
}

// refusingSocket: the socket file of an agent that died (connect is refused).
func refusingSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(shortDir(t), "stale.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = lis.Close()
	return path
}

func TestADelTheAgentCannotTakeIsQueuedWithEverythingItCarriedAndSucceeds(t *testing.T) {
	starting := &fakeAgent{del: func(*cnipb.CNIRequest) (*cnipb.CNIReply, error) {
		return nil, status.Error(codes.Unavailable, "the agent is starting")
	}}
	for _, c := range []struct {
		name, server string
		agent        *fakeAgent
	}{
		{"socket missing", filepath.Join(shortDir(t), "none.sock"), nil},
		{"socket refusing", refusingSocket(t), nil},
		{"agent starting", serve(t, starting), starting},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "cni.log")
			stdin := conf(c.server, "1.0.0", map[string]any{"logFile": log})
			before := time.Now().UTC()
			r := runPlugin(t, env("DEL"), stdin)
			if r.rc != 0 || r.stdout != "" || r.stderr != "" {
				t.Fatalf("rc %d %q %q", r.rc, r.stdout, r.stderr)
			}
			if c.agent != nil && len(c.agent.seen()) == 0 {
				t.Fatal("the agent was not asked first")
			}
			// by default beside the socket, created private
			dir := filepath.Join(filepath.Dir(c.server), "cni-del-queue")
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("queue directory: %v %v", st, err)
			}
			files := queued(t, dir)
			name := queueFileName("0123456789abcdef", "eth0")
			got, ok := files[name]
			if len(files) != 1 || !ok {
				t.Fatalf("queue holds %v, want only %s", files, name)
			}
			if st, _ := os.Stat(filepath.Join(dir, name)); st.Mode().Perm() != 0o600 {
				t.Errorf("file mode %v", st.Mode().Perm())
			}
			at, err := time.Parse(time.RFC3339Nano, got.QueuedAt)
			if err != nil || at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("queuedAt %q", got.QueuedAt)
			}
			want := queuedDel{
				Format: 1, CNIVersion: "1.0.0", ContainerID: "0123456789abcdef", IfName: "eth0",
				Netns: "/var/run/netns/cgpod", CNIArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web",
				QueuedAt: got.QueuedAt,
			}
			if !bytes.Equal(got.Netconf, stdin) {
				t.Errorf("netconf %s, want %s", got.Netconf, stdin)
			}
			got.Netconf = nil
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("queued %+v, want %+v", got, want)
			}
			line, _ := os.ReadFile(log)
			if !strings.Contains(string(line), "DEL 0123456789abcdef eth0 /var/run/netns/cgpod: ok, queued as "+filepath.Join(dir, name)+" (error 11: ") {
				t.Errorf("log: %q", line)
			}
		})
	}
}

func TestARepeatedDelReplacesItsFileAndOthersGetTheirOwn(t *testing.T) {
	server := filepath.Join(shortDir(t), "none.sock")
	queue := filepath.Join(shortDir(t), "a", "queue")
	stdin := conf(server, "1.1.0", map[string]any{"delQueueDir": queue + "/"})
	for _, more := range [][]string{{"CNI_ARGS=first"}, {"CNI_ARGS=second"}, {"CNI_IFNAME=net1"}} {
		if r := runPlugin(t, env("DEL", more...), stdin); r.rc != 0 {
			t.Fatalf("%v: rc %d %q %q", more, r.rc, r.stdout, r.stderr)
		}
	}
	files := queued(t, queue)
	eth0, net1 := files[queueFileName("0123456789abcdef", "eth0")], files[queueFileName("0123456789abcdef", "net1")]
	if len(files) != 2 || eth0.CNIArgs != "second" || net1.IfName != "net1" {
		t.Errorf("queue: %+v", files)
	}
}

func TestOnlyADelIsQueued(t *testing.T) {
	dir := shortDir(t)
	server := filepath.Join(dir, "none.sock")
	for _, command := range []string{"ADD", "CHECK", "GC"} {
		e := runPlugin(t, env(command), conf(server, "1.1.0", map[string]any{validAttachmentsKey: []any{}})).error(t)
		if e.Code != 11 || !strings.Contains(e.Msg, "cannot reach the agent at "+server) {
			t.Errorf("%s: %+v", command, e)
		}
	}
	if e := runPlugin(t, env("STATUS"), conf(server, "1.1.0", nil)).error(t); e.Code != 50 {
		t.Errorf("STATUS: %+v", e)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestADelTheAgentRefusesIsItsErrorAndNothingIsQueued(t *testing.T) {
	agent := &fakeAgent{}
	sock := serve(t, agent)
	queue := filepath.Join(filepath.Dir(sock), "cni-del-queue")
	for _, c := range []struct {
		status codes.Code
		code   uint
	}{
		{codes.Unknown, 100},
		{codes.FailedPrecondition, 100},
		{codes.NotFound, 3},
	} {
		agent.del = func(*cnipb.CNIRequest) (*cnipb.CNIReply, error) {
			return nil, status.Error(c.status, "cannot remove the pod")
		}
		e := runPlugin(t, env("DEL"), conf(sock, "1.1.0", nil)).error(t)
		if e.Code != c.code || e.Msg != "cannot remove the pod" {
			t.Errorf("%v: %+v", c.status, e)
		}
	}
	if _, err := os.Stat(queue); !os.IsNotExist(err) {
		t.Errorf("queue directory made: %v", err)
	}
}

func TestADelThatCannotBeQueuedIsTheAgentsCode11(t *testing.T) {
	dir := shortDir(t)
	server := filepath.Join(dir, "none.sock")
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, queue := range []string{file, filepath.Join(file, "queue")} {
		e := runPlugin(t, env("DEL"), conf(server, "1.1.0", map[string]any{"delQueueDir": queue})).error(t)
		if e.Code != 11 || !strings.Contains(e.Msg, "cannot reach the agent at "+server) ||
			!strings.HasPrefix(e.Details, "not queued: ") {
			t.Errorf("%s: %+v", queue, e)
		}
	}
	// the deadline's error keeps its details, and says why the DEL is not queued after them
	silent := filepath.Join(dir, "silent.sock")
	lis, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	e := runPlugin(t, env("DEL"), conf(silent, "1.1.0", map[string]any{"grpcTimeout": 0.2, "delQueueDir": file})).error(t)
	if e.Code != 11 || !strings.HasPrefix(e.Details, "grpcTimeout; not queued: ") {
		t.Errorf("deadline: %+v", e)
	}
}

func TestAFullQueueTakesNoNewAttachmentButStillReplacesAQueuedOne(t *testing.T) {
	server := filepath.Join(shortDir(t), "none.sock")
	queue := filepath.Join(shortDir(t), "queue")
	stdin := conf(server, "1.1.0", map[string]any{"delQueueDir": queue})
	if r := runPlugin(t, env("DEL"), stdin); r.rc != 0 {
		t.Fatalf("rc %d %q", r.rc, r.stderr)
	}
	for i := 1; i < maxQueued; i++ {
		if err := os.WriteFile(filepath.Join(queue, fmt.Sprintf("other-%05d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := runPlugin(t, env("DEL", "CNI_IFNAME=net1"), stdin).error(t)
	if e.Code != 11 || !strings.Contains(e.Details, fmt.Sprintf("holds %d entries already", maxQueued)) {
		t.Errorf("full: %+v", e)
	}
	if r := runPlugin(t, env("DEL", "CNI_ARGS=again"), stdin); r.rc != 0 {
		t.Errorf("a queued attachment again: rc %d %q", r.rc, r.stdout)
	}
	data, _ := os.ReadFile(filepath.Join(queue, queueFileName("0123456789abcdef", "eth0")))
	if !strings.Contains(string(data), `"cniArgs":"again"`) {
		t.Errorf("not replaced: %s", data)
	}
	if _, err := os.Stat(filepath.Join(queue, queueFileName("0123456789abcdef", "net1"))); !os.IsNotExist(err) {
		t.Errorf("queued beyond the cap: %v", err)
	}
}

func TestTheFileNameIsTheAgents(t *testing.T) {
	// tests/cni/test_delqueue.py holds the agent's file_name to the same name
	if got := queueFileName("0123456789abcdef", "eth0"); got != "95d930c5a66b2036a9ec16dc13c504ed7f547806f37744d78cfdbac51bbb9913.json" {
		t.Errorf("queueFileName: %s", got)
	}
}

func TestTheQueueDirectoryIsBesideTheSocketUnlessSaid(t *testing.T) {
	for _, c := range []struct {
		server string
		conf   map[string]any
		want   string
	}{
		{"/var/run/contiv/cni.sock", nil, "/var/run/contiv/cni-del-queue"},
		{"/run/agent-2/cni.sock", nil, "/run/agent-2/cni-del-queue"},
		{"127.0.0.1:9111", nil, "/var/run/contiv/cni-del-queue"},
		{"/run/a/cni.sock", map[string]any{"delQueueDir": "/var/lib/q//"}, "/var/lib/q"},
	} {
		got, err := delQueueDir(c.conf, c.server)
		if err != nil || got != c.want {
			t.Errorf("%s %v: %q %v, want %q", c.server, c.conf, got, err, c.want)
		}
	}
}
