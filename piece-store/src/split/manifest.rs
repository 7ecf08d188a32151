//! `manifest.csv`: go-graphsplit's `--calc-commp` form written byte for byte (Go's
//! `encoding/csv` with CRLF, the `playload_cid` header, the `detail` JSON as Go's
//! `encoding/json` writes it), and the manifests droplet reads for deals, read as droplet's
//! `LoadManifests` reads them.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::unixfs::{ListedDir, ListedEntry};

/// The header graphsplit writes (its spelling).
pub const HEADER: [&str; 6] = [
    "playload_cid",
    "filename",
    "piece_cid",
    "payload_size",
    "piece_size",
    "detail",
];

/// One row of a manifest as a deal needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    pub payload_cid: cid::Cid,
    pub piece_cid: Option<cid::Cid>,
    /// Bytes of the CAR (0 when the manifest has no size column).
    pub payload_size: u64,
    /// The unpadded piece size (0 when absent).
    pub piece_size: u64,
    /// The CAR's file name where the manifest names one (graphsplit's slice name).
    pub filename: Option<String>,
}

/// Why a manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} line {line}: {reason}")]
    Malformed { path: PathBuf, line: usize, reason: String },
}

/// A string as Go's `encoding/json` writes it: `"`, `\` and control characters escaped
/// (`\b \f \n \r \t`, else `\u00XX`), and, HTML-safe, `<`, `>`, `&`, U+2028 and U+2029 as
/// `\u` escapes.
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// graphsplit's `detail`: the tree as `{"Name","Hash","Size","Link"}` objects: the root with
/// name "" and size 0, each link with its name, CID and cumulative size; a directory's
/// `Link` lists its links, a file's is `null`.
pub fn detail_json(root: &ListedDir) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{{\"Name\":\"\",\"Hash\":{},\"Size\":0,\"Link\":",
        go_json_string(&root.cid.to_string())
    ));
    links_json(&root.entries, &mut out);
    out.push('}');
    out
}

fn links_json(entries: &[ListedEntry], out: &mut String) {
    out.push('[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (name, cid, tsize) = match e {
            ListedEntry::File { name, cid, tsize } => (name, *cid, *tsize),
            ListedEntry::Dir { name, tsize, dir } => (name, dir.cid, *tsize),
        };
        out.push_str(&format!(
            "{{\"Name\":{},\"Hash\":{},\"Size\":{tsize},\"Link\":",
            go_json_string(name),
            go_json_string(&cid.to_string())
        ));
        match e {
            ListedEntry::File { .. } => out.push_str("null"),
            ListedEntry::Dir { dir, .. } => links_json(&dir.entries, out),
        }
        out.push('}');
    }
    out.push(']');
}

