// Package result owns an export's result file, free of any driver: how a
// part is encoded, and how the parts of a job, written by any number of
// exporter processes, form one file that can be sized, ranged and verified
// without reading it.
//
// A part is stored once, as CSV (CSVEncoder), and as Parquet too for a job
// submitted as Parquet (parquet.go). JSON and NDJSON are rendered from the
// stored CSV lines by one Renderer; the exporter counts their size as it
// encodes the CSV (JSONCounter, exact to the Renderer, without rendering):
// so a download made at request time has the length, ETag and ranges of a
// stored file. TextLayout and TextFile are the framing rule of
// the text formats (text.go); ParquetLayout stitches the parts' Parquet
// files behind one footer; a Layout answers a file's size, which part and
// offset holds byte N, and where each part begins.
package result
