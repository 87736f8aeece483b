// Command contiv-cni is the CNI plugin executable kubelet/containerd run for
// every pod operation (CNI spec 1.1). It checks its input against the spec,
// forwards the operation to the contivctl agent over gRPC (grpcServer in the
// netconf) and prints the result, or a CNI error object with exit status 1.
// Nothing else is ever written to stdout; an error also goes to stderr as
// one line.
//
// It runs on the host, once per pod ADD and DEL, so it is one static
// executable that needs nothing else installed, and its start-up is pod
// latency: build.sh leaves gRPC's request tracing out (-tags grpcnotrace),
// which takes a quarter off the binary and about a fifth off the CPU the
// process burns per call.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"contivctl/cni-plugin/cnipb"
	// imported for its initialisation: one P from before the other packages' (see its doc)
	_ "contivctl/cni-plugin/internal/oneproc"
)

func main() {
	os.Exit(run())
}

type errorObject struct {
	CNIVersion string `json:"cniVersion"`
	Code       uint   `json:"code"`
	Msg        string `json:"msg"`
	Details    string `json:"details,omitempty"`
}

func errorJSON(version string, e *types.Error) []byte {
	out, _ := json.Marshal(errorObject{version, e.Code, e.Msg, e.Details})
	return append(out, '\n')
}

// oneLine keeps a message that came with line breaks (an agent's, a path's) to one line of stderr and of the log.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

func describe(e *types.Error) string {
	text := fmt.Sprintf("error %d: %s", e.Code, e.Msg)
	if e.Details != "" {
		text += " (" + e.Details + ")"
	}
	return oneLine.Replace(text)
}

// readStdin reads the netconf, at most maxNetconf bytes of it; a terminal
// (someone trying the plugin by hand) or a closed stdin gives nothing rather than a hang.
func readStdin(f *os.File) (data []byte, tooLarge bool, err error) {
	st, statErr := f.Stat()
	if statErr != nil || st.Mode()&os.ModeCharDevice != 0 {
		return nil, false, nil
	}
	data, err = io.ReadAll(io.LimitReader(f, maxNetconf+1))
	if len(data) > maxNetconf {
		return data[:maxNetconf], true, nil
	}
	return data, false, err
}

func run() int {
	started := time.Now()
	data, tooLarge, readErr := readStdin(os.Stdin)
	var out []byte
	var req *request
	var cerr *types.Error
	if readErr != nil {
		cerr = cniError(codeIOFailure, "cannot read the network configuration on stdin", readErr.Error())
	} else if req, cerr = parse(os.Getenv, data, tooLarge); cerr == nil {
		out, cerr = dispatch(req)
	}
	path, version := "", currentVersion
	if !tooLarge {
		path, version = peek(data)
	}
	outcome := "ok"
	if req != nil && req.Note != "" {
		outcome = "ok, " + req.Note
	}
	if cerr != nil {
		out, outcome = errorJSON(version, cerr), describe(cerr)
	}
	if out != nil {
		_, _ = os.Stdout.Write(out)
	}
	if path != "" {
		writeLog(path, oneLine.Replace(fmt.Sprintf("%s %s %s %s: %s in %.1f ms",
			os.Getenv("CNI_COMMAND"), os.Getenv("CNI_CONTAINERID"), os.Getenv("CNI_IFNAME"), os.Getenv("CNI_NETNS"),
			outcome, float64(time.Since(started).Microseconds())/1e3)))
	}
	if cerr != nil {
		fmt.Fprintf(os.Stderr, "contiv-cni: %s\n", outcome)
		return 1
	}
	return 0
}

// writeLog appends one line to the netconf's logFile (0600, as the original); a log never fails a pod.
// O_NONBLOCK: a FIFO nobody reads is refused at once instead of blocking the pod's ADD.
func writeLog(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "contiv-cni: cannot open log file %s: %v\n", path, err)
		return
	}
	defer func() { _ = f.Close() }()
	if _, err := f.WriteString(time.Now().Format("2006-01-02T15:04:05 ") + line + "\n"); err != nil {
		fmt.Fprintf(os.Stderr, "contiv-cni: cannot write log file %s: %v\n", path, err)
	}
}

