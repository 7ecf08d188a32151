//! Every vector of `shared/reference/vectors.md` about addresses, labels, messages, deal and
//! proposal CIDs, the market messages (§4–§9), and the Lotus JSON examples (§7).

use base64::Engine;
use market_types::address::{self, Address, Network};
use market_types::boost::{self, HttpRequest, Transfer};
use market_types::bytes::{Bytes, Uuid};
use market_types::cbor::{self, Decode, Encode};
use market_types::chain::{
    ClientDealProposal, DealCollateralBounds, DealProposal, MarketBalance, MarketDeal, Message, MsgLookup,
    PublishStorageDealsParams, SignedMessage,
};
use market_types::datatransfer::StorageDataTransferVoucher;
use market_types::ipld;
use market_types::json::{self, LotusJson};
use market_types::retrieval::{Query, QueryParams};
use market_types::storage::{self, AskRequest, AskRequestV0, StorageAsk, StorageAskV0};
use market_types::units::PaddedPieceSize;
use market_types::{Cid, DealLabel, SigType, Signature, TokenAmount};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("vector hex")
}

fn cid(s: &str) -> Cid {
    s.parse().expect("vector cid")
}

/// Encodes to exactly `want`, and `want` decodes back to the value.
fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T, want: &str) {
    assert_eq!(hex::encode(cbor::to_vec(v)), want.replace(' ', ""), "{v:?}");
    assert_eq!(&cbor::from_slice::<T>(&h(want)).expect("decode vector"), v);
}

// ---------------------------------------------------------------- §5 addresses

#[test]
fn id_addresses() {
    for (id, s) in [
        (0u64, "t00"),
        (1, "t01"),
        (10, "t010"),
        (150, "t0150"),
        (499, "t0499"),
        (1024, "t01024"),
        (1729, "t01729"),
        (999999, "t0999999"),
        (9223372036854775807, "t09223372036854775807"),
    ] {
        let a = Address::new_id(id);
        assert_eq!(address::format(&a, Network::Testnet), s);
        assert_eq!(address::parse(s), Ok(a));
    }
    assert_eq!(Address::new_id(1234).to_bytes(), h("00d209"));
    assert_eq!(Address::new_id(1000).to_bytes(), h("00e807"));
}

