package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/containernetworking/cni/pkg/types"
)

// The CNI specification as this plugin obeys it: every bad input is found
// here, before skel dispatches and before the agent is called. skel's own
// checks differ in places from the spec and from the codes docs/cni.md
// promises (it wants CNI_PATH for every command, reads a missing
// cniVersion as 0.1.0, names no variable for a bad container ID), so what
// this file accepts is a subset of what skel accepts and skel never has to
// refuse anything itself.

const (
	currentVersion = "1.1.0"
	// maxNetconf bounds what is read from stdin: a real netconf (with a
	// prevResult, or a GC's list of valid attachments for a full node) is
	// a few KiB to a few hundred KiB.
	maxNetconf     = 1 << 20
	defaultTimeout = 30 * time.Second
	maxTimeout     = 3600 // seconds
	statusTimeout  = 5 * time.Second

	validAttachmentsKey = "cni.dev/valid-attachments"
)

var supportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// Error codes of the spec (0-99 are reserved to it); 100 is this plugin's "the agent failed".
const (
	codeIncompatibleVersion = types.ErrIncompatibleCNIVersion // 1
	codeUnknownContainer    = types.ErrUnknownContainer       // 3
	codeInvalidEnvironment  = types.ErrInvalidEnvironmentVariables
	codeIOFailure           = types.ErrIOFailure
	codeDecodingFailure     = types.ErrDecodingFailure
	codeInvalidConfig       = types.ErrInvalidNetworkConfig
	codeTryAgainLater       = types.ErrTryAgainLater
	codeNotAvailable        = 50
	codeAgentFailed         = 100
)

var commands = []string{"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"}

