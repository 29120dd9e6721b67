// Package app wires the server's parts together and runs them: the agent
// and operator API, the ingest pipeline, detection and correlation, the
// four-layer registry, forwarding and retention.
//
// New builds every part and binds the listener, so that any start-up error
// (the address is taken, a rule or policy file does not parse) is returned
// before anything runs. Run owns every goroutine it starts: the first part
// that fails stops the others and its error is returned; the end of the
// context drains them in order (the API lets requests in flight finish,
// then the correlator writes its last checkpoint and forwarding stops) and
// Run returns nil. The store belongs to the caller, who closes it after Run
// returns.
package app