#[test]
fn key_and_actor_addresses() {
    let cases: [(u8, &str, &str, &str); 16] = [
        (
            1,
            "049402fac37e6432a416a3a0ca5426b5185ab3b24f6134efa25ce487c82d2e4e13bf452511e0d2245421f8613bc10d72fa216666a96c3bc13920d3ff233fd0bc05",
            "01ea0f0ea039b291a0f08fd179e0556a8c3277c0d3",
            "f15ihq5ibzwki2b4ep2f46avlkrqzhpqgtga7pdrq",
        ),
        (
            1,
            "047687b910379bf28cbe3aea674b12000c6b7dba46ffc05f6c94fe2a22bbcc2602ff7f5c76f21ca55d36959152b0e1e887917c393576eef093f61ebd3ad06f7fda",
            "01d1500504e4d1ac3e89ac891a4502586fabd9b417",
            "f12fiakbhe2gwd5cnmrenekasyn6v5tnaxaqizq6a",
        ),
        (
            1,
            "04defdd01001efb86e01ded5ce34f847a73a14819ee641bcb60bb92993596f05dc2d605f2985f8d125812dac4163a396349b23c11cc2ff359de54be287ea62319b",
            "01b06e7a6f0f551de261fe3a6fe182b422ee0bc6b6",
            "f1wbxhu3ypkuo6eyp6hjx6davuelxaxrvwb2kuwva",
        ),
        (
            1,
            "0403ed12c814b6b10d2ee09d95b4688db2d180d0a9a37a6b6a7db63d29811ee9730479d8ef9139e91249cabd393291cfe5d277ba76de45e3e085a37681bf3645d2",
            "01bcec07c05e69f92468e2b3e3bf77c874f2c5da8c",
            "f1xtwapqc6nh4si2hcwpr3656iotzmlwumogqbuaa",
        ),
        (
            1,
            "04f796819a8e271631af7c189797b545d60225936147e6010e6562b3ce9efe8b10144161a91ed0b4ec890800253fa6fc20ac90fbf1fbf27130a4ecc3e403b70576",
            "01b882619d46558f3d9e316d11b48dcf211327026a",
            "f1xcbgdhkgkwht3hrrnui3jdopeejsoatkzmoltqy",
        ),
        (
            1,
            "0442832bf87cce9ea345b90350de7d3495859ca449059c5e88dde74285dffb9ec01ebabc5fc86268cfeaeba7ae05bfb8d68eb75a5268782cf86fc8702bef8a1fe0",
            "01fd1d0f4dfcd7e99afcb99a8326b7dc459d32c628",
            "f17uoq6tp427uzv7fztkbsnn64iwotfrristwpryy",
        ),
        (
            2,
            "76128190cdf068d1418044acc03e0b6781970d60",
            "02e54dea4f9bc5b47d261819826d5e1fbf8bc5503b",
            "f24vg6ut43yw2h2jqydgbg2xq7x6f4kub3bg6as6i",
        ),
        (
            2,
            "2cafb8e2e06bba98ea657c5cf5f42023aa23e88e",
            "02eb58bd08a15a6ade19d0989674148fa95a8157c6",
            "f25nml2cfbljvn4goqtclhifepvfnicv6g7mfmmvq",
        ),
        (
            2,
            "022c9e0ea29d8f40c56abec35c8d587da0a64c18",
            "026d21137eb4c4814269e894d296cf6500e43cd714",
            "f2nuqrg7vuysaue2pistjjnt3fadsdzvyuatqtfei",
        ),
        (
            2,
            "dfec030e204f0f59d80f1d5ee91dfd066d7f63bd",
            "02e0c7c75f82d55e5ed55db28033630df4274a984f",
            "f24dd4ox4c2vpf5vk5wkadgyyn6qtuvgcpxxon64a",
        ),
        (
            2,
            "3d3a89e8ddab547832716c6d468c3560c9f47fd8",
            "02316b4c1ff5d4afb7826ceab5bb0f2c3e0f364053",
            "f2gfvuyh7v2sx3patm5k23wdzmhyhtmqctasbr23y",
        ),
        (
            3,
            "ad58df696e2d4e91ea86c881e938ba4ea81b395e12797b84b9cf314b9546705e839c7a99d606b247ddb4f9ac7a3414dd",
            "03ad58df696e2d4e91ea86c881e938ba4ea81b395e12797b84b9cf314b9546705e839c7a99d606b247ddb4f9ac7a3414dd",
            "f3vvmn62lofvhjd2ugzca6sof2j2ubwok6cj4xxbfzz4yuxfkgobpihhd2thlanmsh3w2ptld2gqkn2jvlss4a",
        ),
        (
            3,
            "b3294f0a2e29e0c66ebc235d2fedca5697bf784af605c75af608e6a63d5cd38ea85ca8989e0efde9188b382f9372460d",
            "03b3294f0a2e29e0c66ebc235d2fedca5697bf784af605c75af608e6a63d5cd38ea85ca8989e0efde9188b382f9372460d",
            "f3wmuu6crofhqmm3v4enos73okk2l366ck6yc4owxwbdtkmpk42ohkqxfitcpa57pjdcftql4tojda2poeruwa",
        ),
        (
            3,
            "96a1a3e4ea7a14d49985e661b22401d44fed402d1d0925b243c923589c0fbc7e32cd04e29ed78d15d37d3aaa3fe6da33",
            "0396a1a3e4ea7a14d49985e661b22401d44fed402d1d0925b243c923589c0fbc7e32cd04e29ed78d15d37d3aaa3fe6da33",
            "f3s2q2hzhkpiknjgmf4zq3ejab2rh62qbndueslmsdzervrhapxr7dftie4kpnpdiv2n6tvkr743ndhrsw6d3a",
        ),
        (
            3,
            "86b454258c589475f7d16f5aac018a79f6c1169d20fc33921dd8b5ce1cac6c348f90a3603624f6aeb91b64518c2e8095",
            "0386b454258c589475f7d16f5aac018a79f6c1169d20fc33921dd8b5ce1cac6c348f90a3603624f6aeb91b64518c2e8095",
            "f3q22fijmmlckhl56rn5nkyamkph3mcfu5ed6dheq53c244hfmnq2i7efdma3cj5voxenwiummf2ajlsbxc65a",
        ),
        (
            3,
            "a7726b038022f75a384617585360cee629070a2d9d28712965e5f26ecc40858382803724ed34f2720336f09db631f074",
            "03a7726b038022f75a384617585360cee629070a2d9d28712965e5f26ecc40858382803724ed34f2720336f09db631f074",
            "f3u5zgwa4ael3vuocgc5mfgygo4yuqocrntuuhcklf4xzg5tcaqwbyfabxetwtj4tsam3pbhnwghyhijr5mixa",
        ),
    ];
    for (protocol, input, binary, s) in cases {
        let a = match protocol {
            1 => Address::new_secp256k1(&h(input)),
            2 => Ok(Address::new_actor(&h(input))),
            _ => Address::new_bls(&h(input)),
        }
        .expect("address from vector input");
        assert_eq!(hex::encode(a.to_bytes()), binary);
        assert_eq!(address::format(&a, Network::Mainnet), s);
        assert_eq!(address::parse(s), Ok(a));
        let testnet = format!("t{}", &s[1..]);
        assert_eq!(address::parse(&testnet), Ok(a), "testnet prefix parses too");
        // CBOR: a byte string of the binary form.
        let mut want = vec![0x55];
        want.extend(h(binary));
        if binary.len() / 2 > 23 {
            want = [vec![0x58, (binary.len() / 2) as u8], h(binary)].concat();
        } else {
            want[0] = 0x40 + (binary.len() / 2) as u8;
        }
        assert_eq!(cbor::to_vec(&a), want);
    }
}

