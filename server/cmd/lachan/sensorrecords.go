package main

import (
	"bufio"

	"lachan/internal/event"
	"lachan/server/sensor"
)

// jsonLines is a sensor.Sink that writes each record as one JSON line:
// flows straight from their typed record, other records from their event.
type jsonLines struct {
	w       *bufio.Writer
	buf     []byte
	records *int64 // counts records written, for progress reports
}

func (j *jsonLines) Flow(f *sensor.Flow) error {
	*j.records++
	j.buf = append(f.AppendJSON(j.buf[:0]), '\n')
	_, err := j.w.Write(j.buf)
	return err
}

func (j *jsonLines) Event(ev event.Event) error {
	*j.records++
	line, err := ev.MarshalJSON()
	if err != nil {
		return err
	}
	j.w.Write(line)
	return j.w.WriteByte('\n')
}
