package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"contivctl/cni-plugin/cnipb"
)

// One gRPC call from the plugin to the agent, under a deadline that covers
// connecting and the call (and is sent to the agent as grpc-timeout). An
// agent that cannot be reached, does not answer in time or says
// UNAVAILABLE gives CNI code 11 (try again later): kubelet retries. A call
// is fail-fast: a socket that is missing or refuses fails it at once
// instead of waiting out the deadline.

// dialState remembers whether a connection to the agent was made, and why not.
type dialState struct {
	mu        sync.Mutex
	connected bool
	err       error
}

func (d *dialState) dialer(server string) func(context.Context, string) (net.Conn, error) {
	network := "tcp"
	if strings.HasPrefix(server, "/") {
		network = "unix"
	}
	return func(ctx context.Context, _ string) (net.Conn, error) {
		var nd net.Dialer
		conn, err := nd.DialContext(ctx, network, server)
		d.mu.Lock()
		defer d.mu.Unlock()
		if err != nil {
			d.err = err
		} else {
			d.connected = true
		}
		return conn, err
	}
}

func (d *dialState) state() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.connected, d.err
}

func seconds(t time.Duration) string {
	return strconv.FormatFloat(t.Seconds(), 'g', -1, 64)
}

// codeNames: the gRPC codes as the protocol spells them (google/rpc/code.proto). A table of
// its own rather than that proto's generated package, whose descriptor would be built at every start.
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// statusName: the gRPC code as the protocol spells it (UNAVAILABLE, FAILED_PRECONDITION).
func statusName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return c.String()
}

// callAgent runs call against the agent at server; every failure comes back as the CNI error to print.
func callAgent[T any](server string, limit time.Duration, call func(context.Context, cnipb.RemoteCNIClient) (T, error)) (T, *types.Error) {
	var zero T
	var dial dialState
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dial.dialer(server)),
		grpc.WithDisableServiceConfig(),
	}
	if strings.HasPrefix(server, "/") {
		opts = append(opts, grpc.WithAuthority("localhost"))
	}
	conn, err := grpc.NewClient("passthrough:///"+server, opts...)
	if err != nil {
		return zero, cniError(codeTryAgainLater, fmt.Sprintf("cannot reach the agent at %s: %v", server, err), "")
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	reply, err := call(ctx, cnipb.NewRemoteCNIClient(conn))
	if err == nil {
		return reply, nil
	}
	return zero, callError(ctx, err, server, limit, &dial)
}

func callError(ctx context.Context, err error, server string, limit time.Duration, dial *dialState) *types.Error {
	connected, dialErr := dial.state()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return cniError(codeTryAgainLater, fmt.Sprintf("the agent at %s did not answer within %ss", server, seconds(limit)), "grpcTimeout")
	}
	st, _ := status.FromError(err)
	text := st.Message()
	if text == "" {
		text = statusName(st.Code())
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		if st.Code() == codes.Unavailable && !connected {
			if dialErr != nil {
				text = dialErr.Error()
			}
			return cniError(codeTryAgainLater, fmt.Sprintf("cannot reach the agent at %s: %s", server, text), "")
		}
		return cniError(codeTryAgainLater, "the agent is not ready: "+text, "gRPC "+statusName(st.Code()))
	case codes.NotFound:
		return cniError(codeUnknownContainer, text, "")
	default:
		return cniError(codeAgentFailed, text, "gRPC "+statusName(st.Code()))
	}
}
