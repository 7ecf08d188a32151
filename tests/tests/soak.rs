//! The soak in the test suite: 500 offline deals proposed by droplet-client in one batch,
//! bulk-imported, published under a cap of 64 deals a message, sealed and Active on both
//! sides, every deal accounted for (`tests/src/soak.rs`; `cargo xtask soak` runs 10,000).

#[test]
fn five_hundred_deals_go_from_one_batch_to_active_each_published_once_under_the_cap() {
    let report = tests::soak::run_soak(500, 64, std::time::Duration::from_secs(5));
    report.print();
    assert!(report.publish_messages >= 500 / 64, "{report:?}");
}
