//! The crash matrix's fixed set: droplet and droplet-client each SIGKILLed early, half way and
//! late in an offline deal, an online deal and a paid retrieval, on one market; after each
//! restart the flow is driven to its end and the whole market checked (`tests/src/crash.rs`:
//! no deal lost, none published twice, nothing left reserved, both sides agreeing how every
//! deal ended, droplet's retrieval funds equal to its vouchers and to what the client paid).
//! `cargo xtask crash` runs the same trials at random, a hundred at a time.

use tests::crash::{Flow, Victim, run_cases};

#[test]
fn droplet_and_droplet_client_killed_at_fixed_points_of_storage_deals_and_retrievals_lose_nothing() {
    let mut cases = Vec::new();
    for victim in [Victim::Droplet, Victim::Client] {
        for flow in [Flow::Offline, Flow::Online, Flow::Retrieval] {
            for at in [0.03, 0.3, 0.9] {
                cases.push((victim, flow, at));
            }
        }
    }
    let report = run_cases(cases, 0);
    report.print();
    assert_eq!(report.trials.len(), 18);
    // Most kills land with the flow under way (a late one may find a fast retrieval over).
    let under_way = report.trials.iter().filter(|t| t.caught_under_way()).count();
    assert!(under_way >= 9, "only {under_way} of 18 kills caught a flow under way");
}
