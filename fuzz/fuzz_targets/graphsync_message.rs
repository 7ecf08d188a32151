#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = (fuzz_targets::target("graphsync_message").expect("a target").run)(data);
});
