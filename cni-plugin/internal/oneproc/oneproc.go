// Package oneproc runs the plugin on one P (GOMAXPROCS 1) from the start of
// package initialisation.
//
// The plugin lives a few milliseconds, for one call whose work is waiting
// on a socket. With a P per CPU the runtime spreads gRPC's goroutines
// (resolver, balancer, transport reader and writer) over several threads,
// and each hand-over wakes or starts one: on a 2-CPU VM that was about a
// fifth of the CPU of an ADD. The environment variable GOMAXPROCS would
// have to be set by the runtime that execs the plugin, so the setting is
// made here instead, in a package that imports nothing but the runtime:
// the initialisation order puts it before the packages main imports
// (grpc, protobuf, the CNI library), which then start no goroutine on a
// second P. Calling it from main instead was measured too: by then the
// switch itself costs about as much as it saves.
package oneproc

import "runtime"

func init() { runtime.GOMAXPROCS(1) }
