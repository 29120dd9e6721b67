// Package telemetry collects endpoint telemetry on Linux for the detection
// rules: process executions (from the kernel's process-events connector,
// with the rest read from /proc at exec time), TCP connections and
// listening sockets (polled from /proc/net/tcp and tcp6, mapped to their
// processes by socket inode), and changes under watched paths (inotify).
//
// Events are written in ECS field names into the datasets linux.process,
// linux.network and linux.file; detections/logsources.yml maps the Sigma
// field names of the SigmaHQ Linux rules (Image, CommandLine, ParentImage,
// User, DestinationIp, TargetFilename…) onto them. Each kind has its own
// rate limit; what a limit drops is counted, never queued.
//
// The parsers (netlink messages, /proc files) are platform-neutral so that
// they are tested and fuzzed everywhere; the collector itself runs only on
// Linux and reports ErrUnsupported elsewhere.
package telemetry
