//! Codec throughput: our encoder and decoder against `fvm_ipld_encoding` (serde-based) on the
//! same values in the same run, printed as ratios. Run through `cargo xtask bench`.

use std::hint::black_box;
use std::time::Instant;

use market_types::cbor;
use market_types::chain::{Message, PublishStorageDealsParams};
use market_types::testing;

/// Seconds per call: the best of five rounds, so a busy machine skews the ratio less.
fn time<T>(iterations: u32, mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..iterations / 10 {
        black_box(f());
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations / 5 {
                black_box(f());
            }
            start.elapsed().as_secs_f64() / f64::from(iterations / 5)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let iterations = 200_000;
    let msg: Message = testing::generate(&[7u8; 512]);
    let fvm_msg = fvm_shared::message::Message {
        version: msg.version,
        to: msg.to,
        from: msg.from,
        sequence: msg.nonce,
        value: msg.value.clone(),
        method_num: msg.method,
        params: fvm_ipld_encoding::RawBytes::new(msg.params.0.clone()),
        gas_limit: msg.gas_limit.unsigned_abs(),
        gas_fee_cap: msg.gas_fee_cap.clone(),
        gas_premium: msg.gas_premium.clone(),
    };
    let bytes = cbor::to_vec(&msg);

    let ours_enc = time(iterations, || cbor::to_vec(&msg));
    let ref_enc = time(iterations, || fvm_ipld_encoding::to_vec(&fvm_msg));
    let ours_dec = time(iterations, || cbor::from_slice::<Message>(&bytes));
    let ref_dec = time(iterations, || {
        fvm_ipld_encoding::from_slice::<fvm_shared::message::Message>(&bytes)
    });

    println!("message ({} bytes), per operation:", bytes.len());
    println!(
        "  encode  ours {:>8.0} ns  fvm_ipld_encoding {:>8.0} ns  ratio {:.2}x",
        ours_enc * 1e9,
        ref_enc * 1e9,
        ref_enc / ours_enc
    );
    println!(
        "  decode  ours {:>8.0} ns  fvm_ipld_encoding {:>8.0} ns  ratio {:.2}x",
        ours_dec * 1e9,
        ref_dec * 1e9,
        ref_dec / ours_dec
    );

    // A publish message of 8 signed proposals, as the deal publisher sends it.
    let mut params: PublishStorageDealsParams = testing::generate(&[1u8; 64]);
    params.deals = (0..8u8).map(|i| testing::generate(&[i; 600])).collect();
    let psd = cbor::to_vec(&params);
    let psd_dec = time(iterations / 10, || cbor::from_slice::<PublishStorageDealsParams>(&psd));
    println!(
        "publish params, 8 deals ({} bytes): decode {:.0} ns, {:.0} MB/s",
        psd.len(),
        psd_dec * 1e9,
        psd.len() as f64 / psd_dec / 1e6
    );
}
