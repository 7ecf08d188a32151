//! What `cargo xtask demo` shows until the end-to-end deal lands: one storage deal's messages
//! as a client and provider would exchange them, with their CIDs and exact bytes.

use market_types::boost::{DealParams, HttpRequest, Transfer};
use market_types::cbor;
use market_types::chain::{ClientDealProposal, DealProposal, PublishStorageDealsParams};
use market_types::json::LotusJson;
use market_types::storage::{Proposal, ProposalV0, StorageAsk, StorageAskV0};
use market_types::units::{self, PaddedPieceSize};
use market_types::{Address, DealLabel, SigType, Signature, Uuid};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    market_types::address::set_network(market_types::address::Network::Testnet);
    let price = units::parse_fil("0.0000001 FIL")?;
    let ask = StorageAsk {
        miner: Address::new_id(1000),
        price: price.clone(),
        verified_price: units::parse_fil("0 FIL")?,
        min_piece_size: PaddedPieceSize(units::parse_size("256B")?),
        max_piece_size: PaddedPieceSize(units::parse_size("32GiB")?),
        timestamp: 100,
        expiry: 100 + units::parse_epochs("30 days")?,
        seq_no: 0,
    };
    println!(
        "1. The provider's ask ({} per GiB per epoch):",
        units::format_fil(&ask.price)
    );
    println!("   ask/1.1.0 map   {}", hex(&ask.signing_bytes()));
    println!(
        "   ask/1.0.1 tuple {}",
        hex(&cbor::to_vec(&StorageAskV0::from(ask.clone())))
    );

    let proposal = DealProposal {
        piece_cid: "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy".parse()?,
        piece_size: PaddedPieceSize(2048),
        verified_deal: false,
        client: Address::new_id(1001),
        provider: ask.miner,
        label: DealLabel::String("bafkqaaa".into()),
        start_epoch: 10_000,
        end_epoch: 10_000 + units::parse_epochs("180 days")?,
        storage_price_per_epoch: price,
        provider_collateral: units::parse_fil("0.001 FIL")?,
        client_collateral: units::parse_fil("0 FIL")?,
    };
    println!("\n2. The client's deal proposal (Lotus JSON):");
    println!("   {}", proposal.to_json());
    println!(
        "   duration {} epochs, client must escrow {}",
        proposal.duration(),
        units::format_fil(&proposal.client_balance_requirement())
    );
    println!("   deal CID (on chain, blake2b-256): {}", proposal.cid());
    println!("   bytes the client signs: {}", hex(&proposal.signing_bytes()));

    // A placeholder signature: signing arrives with the daemons and their signers.
    let signed = ClientDealProposal {
        proposal,
        client_signature: Signature::new(SigType::Secp256k1, vec![0; 65]),
    };
    println!("   proposal CID (off chain, sha2-256): {}", signed.proposal_cid());

    let offline = DealParams {
        deal_uuid: Uuid::from_u128(0x0001_0203_0405_0607_0809_0a0b_0c0d_0e0f),
        transfer: Transfer::offline(),
        is_offline: true,
        deal_data_root: "bafkqaaa".parse()?,
        skip_ipni_announce: false,
        client_deal_proposal: signed.clone(),
        remove_unsealed_copy: false,
    };
    let online = DealParams {
        transfer: Transfer::http(
            &HttpRequest {
                url: "http://127.0.0.1:8080/data.car".into(),
                headers: None,
            },
            4064,
        ),
        is_offline: false,
        ..offline.clone()
    };
    println!("\n3. The proposal on the wire:");
    println!(
        "   mk/1.2.1 offline ({} bytes) {}",
        cbor::to_vec(&offline).len(),
        hex(&cbor::to_vec(&offline))
    );
    println!(
        "   mk/1.2.1 online  ({} bytes) {}",
        cbor::to_vec(&online).len(),
        hex(&cbor::to_vec(&online))
    );
    let legacy = Proposal {
        piece: None,
        deal_proposal: Some(signed.clone()),
        fast_retrieval: true,
    };
    println!("   mk/1.1.1 map     ({} bytes)", cbor::to_vec(&legacy).len());
    let legacy_v0 = ProposalV0 {
        deal_proposal: Some(signed.clone()),
        piece: None,
        fast_retrieval: true,
    };
    println!("   mk/1.0.1 tuple   ({} bytes)", cbor::to_vec(&legacy_v0).len());

    let psd = PublishStorageDealsParams { deals: vec![signed] };
    println!("\n4. The PublishStorageDeals parameters the provider sends to f05 (method 4):");
    println!("   {}", hex(&cbor::to_vec(&psd)));
    Ok(())
}
