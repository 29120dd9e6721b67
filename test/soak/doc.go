// Command soak is the kill soak: for -duration it runs a ward server
// (lachan serve on the embedded store) forwarding its incidents to a city
// server, and agents scanning folders with YARA, while it keeps dropping
// new files that each raise a finding (the EICAR test file, padded
// differently, or a file with a soak marker and unique content). At
// random moments drawn from a printed seed it kills with SIGKILL one of:
// the ward server, an agent, the city server (the forwarder's peer), or
// the ward server just as it queues an incident for the city; then it
// restarts what it killed.
//
// At the end it stops dropping files, lets everything drain (bounded by
// -drain) and checks that every finding is stored in the ward exactly
// once and raised exactly one alert filed into an incident, and that
// every revision of every ward incident reached the city exactly once
// and the city holds one incident for each. It prints a summary and exits
// 1 on any loss, duplicate or crash.
//
//	make soak                            # SOAK_DURATION=30m
//	go run ./test/soak -duration 3m -seed 42
//
// Network only on loopback. Every process is a child that dies with it.
package main
