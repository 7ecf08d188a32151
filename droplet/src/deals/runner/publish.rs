//! Publishing: the per-miner batchers, the re-check of a due batch, PublishStorageDeals from
//! the right address within `MaxPublishDealsFee`, and the deal IDs of a landed message.

use market_fsm::storage::publish::Unread;

use super::*;

/// How long a batch waits when the node could not be reached, before it is tried again.
pub(super) const RETRY_AFTER: Duration = Duration::from_secs(3);

impl DealRunner {
    pub(super) async fn worker(&self, miner: Address) -> Result<Address, crate::chain::ChainError> {
        Ok(self.chain.miner_info(&miner).await?.worker)
    }

    /// Where PublishStorageDeals goes out from (droplet's rule): the first `DealPublishAddress`
    /// that is the miner's owner, worker or a control address and holds funds; otherwise the
    /// worker.
    pub(super) async fn publish_from(
        &self,
        miner: Address,
        configured: &[Address],
    ) -> Result<Address, crate::chain::ChainError> {
        let info = self.chain.miner_info(&miner).await?;
        if configured.is_empty() {
            return Ok(info.worker);
        }
        let chain = &self.chain;
        let id = |a: Address| async move { chain.lookup_id(&a).await };
        let mut allowed = Vec::new();
        for a in std::iter::once(info.owner)
            .chain(std::iter::once(info.worker))
            .chain(info.control_addresses.iter().copied())
        {
            allowed.push(id(a).await?);
        }
        for &a in configured {
            match id(a).await {
                Ok(a_id) if allowed.contains(&a_id) => match chain.wallet_balance(&a).await {
                    Ok(b) if b.is_positive() => return Ok(a),
                    Ok(_) => tracing::warn!(%miner, address = %a, "DealPublishAddress has no funds; skipped"),
                    Err(e) => {
                        tracing::warn!(%miner, address = %a, error = %e, "DealPublishAddress balance unreadable; skipped")
                    }
                },
                Ok(_) => {
                    tracing::warn!(%miner, address = %a, "DealPublishAddress is not the miner's owner, worker or control address; skipped")
                }
                Err(e) => tracing::warn!(%miner, address = %a, error = %e, "DealPublishAddress not on chain; skipped"),
            }
        }
        Ok(info.worker)
    }

    /// Wait for the deal's PublishStorageDeals message and find its deal ID: the message's
    /// parameters say where the deal was in the batch, the valid-deals bitfield which
    /// inputs were published.
    pub(super) async fn wait_publish(&self, d: &DealRecord, message: Cid) -> Event {
        let lookup = match self.chain.wait(&message).await {
            Ok(l) => l,
            Err(e) => return Event::PublishFailed(format!("PublishStorageDeals errored: {e}")),
        };
        if lookup.receipt.exit_code != 0 {
            // The market actor refused every deal in the batch (one it can take is published
            // and the rest left out, with exit code 0).
            return Event::PublishFailed(format!(
                "PublishStorageDeals {message} failed on chain with exit code {}: the market actor took none of its deals (check the provider's and the clients' escrow, the deals' start epochs and the sender)",
                market_types::actors::exit_code::describe(lookup.receipt.exit_code)
            ));
        }
        let msg = match self.chain.message(&lookup.message).await {
            Ok(m) => m,
            Err(e) => return Event::PublishFailed(format!("loading the publish message: {e}")),
        };
        let params: PublishStorageDealsParams = match cbor::from_slice(&msg.params.0) {
            Ok(p) => p,
            Err(e) => return Event::PublishFailed(format!("decoding the publish message: {e}")),
        };
        let ret: PublishStorageDealsReturn = match cbor::from_slice(&lookup.receipt.return_data.0) {
            Ok(r) => r,
            Err(e) => return Event::PublishFailed(format!("decoding the publish return: {e}")),
        };
        let batch: Vec<Cid> = params.deals.iter().map(|c| c.proposal_cid()).collect();
        let ids = match market_fsm::storage::publish::deal_ids(&batch, &ret) {
            Ok(ids) => ids,
            Err(e) => return Event::PublishFailed(format!("mapping deal IDs: {e}")),
        };
        match ids.into_iter().find(|(c, _)| *c == d.proposal_cid) {
            None => Event::PublishFailed("the publish message does not carry this deal".into()),
            Some((_, None)) => Event::PublishFailed("the market actor left this deal out of the valid deals".into()),
            Some((_, Some(deal_id))) => Event::Published {
                deal_id,
                message: lookup.message,
            },
        }
    }