// feedStdin gives skel, which reads os.Stdin itself, the netconf already read.
func feedStdin(data []byte) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	go func() {
		_, _ = w.Write(data)
		_ = w.Close()
	}()
	os.Stdin = r
	return nil
}

// asError keeps a nil *types.Error from becoming a non-nil error.
func asError(e *types.Error) error {
	if e == nil {
		return nil
	}
	return e
}

// dispatch runs the checked request through skel; the output to print on success (nil: nothing).
func dispatch(req *request) ([]byte, *types.Error) {
	if req.Command != "VERSION" {
		if err := feedStdin(req.Stdin); err != nil {
			return nil, cniError(codeIOFailure, "cannot pass on the network configuration", err.Error())
		}
	}
	if req.Command == "ADD" || req.Command == "DEL" {
		if e := checkNetns(req.Netns); e != nil {
			return nil, e
		}
		// Checked: skel need not check again after the command (it would
		// lock the goroutine to its thread for that, which costs the
		// one-P plugin a thread of its own).
		_ = os.Setenv("CNI_NETNS_OVERRIDE", "1")
	}
	if os.Getenv("CNI_PATH") == "" {
		// skel demands CNI_PATH for every command, the spec only for GC;
		// this plugin runs no other plugin, so the value is never used.
		_ = os.Setenv("CNI_PATH", filepath.Dir(os.Args[0]))
	}
	var out []byte
	do := func(cmd func(*request, *skel.CmdArgs) ([]byte, *types.Error)) func(*skel.CmdArgs) error {
		return func(args *skel.CmdArgs) error {
			var e *types.Error
			out, e = cmd(req, args)
			return asError(e)
		}
	}
	funcs := skel.CNIFuncs{Add: do(cmdAdd), Del: do(cmdDel), Check: do(cmdCheck), GC: do(cmdGC), Status: do(cmdStatus)}
	if e := skel.PluginMainFuncsWithError(funcs, version.PluginSupports(supportedVersions...), ""); e != nil {
		return nil, e
	}
	return out, nil
}

// checkNetns refuses the plugin's own network namespace as the pod's, as
// skel does, but before the agent is called: skel checks only after the
// command ran, when the result is already out.
func checkNetns(netns string) *types.Error {
	override := os.Getenv("CNI_NETNS_OVERRIDE")
	if strings.EqualFold(override, "true") || override == "1" {
		return nil
	}
	same, err := isOwnNetns(netns)
	if err != nil {
		return cniError(codeInvalidEnvironment, "CNI_NETNS: cannot read the plugin's own network namespace", err.Error())
	}
	if same {
		return cniError(codeInvalidEnvironment, fmt.Sprintf("CNI_NETNS %s is the plugin's own network namespace", netns), "")
	}
	return nil
}

// isOwnNetns: whether path names the plugin's network namespace (the same
// nsfs inode). As skel's ns.CheckNetNS, a path that cannot be read is not
// (a DEL may come after the namespace is gone); it compares with the
// process's namespace rather than the thread's, which is the same here
// (the plugin never moves a thread), without locking a thread for it.
func isOwnNetns(path string) (bool, error) {
	var pod, own syscall.Stat_t
	if syscall.Stat(path, &pod) != nil {
		return false, nil
	}
	if err := syscall.Stat("/proc/self/ns/net", &own); err != nil {
		return false, err
	}
	return pod.Dev == own.Dev && pod.Ino == own.Ino, nil
}

func cniRequest(req *request, args *skel.CmdArgs) *cnipb.CNIRequest {
	return &cnipb.CNIRequest{
		Version:          req.Version,
		ContainerId:      args.ContainerID,
		NetworkNamespace: args.Netns,
		InterfaceName:    args.IfName,
		ExtraNwConfig:    string(args.StdinData),
		ExtraArguments:   args.Args,
	}
}

