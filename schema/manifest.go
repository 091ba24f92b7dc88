package schema

// Manifest is a finished job's table of contents, in the spirit of FHIR
// Bulk Data's completion manifest: what was asked, where to fetch it in each
// format, and every stored part with its rows, bytes and SHA-256, so that a
// client can verify what it downloaded without trusting the transfer.
//
// The CSV download is CSVHeader followed by the parts in order; a part's
// Offset is where its bytes start in that download, so Offset+Bytes of the
// last part is Bytes of the whole.
type Manifest struct {
	Ticket string `json:"ticket"`
	// Complete is false for the partial manifest of a job still running
	// (FHIR Bulk Data's partial manifest): it lists the parts stored so
	// far, its totals are theirs, and Status is the job's.
	Complete bool   `json:"complete"`
	Status   string `json:"status"`
	// TransactionTime is when the export finished (RFC 3339, UTC): the
	// rows are those the store held while the job ran. A partial
	// manifest's is when it was made.
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"` // the /download URL that asks for this again
	Query               Query  `json:"query"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	// Expires is when the result may be removed (RFC 3339, UTC); empty if
	// the job did not say.
	Expires string           `json:"expires,omitempty"`
	Rows    int64            `json:"rows"`
	Bytes   int64            `json:"bytes"` // of the CSV download, header included
	Header  ManifestHeader   `json:"header"`
	Output  []ManifestOutput `json:"output"`
	Parts   []ManifestPart   `json:"parts"`
	Error   []ManifestOutput `json:"error"` // always empty: a failed job has no manifest
}

// ManifestHeader is the CSV header line that precedes the parts.
type ManifestHeader struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ManifestOutput is one way to download the result.
type ManifestOutput struct {
	Type      string `json:"type"`   // "observation"
	Format    string `json:"format"` // csv, json, ndjson, parquet
	MediaType string `json:"mediaType"`
	URL       string `json:"url"`
	Count     int64  `json:"count"` // rows
	// Ranges says whether the URL honours Range requests: a form whose
	// length is known does (CSV always; JSON and NDJSON, rendered from the
	// CSV, when the exporter recorded their sizes, as it does for every
	// part now; Parquet when the job made Parquet parts), one converted
	// as it is sent (Parquet of a job that did not) does not.
	Ranges bool `json:"ranges"`
}

// ManifestPart is one stored part: a time slice of the query.
type ManifestPart struct {
	Part  int   `json:"part"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Offset is where the part starts in the CSV download; -1 in a
	// partial manifest while a part before it is not stored yet.
	Offset int64  `json:"offset"`
	SHA256 string `json:"sha256"` // lowercase hex
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	// Parquet is the part's stored Parquet file, a valid file on its own,
	// for a job submitted as Parquet; the job's Parquet download is made of
	// these files' row groups and one footer.
	Parquet *ManifestFile `json:"parquet,omitempty"`
}

// ManifestFile is a stored file's size and digest.
type ManifestFile struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// MediaType is the Content-Type of a download format.
func MediaType(format string) string {
	switch format {
	case FormatJSON:
		return "application/json"
	case FormatNDJSON:
		return "application/x-ndjson"
	case FormatParquet:
		return "application/vnd.apache.parquet"
	}
	return "text/csv; charset=utf-8"
}