    /// Queue `deals` again, due once [`RETRY_AFTER`] has passed: the node could not be reached
    /// to check or send them.
    fn retry_later(&self, miner: Address, deals: &[&DealRecord], why: &str) {
        if deals.is_empty() {
            return;
        }
        for d in deals {
            self.set_waiting(d.proposal_cid, format!("waiting to publish: {why}"));
        }
        let entries: Vec<(Cid, usize)> = deals
            .iter()
            .map(|d| (d.proposal_cid, cbor::to_vec(&d.proposal).len()))
            .collect();
        let now = self.now_ms();
        let at = now.saturating_add(u64::try_from(RETRY_AFTER.as_millis()).unwrap_or(u64::MAX));
        if let Some(b) = lock(&self.batchers).get_mut(&miner) {
            b.retry(&entries, now, at);
        }
        self.publish_wake.notify_one();
    }

    /// How long until the earliest batch is due; `None` when nothing waits.
    pub(super) fn next_publish_in(&self) -> Option<Duration> {
        let due = lock(&self.batchers).values().filter_map(Batcher::due_ms).min()?;
        Some(Duration::from_millis(due.saturating_sub(self.now_ms())))
    }

    /// Publish now, whatever the period (`pending-publish --publish-now`).
    pub async fn publish_now(self: &Arc<Self>) {
        for b in lock(&self.batchers).values_mut() {
            b.force();
        }
        self.publish_due().await;
    }

    /// Deals waiting to be published, per miner.
    /// Each miner's last PublishStorageDeals sent: (Unix seconds, deals in it).
    pub fn last_publish(&self) -> Vec<(Address, u64, usize)> {
        lock(&self.last_publish)
            .iter()
            .map(|(m, (t, n))| (*m, *t, *n))
            .collect()
    }

    pub fn pending(&self) -> Vec<(Address, Vec<Cid>)> {
        lock(&self.batchers)
            .iter()
            .map(|(m, b)| (*m, b.waiting().iter().map(|w| w.proposal_cid).collect()))
            .collect()
    }

    /// Send every batch that is due.
    pub(super) async fn publish_due(self: &Arc<Self>) {
        let due: Vec<(Address, Vec<Cid>)> = {
            let mut bs = lock(&self.batchers);
            let now = self.now_ms();
            let mut out = Vec::new();
            for (m, b) in bs.iter_mut() {
                while let Some(batch) = b.take(now) {
                    out.push((*m, batch));
                }
            }
            out
        };
        for (miner, batch) in due {
            self.publish_batch(miner, batch).await;
        }
    }