#[test]
fn delegated_addresses() {
    let a = Address::new_delegated(32, &h("ffffffffff")).expect("f4");
    assert_eq!(address::format(&a, Network::Mainnet), "f432f77777777x32lpna");
    assert_eq!(address::parse("f432f77777777x32lpna"), Ok(a));
    let b = Address::new_delegated(9223372036854775807, &[]).expect("f4 empty");
    assert_eq!(address::format(&b, Network::Mainnet), "f49223372036854775807fiic6zsy");
    assert_eq!(address::parse("f49223372036854775807fiic6zsy"), Ok(b));
}

// ---------------------------------------------------------------- §6 message

fn lotus_example_message() -> Message {
    Message {
        version: 42,
        to: Address::new_id(1234),
        from: Address::new_id(1234),
        nonce: 42,
        value: TokenAmount::from_atto(0),
        gas_limit: 9,
        gas_fee_cap: TokenAmount::from_atto(0),
        gas_premium: TokenAmount::from_atto(0),
        method: 1,
        params: Bytes(b"byte array".to_vec()),
    }
}

#[test]
fn message_cbor_and_cid() {
    let m = lotus_example_message();
    check(&m, "8a182a4300d2094300d209182a40094040014a62797465206172726179");
    assert_eq!(
        m.cid().to_string(),
        "bafy2bzacebbpdegvr3i4cosewthysg5xkxpqfn2wfcz6mv2hmoktwbdxkax4s"
    );
}

// ---------------------------------------------------------------- §7 Lotus JSON