func cmdAdd(req *request, args *skel.CmdArgs) ([]byte, *types.Error) {
	reply, e := callAgent(req.Server, req.Timeout, func(ctx context.Context, c cnipb.RemoteCNIClient) (*cnipb.CNIReply, error) {
		return c.Add(ctx, cniRequest(req, args))
	})
	if e != nil {
		return nil, e
	}
	return versionedResult(reply, req.Version)
}

// cmdDel: a DEL the agent cannot take now (code 11) is queued for it and answered with success
// (delqueue.go); one that cannot be queued is the code-11 error, which the runtime retries.
func cmdDel(req *request, args *skel.CmdArgs) ([]byte, *types.Error) {
	_, e := callAgent(req.Server, req.Timeout, func(ctx context.Context, c cnipb.RemoteCNIClient) (*cnipb.CNIReply, error) {
		return c.Delete(ctx, cniRequest(req, args))
	})
	if e == nil || e.Code != codeTryAgainLater {
		return nil, e
	}
	path, err := queueDelRequest(req, args)
	if err != nil {
		details := "not queued: " + err.Error()
		if e.Details != "" {
			details = e.Details + "; " + details
		}
		return nil, cniError(e.Code, e.Msg, details)
	}
	req.Note = fmt.Sprintf("queued as %s (%s)", path, describe(e))
	return nil, nil
}

func cmdCheck(req *request, args *skel.CmdArgs) ([]byte, *types.Error) {
	reply, e := callAgent(req.Server, req.Timeout, func(ctx context.Context, c cnipb.RemoteCNIClient) (*cnipb.CNIReply, error) {
		return c.Check(ctx, cniRequest(req, args))
	})
	if e != nil {
		return nil, e
	}
	prev, ok := req.Conf["prevResult"].(map[string]any)
	if !ok {
		return nil, nil
	}
	current, e := resultFromReply(reply)
	if e != nil {
		return nil, e
	}
	if problems := prevResultProblems(prev, current); len(problems) > 0 {
		return nil, cniError(codeAgentFailed, strings.Join(problems, "; "), "")
	}
	return nil, nil
}

func cmdStatus(req *request, _ *skel.CmdArgs) ([]byte, *types.Error) {
	reply, e := callAgent(req.Server, min(req.Timeout, statusTimeout), func(ctx context.Context, c cnipb.RemoteCNIClient) (*cnipb.StatusReply, error) {
		return c.Status(ctx, &cnipb.StatusRequest{Version: req.Version})
	})
	if e != nil {
		return nil, cniError(codeNotAvailable, e.Msg, e.Details)
	}
	if code := reply.GetCode(); code != 0 {
		msg := reply.GetMessage()
		if msg == "" {
			msg = "the agent cannot serve ADD"
		}
		return nil, cniError(uint(code), msg, "")
	}
	return nil, nil
}

func cmdGC(req *request, args *skel.CmdArgs) ([]byte, *types.Error) {
	valid := make([]*cnipb.Attachment, 0, len(req.Valid))
	for _, a := range req.Valid {
		valid = append(valid, &cnipb.Attachment{ContainerId: a.ContainerID, InterfaceName: a.IfName})
	}
	reply, e := callAgent(req.Server, req.Timeout, func(ctx context.Context, c cnipb.RemoteCNIClient) (*cnipb.GCReply, error) {
		return c.GarbageCollect(ctx, &cnipb.GCRequest{Version: req.Version, ValidAttachments: valid, ExtraNwConfig: string(args.StdinData)})
	})
	if e != nil {
		return nil, e
	}
	if errs := reply.GetErrors(); len(errs) > 0 {
		return nil, cniError(codeAgentFailed, "garbage collection left attachments behind", strings.Join(errs, "; "))
	}
	return nil, nil
}