    /// Re-check each deal ([`market_fsm::storage::publish::admit`]): deals no longer waiting to be
    /// published stay out, the ones that no longer hold fail alone, and the rest go in one
    /// PublishStorageDeals message from the worker.
    pub(super) async fn publish_batch(self: &Arc<Self>, miner: Address, batch: Vec<Cid>) {
        let (head, head_error) = match self.chain.head_height().await {
            Ok(h) => (Some(h), None),
            Err(e) => {
                tracing::warn!(%miner, error = %e, "a due batch waits: the chain head cannot be read");
                (None, Some(e.to_string()))
            }
        };
        let mut found = Vec::new();
        let mut balances = HashMap::new();
        let read = self
            .deals
            .read(move |s| {
                Ok(batch
                    .into_iter()
                    .map(|c| (c, s.by_proposal_cid(&c)))
                    .collect::<Vec<_>>())
            })
            .await
            .unwrap_or_else(|e| {
                // The deals stay in Publish and are queued again at the next start.
                tracing::error!(%miner, error = %e, "reading a due batch");
                Vec::new()
            });
        for (cid, stored) in read {
            let d = match stored {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(proposal = %cid, error = %e, "a queued deal cannot be read; left out of the batch");
                    continue;
                }
            };
            let client = d.proposal().client;
            if let std::collections::hash_map::Entry::Vacant(v) = balances.entry(client) {
                let bal = self.chain.market_balance(&client).await;
                v.insert(bal.map(|b| b.available()).map_err(|e| Unread {
                    retry: e.is_unavailable(),
                    reason: e.to_string(),
                }));
            }
            found.push(d);
        }
        let queued = found
            .iter()
            .map(|d| Queued {
                proposal_cid: d.proposal_cid,
                status: d.status(),
                client: d.proposal().client,
                start_epoch: d.proposal().start_epoch,
                client_need: d.proposal().client_balance_requirement(),
            })
            .collect();
        let admission = market_fsm::storage::publish::admit(queued, head, &balances);
        for cid in &admission.skip {
            tracing::info!(proposal = %cid, "no longer waiting to be published; left out of the batch");
        }
        let by_cid = |c: &Cid| found.iter().find(|d| &d.proposal_cid == c);
        let retry: Vec<&DealRecord> = admission.retry.iter().filter_map(by_cid).collect();
        let why = head_error.unwrap_or_else(|| {
            balances
                .values()
                .find_map(|b| b.as_ref().err().filter(|u| u.retry).map(|u| u.reason.clone()))
                .unwrap_or_default()
        });
        self.retry_later(miner, &retry, &why);
        for (cid, reason) in admission.fail {
            if let Some(d) = by_cid(&cid) {
                tracing::info!(uuid = %d.uuid, %reason, "dropping a deal from the publish batch");
                let _ = self.event(d.uuid, Event::PublishFailed(reason)).await;
            }
        }
        let good: Vec<&DealRecord> = admission.publish.iter().filter_map(by_cid).collect();
        if good.is_empty() {
            return;
        }
        let policy = self.config.policy(Some(&miner));
        let from = match self.publish_from(miner, &policy.deal_publish_address).await {
            Ok(w) => w,
            Err(e) if e.is_unavailable() => {
                tracing::warn!(%miner, error = %e, "a due batch waits for the node");
                self.retry_later(miner, &good, &e.to_string());
                return;
            }
            Err(e) => {
                for d in &good {
                    let _ = self.event(d.uuid, Event::PublishFailed(e.to_string())).await;
                }
                return;
            }
        };
        let params = PublishStorageDealsParams {
            deals: good.iter().map(|d| d.proposal.clone()).collect(),
        };
        let msg = Message::to_send(
            from,
            MARKET_ACTOR,
            market_method::PUBLISH_STORAGE_DEALS,
            cbor::to_vec(&params),
            TokenAmount::default(),
        );
        let sent = self.chain.push(msg, policy.max_publish_fee()).await;
        if let Err(e) = &sent
            && e.is_unavailable()
        {
            tracing::warn!(%miner, error = %e, "PublishStorageDeals not sent: the batch waits for the node");
            self.retry_later(miner, &good, &e.to_string());
            return;
        }
        for d in &good {
            let event = match &sent {
                Ok(id) => Event::PublishSent(*id),
                Err(e) => Event::PublishFailed(format!("publishing deal: {e}")),
            };
            if let Err(e) = self.event(d.uuid, event).await {
                tracing::warn!(uuid = %d.uuid, error = %e, "publish event not applied");
            }
        }
        if let Ok(id) = sent {
            tracing::info!(%miner, message = %id, deals = good.len(), "PublishStorageDeals sent");
            lock(&self.last_publish).insert(miner, (now_secs(), good.len()));
        }
    }
}