#[test]
fn lotus_json_examples() {
    let m = lotus_example_message();
    let want = r#"{"Version":42,"To":"f01234","From":"f01234","Nonce":42,"Value":"0","GasLimit":9,"GasFeeCap":"0","GasPremium":"0","Method":1,"Params":"Ynl0ZSBhcnJheQ==","CID":{"/":"bafy2bzacebbpdegvr3i4cosewthysg5xkxpqfn2wfcz6mv2hmoktwbdxkax4s"}}"#;
    assert_eq!(json::to_string(&m), want);
    assert_eq!(json::from_str::<Message>(want), Ok(m.clone()));

    let signed = SignedMessage {
        message: m,
        signature: Signature::new(SigType::Bls, b"byte array".to_vec()),
    };
    let v = signed.to_json();
    assert_eq!(v["Signature"].to_string(), r#"{"Type":2,"Data":"Ynl0ZSBhcnJheQ=="}"#);
    // A BLS-signed message is named by its unsigned CID.
    assert_eq!(
        v["CID"]["/"],
        "bafy2bzacebbpdegvr3i4cosewthysg5xkxpqfn2wfcz6mv2hmoktwbdxkax4s"
    );

    let deal = r#"{"Proposal":{"PieceCID":{"/":"bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"},"PieceSize":1032,"VerifiedDeal":true,"Client":"f01234","Provider":"f01234","Label":"","StartEpoch":10101,"EndEpoch":10101,"StoragePricePerEpoch":"0","ProviderCollateral":"0","ClientCollateral":"0"},"State":{"SectorNumber":9,"SectorStartEpoch":10101,"LastUpdatedEpoch":10101,"SlashEpoch":10101}}"#;
    let md: MarketDeal = json::from_str(deal).expect("MarketDeal example");
    assert_eq!(md.proposal.piece_size, PaddedPieceSize(1032));
    assert_eq!(md.state.sector_number, 9);
    assert_eq!(json::to_string(&md), deal);

    let bal: MarketBalance = json::from_str(r#"{"Escrow":"0","Locked":"0"}"#).expect("balance");
    assert_eq!(json::to_string(&bal), r#"{"Escrow":"0","Locked":"0"}"#);
    let bounds: DealCollateralBounds = json::from_str(r#"{"Min":"0","Max":"0"}"#).expect("bounds");
    assert_eq!(json::to_string(&bounds), r#"{"Min":"0","Max":"0"}"#);

    let lookup = r#"{"Message":{"/":"bafy2bzacebbpdegvr3i4cosewthysg5xkxpqfn2wfcz6mv2hmoktwbdxkax4s"},"Receipt":{"ExitCode":0,"Return":"Ynl0ZSBhcnJheQ==","GasUsed":9,"EventsRoot":{"/":"bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"}},"ReturnDec":{},"TipSet":[{"/":"bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"},{"/":"bafy2bzacebp3shtrn43k7g3unredz7fxn4gj533d3o43tqn2p2ipxxhrvchve"}],"Height":10101}"#;
    let l: MsgLookup = json::from_str(lookup).expect("MsgLookup example");
    assert_eq!(l.height, 10101);
    assert_eq!(l.tipset.0.len(), 2);
    assert_eq!(l.receipt.return_data.0, b"byte array");
}

// ---------------------------------------------------------------- §8 derived market messages

fn zero_2k_piece() -> Cid {
    cid("baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy")
}

fn sample_proposal(label: DealLabel) -> DealProposal {
    DealProposal {
        piece_cid: zero_2k_piece(),
        piece_size: PaddedPieceSize(2048),
        verified_deal: false,
        client: Address::new_id(1000),
        provider: Address::new_id(1001),
        label,
        start_epoch: 100,
        end_epoch: 200,
        storage_price_per_epoch: TokenAmount::from_atto(0),
        provider_collateral: TokenAmount::from_atto(0),
        client_collateral: TokenAmount::from_atto(0),
    }
}

fn sample_ask() -> StorageAsk {
    StorageAsk {
        miner: Address::new_id(1000),
        price: TokenAmount::from_atto(500_000_000),
        seq_no: 0,
        expiry: 200,
        timestamp: 100,
        max_piece_size: PaddedPieceSize(32 << 30),
        min_piece_size: PaddedPieceSize(256),
        verified_price: TokenAmount::from_atto(50_000_000),
    }
}

#[test]
fn ask_messages() {
    check(
        &AskRequest {
            miner: Address::new_id(1000),
        },
        "a1654d696e65724300e807",
    );
    check(
        &AskRequestV0 {
            miner: Address::new_id(1000),
        },
        "814300e807",
    );
    let ask = sample_ask();
    let map = "a8654d696e65724300e80765507269636545001dcd6500655365714e6f006645787069727918c86954696d657374616d7018646c4d6178506965636553697a651b00000008000000006c4d696e506965636553697a651901006d56657269666965645072696365450002faf080";
    let tuple = "8845001dcd6500450002faf0801901001b00000008000000004300e807186418c800";
    check(&ask, map);
    check(&StorageAskV0::from(ask.clone()), tuple);
    assert_eq!(hex::encode(ask.signing_bytes()), map);
    assert_eq!(hex::encode(ask.signing_bytes_v0()), tuple);
}

#[test]
fn scalar_and_cid_vectors() {
    check(&TokenAmount::from_atto(0), "40");
    check(&TokenAmount::from_atto(1), "420001");
    check(&TokenAmount::from_atto(-1), "420101");
    check(
        &TokenAmount::from_atto(1_000_000_000_000_000_000u64),
        "49000de0b6b3a7640000",
    );
    check(&TokenAmount::from_atto(500_000_000), "45001dcd6500");
    check(&cid("bafkqaaa"), "d82a450001550000");
    check(
        &zero_2k_piece(),
        "d82a5828000181e203922020fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833",
    );
}

#[test]
fn deal_proposal_and_cids() {
    let p = sample_proposal(DealLabel::String(String::new()));
    check(
        &p,
        "8bd82a5828000181e203922020fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833190800f44300e8074300e90760186418c8404040",
    );
    assert_eq!(
        p.cid().to_string(),
        "bafy2bzacedvhql5i2xsl4ry4pk7nw3s6whgt3vxfnvzdrap3cjon4d6sv4awi"
    );

    let pb = sample_proposal(DealLabel::Bytes(vec![]));
    check(
        &pb,
        "8bd82a5828000181e203922020fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833190800f44300e8074300e90740186418c8404040",
    );
    assert_eq!(
        pb.cid().to_string(),
        "bafy2bzacedota5bj7cgrb3g22sg5dddxhomxw2p2vdbbtqgsn4mzbhdds7hza"
    );

    let signed = ClientDealProposal {
        proposal: p,
        client_signature: Signature::new(SigType::Secp256k1, vec![0; 65]),
    };
    check(
        &signed,
        &format!(
            "828bd82a5828000181e203922020fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833190800f44300e8074300e90760186418c8404040584201{}",
            "00".repeat(65)
        ),
    );
    // Checked with go-cbor-util's AsIpld at the Go droplet's versions (go-ipld-cbor v0.2.1,
    // refmt v0.89.1): the hash of the wire bytes. refmt v0.90 (boost ≥ v2.5.2) writes the
    // three zero amounts as null and gives bafyreiac67r2ru7mrk7ukpxaiytzrnrqlefdqmjc2yds7dry4f7trh5w2u.
    let pcid = signed.proposal_cid();
    assert_eq!(
        pcid.to_string(),
        "bafyreih4iueiw2od3elhi73nrfsdaqlgxk42wb6ur5nz3akibmpnr54teq"
    );
    assert_eq!(
        hex::encode(storage::status_signing_bytes(&pcid)),
        "d82a58250001711220fc45088b69c3d916747f6d8964304166bab9ab07d48f5b9d81480b1ed8f79324"
    );
    check(
        &StorageDataTransferVoucher { proposal: pcid },
        "81d82a58250001711220fc45088b69c3d916747f6d8964304166bab9ab07d48f5b9d81480b1ed8f79324",
    );
}

#[test]
fn boost_messages() {
    check(
        &Transfer::offline(),
        "a46453697a650064547970656066506172616d734068436c69656e74494460",
    );
    let req = HttpRequest {
        url: "https://example.com/data.car".into(),
        headers: None,
    };
    check(
        &Transfer::http(&req, 1000),
        "a46453697a651903e86454797065646874747066506172616d7358357b2255524c223a2268747470733a2f2f6578616d706c652e636f6d2f646174612e636172222c2248656164657273223a6e756c6c7d68436c69656e74494460",
    );
    check(
        &boost::DealResponse {
            accepted: true,
            message: String::new(),
        },
        "a2674d65737361676560684163636570746564f5",
    );
    let uuid: Uuid = "00010203-0405-0607-0809-0a0b0c0d0e0f".parse().expect("uuid");
    assert_eq!(
        hex::encode(boost::status_signing_bytes(&uuid)),
        "000102030405060708090a0b0c0d0e0f"
    );
    check(
        &boost::TransportsQueryResponse {
            protocols: vec![boost::TransportProtocol {
                name: "http".into(),
                addresses: vec![Bytes(h("047f000001061f90e003"))],
            }],
        },
        "a16950726f746f636f6c7381a2644e616d65646874747069416464726573736573814a047f000001061f90e003",
    );
}

#[test]
fn selector_and_retrieval_query() {
    assert_eq!(
        hex::encode(ipld::all_selector().as_bytes()),
        "a16152a2616ca1646e6f6e65a0623a3ea16161a1613ea16140a0"
    );
    check(
        &Query {
            payload_cid: cid("bafkqaaa"),
            query_params: QueryParams { piece_cid: None },
        },
        "a26a5061796c6f6164434944d82a4500015500006b5175657279506172616d73a1685069656365434944f6",
    );
}

// ---------------------------------------------------------------- §9 a real ClientDealProposal

#[test]
fn real_world_publish_params() {
    let b64 = "gYGCi9gqWCgAAYHiA5IgIM0ZDnOXrYczT9jfC/47iVtWrdzqgFiPGBD8FHO9SmI9GiAAAAD0WDEDrrTNgZqwjUdpSHUXxGAVFAbc5OFUm5JXCBf3cF1dvhB4TyaOB4DO6ODkR3pm5iRXQwCVEWAZK7gZZTxGAAkUlMYARQAfwAAAQFhhAqeOt8l8xFd6wRXsMP7+nPwIxWfVTVpjZQxc2DAdrXxSIWXPT2W9H7JYGS1eI/jCGgqmFuxfyKCGb4MRgcB+3PuJ00mPZHqli/jeBR8ug44vXmHNwb5m2QdRASRrca8xZg==";
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
    let params: PublishStorageDealsParams = cbor::from_slice(&raw).expect("PSD params decode");
    assert_eq!(cbor::to_vec(&params), raw, "re-encoding reproduces the input exactly");
    let d = &params.deals[0];
    let p = &d.proposal;
    assert_eq!(
        p.piece_cid,
        cid("baga6ea4seaqm2gioool23bztj7mn6c76hoevwvvn3tviawepdaipyfdtxvfgepi")
    );
    assert_eq!(p.piece_size, PaddedPieceSize(536870912));
    assert!(!p.verified_deal);
    assert_eq!(p.client.protocol(), address::Protocol::BLS);
    assert_eq!(p.provider, Address::new_id(2197));
    assert_eq!(p.label, DealLabel::String(String::new()));
    assert_eq!((p.start_epoch, p.end_epoch), (11192, 25916));
    assert_eq!(d.client_signature.sig_type, SigType::Bls);
    assert_eq!(d.client_signature.data.len(), 96);
    // As the Go droplet names it (refmt v0.89); boost ≥ v2.5.2 (refmt v0.90) gives
    // bafyreig3vrj25fgvbpxtx2joazt65qecmudrrmo4sqlch4n5okm5n2cpoy.
    assert_eq!(
        d.proposal_cid().to_string(),
        "bafyreib6uq5cn7omddacnkqlaahcers2jfqzhpzsrt3w3kocymlzkal3ry"
    );
    assert_eq!(
        p.cid().to_string(),
        "bafy2bzacecssbgvhk7lxqqr36p52c2neg2efjje3xdx4svgkecqhvbkfqruri"
    );
}
