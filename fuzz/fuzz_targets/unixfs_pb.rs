#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = (fuzz_targets::target("unixfs_pb").expect("a target").run)(data);
});
