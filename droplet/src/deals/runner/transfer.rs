//! Online deals' downloads (at most `SimultaneousTransfersForStorage` at once, and
//! `SimultaneousTransfersForStoragePerClient` per client, into the miner's `TransferPath`)
//! and commP verification of the data.

use super::*;

impl DealRunner {
    /// Where an online deal's data is downloaded: the miner's `TransferPath`, or
    /// `<repo>/transfer`.
    pub(super) fn download_path(&self, d: &DealRecord) -> PathBuf {
        let dir = self
            .config
            .policy(Some(&d.proposal().provider))
            .transfer_path
            .clone()
            .unwrap_or_else(|| self.transfer_dir.clone());
        dir.join(format!("{}.car", d.uuid))
    }

    /// A download slot for the deal's client (`SimultaneousTransfersForStoragePerClient`);
    /// the limit is read when the client's first transfer starts.
    pub(super) fn client_slots(&self, client: &str) -> Arc<tokio::sync::Semaphore> {
        let per_client = self
            .config
            .read(|c| usize::try_from(c.simultaneous_transfers_for_storage_per_client).unwrap_or(usize::MAX))
            .max(1);
        lock(&self.client_slots)
            .entry(client.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(per_client)))
            .clone()
    }

    /// Download an online deal's data (at most `SimultaneousTransfersForStorage` at once),
    /// recording the bytes received about once a second.
    pub(super) async fn transfer(self: &Arc<Self>, d: &DealRecord) -> Event {
        let uuid = d.uuid;
        let _client_permit = match self.client_slots(&d.client_peer).acquire_owned().await {
            Ok(p) => p,
            Err(_) => return Event::Errored("the transfer queue has closed".into()),
        };
        let _permit = match self.transfer_slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return Event::Errored("the transfer queue has closed".into()),
        };
        let req = match d.transfer.http_request() {
            Ok(r) => r,
            Err(e) => return Event::Errored(format!("the deal's transfer parameters: {e}")),
        };
        let dest = self.download_path(d);
        if let Some(dir) = dest.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            return Event::Errored(format!("creating the transfer directory {}: {e}", dir.display()));
        }
        let received = Arc::new(std::sync::atomic::AtomicU64::new(d.deal.transferred));
        let reporter = {
            let (r, received) = (self.clone(), received.clone());
            let mut last = d.deal.transferred;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let n = received.load(std::sync::atomic::Ordering::Relaxed);
                    if n != last {
                        last = n;
                        let _ = r.event(uuid, Event::TransferProgress(n)).await;
                    }
                }
            })
        };
        let mut progress = |n: u64| received.store(n, std::sync::atomic::Ordering::Relaxed);
        let result = crate::deals::transfer::download(&self.http, &req, &dest, d.transfer.size, &mut progress).await;
        reporter.abort();
        match result {
            Ok(()) => {
                tracing::info!(%uuid, bytes = d.transfer.size, "data transfer complete");
                let _ = self.event(uuid, Event::TransferProgress(d.transfer.size)).await;
                Event::TransferCompleted {
                    path: dest.to_string_lossy().into_owned(),
                }
            }
            Err(crate::deals::transfer::TransferError::Interrupted(reason)) => {
                tracing::info!(%uuid, %reason, "data transfer interrupted");
                Event::TransferInterrupted(reason)
            }
            Err(crate::deals::transfer::TransferError::Failed(reason)) => {
                Event::Errored(format!("data transfer failed: {reason}"))
            }
        }
    }
}

/// commP of the data, padded to the proposal's piece size, against the proposal's piece CID.
pub(super) async fn verify_data(path: String, want: Cid, piece_size: u64) -> Event {
    let result = tokio::task::spawn_blocking(move || {
        piece_store::prepare::commp_file(std::path::Path::new(&path), 0, true, &mut |_| {})
            .map_err(|e| e.to_string())
            .and_then(|f| f.commitment.padded_to(piece_size).map_err(|e| e.to_string()))
    })
    .await;
    match result {
        Ok(Ok(c)) if c.piece_cid() == want => Event::DataVerified,
        Ok(Ok(c)) => Event::DataVerificationFailed(format!(
            "proposal CommP doesn't match calculated CommP: proposal {want}, data {}",
            c.piece_cid()
        )),
        Ok(Err(e)) => Event::DataVerificationFailed(format!("error generating CommP: {e}")),
        Err(e) => Event::DataVerificationFailed(format!("error generating CommP: {e}")),
    }
}
