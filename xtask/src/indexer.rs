//! A stand-in for an indexer's announce endpoint (cid.contact's `/ingest/announce`) on
//! loopback, for the demo: it takes droplet's HTTP announcements and keeps their bodies.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use anyhow::Result;

/// Announcements received: (Content-Type, body).
pub type Announcements = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Listens on 127.0.0.1; the announce URL and what arrives there.
pub fn announce_receiver() -> Result<(String, Announcements)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/announce", listener.local_addr()?);
    let seen: Announcements = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(clone) = stream.try_clone() else { continue };
            let mut reader = BufReader::new(clone);
            let (mut len, mut kind) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                } else if let Some(v) = lower.strip_prefix("content-type:") {
                    kind = v.trim().to_string();
                }
            }
            // An announcement is a few hundred bytes.
            let mut body = vec![0u8; len.min(1 << 16)];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(mut s) = record.lock()
            {
                s.push((kind, body));
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    Ok((url, seen))
}
