//! External deal filters (`Filter`): a shell command given the deal as JSON on stdin, as droplet
//! and boost run them. Exit 0 accepts; any other exit rejects, and what the command printed
//! (stdout, then stderr) is the reason the client is told. Unlike theirs, a filter that does not
//! answer within `FilterTimeout` is killed (with everything it started) and the deal rejected
//! saying so; and its output is read up to a bound.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most of a filter's output kept as the reason.
const MAX_OUTPUT: u64 = 16 << 10;

/// What a filter said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// The reason the client is told.
    Reject(String),
}

/// Reads to the end, keeping the first [`MAX_OUTPUT`] bytes (the rest is drained so the
/// filter is not blocked on a full pipe).
async fn read_bounded(r: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(mut r) = r else { return out };
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = (MAX_OUTPUT as usize).saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
    }
    out
}

/// Runs `cmd` with `sh -c`, `input` on its stdin.
pub async fn run(cmd: &str, input: &[u8], timeout: Duration) -> Verdict {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return Verdict::Reject(format!("filter cmd run error: cannot start `sh -c {cmd}`: {e}")),
    };
    let pid = child.id();
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let talk = async {
        if let Some(mut stdin) = stdin {
            // A filter that does not read its input is not an error: it may decide without it.
            let _ = stdin.write_all(input).await;
            drop(stdin);
        }
        let (out, err, status) = tokio::join!(read_bounded(stdout), read_bounded(stderr), child.wait());
        (out, err, status)
    };
    match tokio::time::timeout(timeout, talk).await {
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
            Verdict::Reject(format!(
                "deal filter did not answer within {}s, so the deal is rejected (FilterTimeout)",
                timeout.as_secs_f64()
            ))
        }
        Ok((_, _, Err(e))) => Verdict::Reject(format!("filter cmd run error: {e}")),
        Ok((out, err, Ok(status))) => {
            if status.success() {
                return Verdict::Accept;
            }
            let mut text = String::from_utf8_lossy(&out).into_owned();
            text.push_str(&String::from_utf8_lossy(&err));
            let text = text.trim().to_string();
            Verdict::Reject(if text.is_empty() {
                format!("deal rejected by the deal filter ({status})")
            } else {
                text
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_codes_output_and_timeouts() {
        let t = Duration::from_secs(10);
        assert_eq!(run("cat > /dev/null; exit 0", b"{}", t).await, Verdict::Accept);
        assert_eq!(
            run("echo 'too big' ; echo 'for us' >&2; exit 3", b"{}", t).await,
            Verdict::Reject("too big\nfor us".into())
        );
        assert!(matches!(run("exit 1", b"", t).await, Verdict::Reject(r) if r.contains("exit status: 1")));
        // The filter reads what it is given.
        assert_eq!(
            run(
                "grep -q '\"DealType\": \"storage\"'",
                b"{\n  \"DealType\": \"storage\"\n}",
                t
            )
            .await,
            Verdict::Accept
        );
        // A hung filter, and the process it started, are killed at the timeout.
        let started = std::time::Instant::now();
        let v = run("sleep 30 & sleep 30", b"", Duration::from_millis(300)).await;
        assert!(
            matches!(&v, Verdict::Reject(r) if r.contains("did not answer within 0.3s")),
            "{v:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // Output past the bound is cut, not held.
        let v = run("head -c 10000000 /dev/zero | tr '\\0' x; exit 1", b"", t).await;
        assert!(
            matches!(&v, Verdict::Reject(r) if r.len() <= MAX_OUTPUT as usize),
            "{}",
            match &v {
                Verdict::Reject(r) => r.len(),
                Verdict::Accept => 0,
            }
        );
    }
}

/// The provider's state a filter sees, from droplet's own data (droplet sends zeros).
#[derive(Debug, Clone, Default)]
pub struct ProviderState {
    /// The miner's market escrow: available, locked, and what droplet holds back for deals.
    pub escrow_available: market_types::TokenAmount,
    pub escrow_locked: market_types::TokenAmount,
    pub escrow_tagged: market_types::TokenAmount,
    /// The worker (which pays AddBalance) and its balance.
    pub collateral: (String, market_types::TokenAmount),
    /// The address PublishStorageDeals is sent from and its balance.
    pub publish: (String, market_types::TokenAmount),
    /// Piece storage (writable filesystem stores): total and free bytes; bytes promised to
    /// deals whose data has not been stored yet.
    pub storage_total: u64,
    pub storage_free: u64,
    pub storage_tagged: u64,
    /// The miner's deals by state name (droplet does not see the sealer's sectors; these are
    /// the deals it handed over and their progress).
    pub deal_states: std::collections::BTreeMap<String, u64>,
}

/// The storage filter's stdin: boost's `DealParams` with the provider's state (boost's 2.2.0
/// shape), indented as Go's `json.MarshalIndent`.
pub fn storage_input(params: &market_types::boost::DealParams, s: &ProviderState) -> Vec<u8> {
    use serde_json::json;
    let amount = |t: &market_types::TokenAmount| t.atto().to_string();
    let mut v = serde_json::to_value(params).unwrap_or_else(|_| json!({}));
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "SealingPipelineState".into(),
            json!({ "SectorStates": s.deal_states, "Workers": [] }),
        );
        m.insert(
            "FundsState".into(),
            json!({
                "Escrow": {
                    "Tagged": amount(&s.escrow_tagged),
                    "Available": amount(&s.escrow_available),
                    "Locked": amount(&s.escrow_locked),
                },
                "Collateral": { "Address": s.collateral.0, "Balance": amount(&s.collateral.1) },
                "PubMsg": { "Address": s.publish.0, "Balance": amount(&s.publish.1), "Tagged": "0" },
            }),
        );
        m.insert(
            "StorageState".into(),
            json!({
                "TotalAvailable": s.storage_total,
                "Tagged": s.storage_tagged,
                "Staged": 0,
                "Free": s.storage_free,
            }),
        );
        m.insert("DealType".into(), json!("storage"));
        m.insert("FormatVersion".into(), json!("2.2.0"));
        m.insert("Agent".into(), json!(concat!("droplet-rs/", env!("CARGO_PKG_VERSION"))));
    }
    serde_json::to_vec_pretty(&v).unwrap_or_default()
}

/// The retrieval filter's stdin: go-fil-markets' `ProviderDealState` as droplet sends it (the
/// proposal and its parameters flattened in), with `"DealType": "retrieval"`.
pub fn retrieval_input(deal: &market_proto::api::retrieval::RetrievalDeal) -> Vec<u8> {
    use serde_json::{Map, Value, json};
    let mut whole = match serde_json::to_value(deal) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut out = Map::new();
    if let Some(Value::Object(proposal)) = whole.remove("DealProposal") {
        for (k, v) in proposal {
            match (k.as_str(), v) {
                ("Params", Value::Object(params)) => out.extend(params),
                (_, v) => {
                    out.insert(k, v);
                }
            }
        }
    }
    out.insert("StoreID".into(), json!(0));
    // The piece droplet chose to serve from (go-fil-markets' `PieceInfo`); `PieceCID` above
    // is the one the client asked for, if any.
    out.insert(
        "PieceInfo".into(),
        json!({ "PieceCID": whole.remove("PieceCID").unwrap_or(Value::Null), "Deals": [] }),
    );
    for key in [
        "SelStorageProposalCid",
        "ChannelID",
        "Status",
        "Receiver",
        "TotalSent",
        "FundsReceived",
        "Message",
        "CurrentInterval",
        "LegacyProtocol",
        "CreatedAt",
        "UpdatedAt",
    ] {
        out.insert(key.into(), whole.remove(key).unwrap_or(Value::Null));
    }
    out.insert("DealType".into(), json!("retrieval"));
    serde_json::to_vec_pretty(&Value::Object(out)).unwrap_or_default()
}

/// [`run`] from synchronous code on the daemon's (multi-threaded) runtime, as the retrieval
/// validator is: the worker thread waits, others go on.
pub fn run_blocking(cmd: &str, input: &[u8], timeout: Duration) -> Verdict {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(run(cmd, input, timeout)))
        }
        _ => Verdict::Reject("filter cmd run error: no runtime to run the filter on".into()),
    }
}
