//! `droplet-client storage deals init` without arguments: the prompts of the Go client (data
//! CID, duration in days, miners), each miner's ask, the cost, a confirmation, then one
//! online deal per miner with this daemon serving the data.

use std::io::{BufRead, Write};

use anyhow::{Context, Result, anyhow, bail};
use jsonrpsee::http_client::HttpClient;
use market_proto::Json;
use market_proto::api::full_node::FullNodeClient;
use market_proto::api::market_client::MarketClientClient;
use market_proto::client::call_error;
use market_types::units::{UnpaddedPieceSize, format_fil, format_go_duration, format_size};
use market_types::{Address, BigInt, TokenAmount};

use super::storage::{InitArgs, init_params};

const GIB: u64 = 1 << 30;

/// Ask `question` and read one trimmed line; end of input is an error.
fn prompt(input: &mut dyn BufRead, question: &str) -> Result<String> {
    print!("{question}: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        bail!("no answer to {question:?} (end of input)");
    }
    Ok(line.trim().to_string())
}

/// What one epoch of storing `padded` bytes costs at `price_per_gib`.
fn epoch_price(price_per_gib: &TokenAmount, padded: u64) -> TokenAmount {
    TokenAmount::from_atto(price_per_gib.atto() * BigInt::from(padded) / BigInt::from(GIB))
}

pub async fn init(api: &HttpClient, node: &HttpClient, input: &mut dyn BufRead, base: InitArgs) -> Result<()> {
    let root = prompt(input, "Data CID (from lotus client import)")?;
    let root_cid: cid::Cid = root.parse().map_err(|e| anyhow!("{root:?} is not a CID: {e}"))?;
    println!(".. calculating data size");
    let import = api
        .client_list_imports()
        .await
        .map_err(call_error)?
        .into_iter()
        .find(|i| i.root.as_ref().is_some_and(|r| r.0 == root_cid) && i.piece_cid.is_some())
        .ok_or_else(|| {
            anyhow!("no local import has root {root}: import the data first (`droplet-client data import`)")
        })?;
    let padded = UnpaddedPieceSize(import.piece_size).padded().0;
    println!(
        "PieceCid: {} PayLoadSize: {} PieceSize: {padded}",
        import.piece_cid.as_ref().map(|c| c.0.to_string()).unwrap_or_default(),
        import.car_size
    );

    let days = prompt(input, "Deal duration (days)")?;
    let days: u64 = days
        .parse()
        .ok()
        .filter(|d| *d > 0)
        .ok_or_else(|| anyhow!("{days:?} is not a number of days"))?;
    let epochs = days * market_types::units::EPOCHS_IN_DAY.unsigned_abs();

    let line = prompt(input, "Miner Addresses (f0.. f0..), none to find")?;
    let miners = line
        .split_whitespace()
        .map(|m| market_types::address::parse(m).map_err(|e| anyhow!("{m:?} is not a miner address: {e}")))
        .collect::<Result<Vec<Address>>>()?;
    if miners.is_empty() {
        bail!("finding miners is not supported: name at least one miner");
    }
    println!(".. querying miner asks");
    let mut asks = Vec::new();
    for m in &miners {
        let ask = api
            .client_query_ask(String::new(), Json(*m))
            .await
            .map_err(|e| anyhow!("querying {m}'s ask: {}", call_error(e)))?
            .0;
        if padded > ask.max_piece_size.0 || padded < ask.min_piece_size.0 {
            bail!(
                "{m} takes pieces of {} to {}; this one is {}",
                format_size(ask.min_piece_size.0),
                format_size(ask.max_piece_size.0),
                format_size(padded)
            );
        }
        asks.push(ask);
    }

    let wallet = match &base.from {
        Some(f) => market_types::address::parse(f).map_err(|e| anyhow!("--from {f:?}: {e}"))?,
        None => api.default_address().await.map_err(call_error)?.0,
    };
    let balance = node.wallet_balance(Json(wallet)).await.map_err(call_error)?.0;
    let per_epoch = asks.iter().fold(TokenAmount::default(), |acc, a| {
        let price = if base.verified_deal {
            &a.verified_price
        } else {
            &a.price
        };
        acc + epoch_price(price, padded)
    });
    let total = TokenAmount::from_atto(per_epoch.atto() * BigInt::from(epochs));
    println!("-----");
    println!("Proposing from {wallet}");
    println!("Balance: {}", format_fil(&balance));
    println!(
        "Piece size: {} (Payload size: {})",
        format_size(padded),
        format_size(import.car_size)
    );
    println!(
        "Duration: {}",
        format_go_duration(std::time::Duration::from_secs(
            epochs * market_types::units::EPOCH_DURATION_SECONDS.unsigned_abs()
        ))
    );
    println!(
        "Total price: ~{} ({} per epoch)",
        format_fil(&total),
        format_fil(&per_epoch)
    );
    println!("Verified: {}", base.verified_deal);
    let yes = prompt(input, "Accept (yes/no)")?;
    if !matches!(yes.to_ascii_lowercase().as_str(), "yes" | "y") {
        println!("not proposing");
        return Ok(());
    }

    println!(".. executing");
    for (m, ask) in miners.iter().zip(&asks) {
        let price = if base.verified_deal {
            &ask.verified_price
        } else {
            &ask.price
        };
        let args = InitArgs {
            data_cid: Some(root.clone()),
            miner: Some(m.to_string()),
            price: Some(format!("{} attofil", price.atto())),
            duration: Some(epochs.to_string()),
            manual_piece_cid: None,
            manual_piece_size: None,
            from: Some(wallet.to_string()),
            start_epoch: base.start_epoch,
            verified_deal: base.verified_deal,
            fast_retrieval: base.fast_retrieval,
            provider_collateral: base.provider_collateral.clone(),
            protocol: base.protocol.clone(),
            http_url: None,
            http_headers: Vec::new(),
            car_size: None,
        };
        let params = init_params(api, args).await?;
        let cid = api
            .client_start_deal(params)
            .await
            .map_err(call_error)
            .with_context(|| format!("proposing to {m}"))?
            .0;
        println!("Deal ({m}) CID: {cid}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_price_scales_the_ask_by_the_padded_size() {
        // 0.02 FIL per GiB per epoch for a 1 KiB piece, as in the seeds' walkthrough.
        let ask = TokenAmount::from_atto(20_000_000_000_000_000u64);
        assert_eq!(epoch_price(&ask, 1024), TokenAmount::from_atto(19_073_486_328u64));
        assert_eq!(epoch_price(&ask, GIB), ask);
    }

    #[test]
    fn prompts_read_trimmed_lines_and_refuse_the_end_of_input() {
        let mut input = std::io::Cursor::new(b"  180 \n".to_vec());
        assert_eq!(prompt(&mut input, "Deal duration (days)").expect("line"), "180");
        assert!(prompt(&mut input, "Accept (yes/no)").is_err());
    }
}
