#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = (fuzz_targets::target("split_manifest").expect("a target").run)(data);
});