/// One CSV record as Go's `csv.Writer` with `UseCRLF` writes it: a field is quoted when it
/// holds a comma, a quote, CR or LF, starts with a space (Unicode), or is `\.`; inside
/// quotes a quote doubles, LF becomes CRLF and a lone CR is dropped.
pub fn go_csv_record(fields: &[&str]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !needs_quotes(f) {
            out.push_str(f);
            continue;
        }
        out.push('"');
        for c in f.chars() {
            match c {
                '"' => out.push_str("\"\""),
                '\r' => {}
                '\n' => out.push_str("\r\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push_str("\r\n");
    out
}

fn needs_quotes(f: &str) -> bool {
    if f.is_empty() {
        return false;
    }
    if f == "\\." {
        return true;
    }
    if f.bytes().any(|b| matches!(b, b'\n' | b'\r' | b'"' | b',')) {
        return true;
    }
    f.chars().next().is_some_and(char::is_whitespace)
}

/// Appends `records` to the manifest at `path`, writing the header first when the file is
/// new (graphsplit appends, so a second run adds rows under the first run's).
pub fn append(path: &Path, records: &[String]) -> Result<(), ManifestError> {
    let io = |source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    let mut text = String::new();
    if f.metadata().map_err(io)?.len() == 0 {
        text.push_str(&go_csv_record(&HEADER));
    }
    for r in records {
        text.push_str(r);
    }
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_data().map_err(io)
}

/// Reads a manifest as droplet does: CSV (quotes allowed, every record as long as the
/// first), the header skipped when it mentions `payload`, and by field count: 3 fields
/// `payload_cid,filename,detail`; 4 `payload_cid,piece_cid,payload_size,piece_size`; 5 or
/// more graphsplit's `payload_cid,filename,piece_cid,payload_size,piece_size,…`. Unlike
/// droplet, a row that does not parse is an error naming its line, not a row silently lost.
pub fn load(path: &Path) -> Result<Vec<ManifestRow>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Reads a manifest's text as [`load`] does; `path` only names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<ManifestRow>, ManifestError> {
    let malformed = |line: usize, reason: String| ManifestError::Malformed {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let records = parse_csv(text).map_err(|(line, reason)| malformed(line, reason))?;
    let mut rows = Vec::new();
    let width = records.first().map(|(_, r)| r.len());
    for (n, (line, record)) in records.into_iter().enumerate() {
        if Some(record.len()) != width {
            return Err(malformed(
                line,
                format!(
                    "{} fields where the first record has {}",
                    record.len(),
                    width.unwrap_or(0)
                ),
            ));
        }
        // droplet skips a header that mentions `payload`; graphsplit's 3-column header only
        // has its `playload` spelling, which droplet then drops as a bad CID.
        let joined = record.join(",");
        if n == 0 && (joined.contains("payload") || joined.contains("playload")) {
            continue;
        }
        let cid = |s: &str, what: &str| {
            s.trim()
                .parse::<cid::Cid>()
                .map_err(|e| malformed(line, format!("{what} {s:?} is not a CID: {e}")))
        };
        let num = |s: &str, what: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|e| malformed(line, format!("{what} {s:?} is not a number: {e}")))
        };
        let row = match record.len() {
            3 => ManifestRow {
                payload_cid: cid(&record[0], "payload CID")?,
                piece_cid: None,
                payload_size: 0,
                piece_size: 0,
                filename: Some(record[1].clone()),
            },
            4 => ManifestRow {
                payload_cid: cid(&record[0], "payload CID")?,
                piece_cid: Some(cid(&record[1], "piece CID")?),
                payload_size: num(&record[2], "payload size")?,
                piece_size: num(&record[3], "piece size")?,
                filename: None,
            },
            n if n >= 5 => ManifestRow {
                payload_cid: cid(&record[0], "payload CID")?,
                piece_cid: Some(cid(&record[2], "piece CID")?),
                payload_size: num(&record[3], "payload size")?,
                piece_size: num(&record[4], "piece size")?,
                filename: Some(record[1].clone()),
            },
            n => return Err(malformed(line, format!("{n} fields; a manifest row has 3 to 6"))),
        };
        rows.push(row);
    }
    Ok(rows)
}

/// Splits CSV text into records (each with the line it starts on), RFC 4180 with Go's
/// leniencies: CRLF or LF line ends, blank lines skipped. A quote inside an unquoted field
/// is an error, as in Go.
/// Records with the line each starts on; an error is a line and what is wrong there.
type Records = Vec<(usize, Vec<String>)>;

fn parse_csv(text: &str) -> Result<Records, (usize, String)> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        let mut record = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut at_field_start = true;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err((start, "a quoted field is not closed".into()));
                }
                record.push(std::mem::take(&mut field));
                break;
            };
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => {
                        quoted = false;
                        match chars.peek() {
                            None | Some(',') | Some('\n') | Some('\r') => {}
                            Some(_) => return Err((line, "extraneous text after a closing quote".into())),
                        }
                    }
                    '\r' if chars.peek() == Some(&'\n') => {}
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    c => field.push(c),
                }
                continue;
            }
            match c {
                '"' if at_field_start => {
                    quoted = true;
                    at_field_start = false;
                }
                '"' => return Err((line, "a bare quote in an unquoted field".into())),
                ',' => {
                    record.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    record.push(std::mem::take(&mut field));
                    break;
                }
                c => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        records.push((start, record));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_as_go_does() {
        assert_eq!(go_json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_json_string("<&>"), r#""\u003c\u0026\u003e""#);
        assert_eq!(go_json_string("\u{1}\t\u{8}\u{c}"), r#""\u0001\t\b\f""#);
        assert_eq!(go_json_string("名前 \u{2028}"), "\"名前 \\u2028\"");
    }

    #[test]
    fn csv_records_quote_as_gos_writer_with_crlf() {
        assert_eq!(go_csv_record(&["a", "b"]), "a,b\r\n");
        assert_eq!(
            go_csv_record(&["a,b", "say \"hi\"", ""]),
            "\"a,b\",\"say \"\"hi\"\"\",\r\n"
        );
        assert_eq!(
            go_csv_record(&[" lead", "x\ny", "x\r\ny", "\\."]),
            "\" lead\",\"x\r\ny\",\"x\r\ny\",\"\\.\"\r\n"
        );
        assert_eq!(go_csv_record(&["\u{a0}nbsp"]), "\"\u{a0}nbsp\"\r\n");
    }

    #[test]
    fn manifests_read_in_each_of_droplets_layouts() {
        let dir = tempfile::tempdir().expect("tmp");
        let payload = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
        let piece = "baga6ea4seaqar72sapn5d26fywj56l22f546ipilpabntfozqrkopvabvcr3iaa";
        let six = dir.path().join("six.csv");
        let detail = "{\"Name\":\"\",\"Link\":[]}";
        let mut text = go_csv_record(&HEADER);
        text.push_str(&go_csv_record(&[payload, "g.car", piece, "1000", "1016", detail]));
        std::fs::write(&six, text).expect("write");
        let rows = load(&six).expect("load");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].payload_cid.to_string(), payload);
        assert_eq!(rows[0].piece_cid.map(|c| c.to_string()).as_deref(), Some(piece));
        assert_eq!((rows[0].payload_size, rows[0].piece_size), (1000, 1016));
        assert_eq!(rows[0].filename.as_deref(), Some("g.car"));

        let four = dir.path().join("four.csv");
        std::fs::write(
            &four,
            format!("payload_cid,piece_cid,payload_size,piece_size\n{payload},{piece},10,127\n"),
        )
        .expect("write");
        let rows = load(&four).expect("load");
        assert_eq!(
            (rows[0].payload_size, rows[0].piece_size, rows[0].filename.clone()),
            (10, 127, None)
        );

        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, format!("{payload},{piece},10,127\nnot-a-cid,{piece},1,2\n")).expect("write");
        let err = load(&bad).expect_err("bad row");
        assert!(err.to_string().contains("line 2"), "{err}");
        let ragged = dir.path().join("ragged.csv");
        std::fs::write(&ragged, format!("{payload},{piece},10,127\n{payload},{piece},10\n")).expect("write");
        assert!(load(&ragged).is_err());
    }

    #[test]
    fn appending_writes_the_header_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("manifest.csv");
        append(&path, &["r1\r\n".to_string()]).expect("first");
        append(&path, &["r2\r\n".to_string()]).expect("second");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "playload_cid,filename,piece_cid,payload_size,piece_size,detail\r\nr1\r\nr2\r\n"
        );
    }
}