// requiredEnv: the variables each command needs, non-empty (spec 1.1, "CNI operations").
var requiredEnv = map[string][]string{
	"ADD":     {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"},
	"DEL":     {"CNI_CONTAINERID", "CNI_IFNAME"},
	"CHECK":   {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"},
	"GC":      {"CNI_PATH"},
	"STATUS":  {},
	"VERSION": {},
}

// since: the first version of the spec that has each command.
var since = map[string]string{"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}

func cniError(code uint, msg, details string) *types.Error {
	return types.NewError(code, msg, details)
}

type attachment struct{ ContainerID, IfName string }

// request is one call, checked: everything the commands need.
type request struct {
	Command     string
	ContainerID string
	Netns       string
	IfName      string
	Args        string
	Stdin       []byte
	Conf        map[string]any
	Version     string
	Server      string
	Timeout     time.Duration
	Valid       []attachment
	// DelQueueDir: where a DEL the agent cannot take now is queued (delqueue.go)
	DelQueueDir string
	// Note: what the log line says of a call that succeeded otherwise than by the agent's answer
	Note string
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func validContainerID(id string) bool {
	if id == "" || !isAlnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// ifnameProblem: why Linux would refuse name as an interface name, or "".
func ifnameProblem(name string) string {
	if len(name) > 15 {
		return "is longer than 15 bytes"
	}
	if name == "." || name == ".." {
		return "is not a usable name"
	}
	for _, r := range name {
		// the C0 separators count too: Python's isspace, which the first
		// plugin used, says they are white space
		if r == '/' || r == ':' || unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f {
			return "contains '/', ':' or white space"
		}
	}
	return ""
}

// checkEnv returns the command once every variable it needs is there and usable (else code 4 naming the variable).
func checkEnv(getenv func(string) string) (string, *types.Error) {
	command := getenv("CNI_COMMAND")
	if command == "" {
		return "", cniError(codeInvalidEnvironment, "CNI_COMMAND is missing or empty", "")
	}
	required, known := requiredEnv[command]
	if !known {
		return "", cniError(codeInvalidEnvironment, fmt.Sprintf("CNI_COMMAND: unknown command %q", command),
			"one of "+strings.Join(commands, ", "))
	}
	for _, name := range required {
		if getenv(name) == "" {
			return "", cniError(codeInvalidEnvironment, name+" is missing or empty", "required for "+command)
		}
	}
	if id := getenv("CNI_CONTAINERID"); id != "" && !validContainerID(id) {
		return "", cniError(codeInvalidEnvironment, fmt.Sprintf("CNI_CONTAINERID %q is not a valid container ID", id),
			"a letter or digit, then letters, digits, '_', '.' or '-'")
	}
	if ifname := getenv("CNI_IFNAME"); ifname != "" {
		if problem := ifnameProblem(ifname); problem != "" {
			return "", cniError(codeInvalidEnvironment, fmt.Sprintf("CNI_IFNAME %q %s", ifname, problem), "")
		}
	}
	return command, nil
}

// decodeNetconf reads stdin as one JSON object; numbers stay json.Number so that no key's value is rounded.
func decodeNetconf(data []byte) (map[string]any, *types.Error) {
	if !utf8.Valid(data) {
		return nil, cniError(codeDecodingFailure, "cannot decode the network configuration on stdin", "not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, cniError(codeDecodingFailure, "cannot decode the network configuration on stdin", err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, cniError(codeDecodingFailure, "cannot decode the network configuration on stdin",
			"more than one JSON value")
	}
	conf, ok := v.(map[string]any)
	if !ok {
		return nil, cniError(codeDecodingFailure, "the network configuration on stdin is not a JSON object", "")
	}
	return conf, nil
}

func versionKey(v string) [3]int {
	var out [3]int
	for i, p := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

func versionLess(a, b string) bool {
	ka, kb := versionKey(a), versionKey(b)
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return false
}

func supported(v string) bool {
	for _, s := range supportedVersions {
		if v == s {
			return true
		}
	}
	return false
}

func checkVersion(conf map[string]any, command string) (string, *types.Error) {
	v, _ := conf["cniVersion"].(string)
	if v == "" {
		return "", cniError(codeInvalidConfig, "cniVersion is missing or not a string", "")
	}
	if !supported(v) {
		return "", cniError(codeIncompatibleVersion, "incompatible CNI versions",
			fmt.Sprintf("config is %q, plugin supports %q", v, supportedVersions))
	}
	if s, ok := since[command]; ok && versionLess(v, s) {
		return "", cniError(codeIncompatibleVersion, fmt.Sprintf("config version %s does not allow %s", v, command),
			"needs "+s)
	}
	return v, nil
}

// checkName: the spec requires a network name of container-ID characters (skel refuses anything else).
func checkName(conf map[string]any) *types.Error {
	name, ok := conf["name"].(string)
	if !ok || name == "" {
		return cniError(codeInvalidConfig, "name is missing or not a string", "the network's name")
	}
	if !validContainerID(name) {
		return cniError(codeInvalidConfig, fmt.Sprintf("name %q is not a valid network name", name),
			"a letter or digit, then letters, digits, '_', '.' or '-'")
	}
	return nil
}

// grpcServer: a unix socket path (starting with '/') or host:port, as in the original conflist.
func grpcServer(conf map[string]any) (string, *types.Error) {
	server, _ := conf["grpcServer"].(string)
	if server == "" {
		return "", cniError(codeInvalidConfig, "grpcServer is required: the agent's unix socket path or host:port", "")
	}
	if !strings.HasPrefix(server, "/") {
		i := strings.LastIndexByte(server, ':')
		bad := i <= 0
		if !bad {
			port := server[i+1:]
			n, err := strconv.Atoi(port)
			bad = port == "" || strings.Trim(port, "0123456789") != "" || err != nil || n <= 0 || n >= 65536
		}
		if bad {
			return "", cniError(codeInvalidConfig, fmt.Sprintf("grpcServer %q is neither an absolute path nor host:port", server), "")
		}
	}
	return server, nil
}

// timeout: grpcTimeout, the seconds the plugin waits for the agent's answer to one call.
func timeout(conf map[string]any) (time.Duration, *types.Error) {
	value, present := conf["grpcTimeout"]
	if !present {
		return defaultTimeout, nil
	}
	bad := cniError(codeInvalidConfig, fmt.Sprintf("grpcTimeout %s is not a number of seconds in (0, %d]", jsonText(value), maxTimeout), "")
	n, ok := value.(json.Number)
	if !ok {
		return 0, bad
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxTimeout {
		return 0, bad
	}
	return time.Duration(f * float64(time.Second)), nil
}

func logFile(conf map[string]any) (string, *types.Error) {
	value, present := conf["logFile"]
	if !present {
		return "", nil
	}
	path, ok := value.(string)
	if !ok {
		return "", cniError(codeInvalidConfig, fmt.Sprintf("logFile %s is not a path", jsonText(value)), "")
	}
	return path, nil
}

// delQueueDir: where a DEL the agent cannot take now is queued (delqueue.go), an absolute path;
// by default beside the agent's socket, so that a plugin and an agent that agree on the socket
// agree on the queue too (and agents with sockets of their own, tests and demos, have queues of their own).
func delQueueDir(conf map[string]any, server string) (string, *types.Error) {
	value, present := conf["delQueueDir"]
	if !present {
		if strings.HasPrefix(server, "/") {
			return filepath.Join(filepath.Dir(server), delQueueDirName), nil
		}
		return defaultDelQueueDir, nil
	}
	dir, ok := value.(string)
	if !ok || !strings.HasPrefix(dir, "/") {
		return "", cniError(codeInvalidConfig, fmt.Sprintf("delQueueDir %s is not an absolute path", jsonText(value)), "")
	}
	return filepath.Clean(dir), nil
}

// validAttachments: GC's cni.dev/valid-attachments; absent is an error, never "none valid".
func validAttachments(conf map[string]any) ([]attachment, *types.Error) {
	items, ok := conf[validAttachmentsKey].([]any)
	if !ok {
		return nil, cniError(codeInvalidConfig, validAttachmentsKey+" is missing or not a list", "")
	}
	out := make([]attachment, 0, len(items))
	for i, item := range items {
		entry, _ := item.(map[string]any)
		cid, _ := entry["containerID"].(string)
		ifname, _ := entry["ifname"].(string)
		if cid == "" || ifname == "" {
			return nil, cniError(codeInvalidConfig,
				fmt.Sprintf("%s[%d] needs string containerID and ifname", validAttachmentsKey, i), jsonText(item))
		}
		out = append(out, attachment{cid, ifname})
	}
	return out, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// parse checks one call's environment and netconf; a non-nil error is the CNI error to print.
// tooLarge: stdin held more than maxNetconf bytes (data is then cut).
func parse(getenv func(string) string, data []byte, tooLarge bool) (*request, *types.Error) {
	command, err := checkEnv(getenv)
	if err != nil {
		return nil, err
	}
	req := &request{
		Command:     command,
		ContainerID: getenv("CNI_CONTAINERID"),
		Netns:       getenv("CNI_NETNS"),
		IfName:      getenv("CNI_IFNAME"),
		Args:        getenv("CNI_ARGS"),
		Stdin:       data,
	}
	if command == "VERSION" {
		return req, nil
	}
	if tooLarge {
		return nil, cniError(codeInvalidConfig,
			fmt.Sprintf("the network configuration on stdin is larger than %d bytes", maxNetconf), "")
	}
	conf, err := decodeNetconf(data)
	if err != nil {
		return nil, err
	}
	req.Conf = conf
	if req.Version, err = checkVersion(conf, command); err != nil {
		return nil, err
	}
	if err = checkName(conf); err != nil {
		return nil, err
	}
	if req.Server, err = grpcServer(conf); err != nil {
		return nil, err
	}
	if req.Timeout, err = timeout(conf); err != nil {
		return nil, err
	}
	if req.DelQueueDir, err = delQueueDir(conf, req.Server); err != nil {
		return nil, err
	}
	if _, err = logFile(conf); err != nil {
		return nil, err
	}
	if _, has := conf["prevResult"]; has && command == "ADD" {
		return nil, cniError(codeInvalidConfig,
			"prevResult must not be set: contiv-cni must be the first plugin of the chain", "")
	}
	if command == "GC" {
		if req.Valid, err = validAttachments(conf); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// peek: logFile and a supported cniVersion of the netconf, when it can be read: for the log and error objects.
func peek(data []byte) (path, version string) {
	version = currentVersion
	var conf map[string]json.RawMessage
	if !utf8.Valid(data) || json.Unmarshal(data, &conf) != nil {
		return "", version
	}
	var v string
	if json.Unmarshal(conf["cniVersion"], &v) == nil && supported(v) {
		version = v
	}
	if json.Unmarshal(conf["logFile"], &path) != nil {
		path = ""
	}
	return path, version
}
