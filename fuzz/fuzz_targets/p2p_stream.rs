#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = (fuzz_targets::target("p2p_stream").expect("a target").run)(data);
});
