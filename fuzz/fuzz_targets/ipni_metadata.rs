#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = (fuzz_targets::target("ipni_metadata").expect("a target").run)(data);
});
