// Package tap runs the sensor on a live interface as a service: it reads
// packets through libpcap with a BPF filter, turns them into records with
// a sensor.Decoder, keeps the packets in rolling capture files
// (pcapstore) when asked, and ships the records to the server's network
// ingest endpoint in batches.
//
// Between the decoder and the server sits a durable on-disk queue
// (internal/spool): records are appended to it every FlushInterval or
// BatchSize records, and removed only once the server has acknowledged
// them, so a dead server or a restart loses nothing that was spooled;
// delivery is at least once and the server drops duplicates by event ID.
// Flow records are ended by the decoder's idle timeouts against the wall
// clock when traffic stops, and all open flows are ended on shutdown.
package tap
