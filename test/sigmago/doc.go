// Package sigmago compares lachan's Sigma engine with
// github.com/bradleyjkemp/sigma-go on the same SigmaHQ rules and events
// (BenchmarkSigmaGoComparison). It is a module of its own so that sigma-go
// never enters lachan's go.mod or its binaries.
package sigmago
