package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
)

// The DEL queue: a DEL the agent cannot take now (the call failed with
// code 11: the agent's socket is missing or refuses, the agent answered
// UNAVAILABLE, or the deadline passed) is written to a directory and
// answered with success, so that the runtime can let go of the sandbox;
// the agent does the DEL when it can (it drains the directory at start,
// before it serves, and every few seconds). Cilium's plugin does the same.
//
// One file per attachment, named by a hash of its container ID and
// interface name, so a repeated DEL replaces the file. A file is written
// to a temporary name in the same directory, synced, renamed into place
// and the directory synced: the agent sees the whole file or none.
// Temporary names start with '.', which the agent skips. A DEL that cannot
// be queued (the directory cannot be written, or holds maxQueued entries)
// is the original code-11 error: the runtime retries it, nothing is lost.

const (
	// delQueueDirName: the queue's default directory beside the agent's socket.
	delQueueDirName = "cni-del-queue"
	// defaultDelQueueDir: the default when grpcServer is host:port (there is no socket directory).
	defaultDelQueueDir = "/var/run/contiv/" + delQueueDirName
	// maxQueued bounds the directory's entries (queued DELs, temporary and set-aside files).
	maxQueued = 10000
	// queueFormat is the version of the file's layout, for the agent to check.
	queueFormat = 1
)

// queuedDel is one queued DEL: everything the call carried.
type queuedDel struct {
	Format      int             `json:"format"`
	CNIVersion  string          `json:"cniVersion"`
	ContainerID string          `json:"containerId"`
	IfName      string          `json:"ifname"`
	Netns       string          `json:"netns"`
	CNIArgs     string          `json:"cniArgs"`
	Netconf     json.RawMessage `json:"netconf"`
	QueuedAt    string          `json:"queuedAt"`
}

// queueFileName: the file of one attachment (the agent computes the same name).
func queueFileName(containerID, ifname string) string {
	sum := sha256.Sum256([]byte(containerID + "\x00" + ifname))
	return hex.EncodeToString(sum[:]) + ".json"
}

// queueDel writes d to dir atomically, replacing the attachment's earlier file; the file's path.
func queueDel(dir string, d queuedDel) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, queueFileName(d.ContainerID, d.IfName))
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		n, err := countEntries(dir, maxQueued)
		if err != nil {
			return "", err
		}
		if n >= maxQueued {
			return "", fmt.Errorf("%s holds %d entries already", dir, maxQueued)
		}
	}
	data, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return path, writeAtomically(path, append(data, '\n'))
}

// countEntries: the directory's entries, counted up to limit.
func countEntries(dir string, limit int) (int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	names, err := f.Readdirnames(limit)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return len(names), nil
}

func writeAtomically(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil // the file is in place; only its durability across a power loss is not assured
	}
	defer func() { _ = d.Close() }()
	_ = d.Sync()
	return nil
}

// queueDelRequest queues the DEL of req; err says why it could not be.
func queueDelRequest(req *request, args *skel.CmdArgs) (string, error) {
	return queueDel(req.DelQueueDir, queuedDel{
		Format:      queueFormat,
		CNIVersion:  req.Version,
		ContainerID: args.ContainerID,
		IfName:      args.IfName,
		Netns:       args.Netns,
		CNIArgs:     args.Args,
		Netconf:     json.RawMessage(args.StdinData),
		QueuedAt:    time.Now().UTC().Format(time.RFC3339Nano),
	})
}
