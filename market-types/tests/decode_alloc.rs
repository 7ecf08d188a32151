//! Decoders never allocate more than the input justifies: the peak heap growth while decoding
//! any input stays within a fixed multiple of the input's length (plus a small constant).
//! Inputs are arbitrary bytes and hostile headers that claim huge lengths.

// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use market_types::cbor::{self, Decode};
use market_types::testing;
use proptest::prelude::*;

struct Counting;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = CURRENT.try_with(|c| {
            let now = c.get() + layout.size();
            c.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes of heap a decode may use per input byte, and a constant allowance.
const PER_INPUT_BYTE: usize = 64;
const CONSTANT: usize = 16 * 1024;

fn peak_while<T>(f: impl FnOnce() -> T) -> usize {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    drop(out);
    peak
}

fn bounded<T: Decode>(input: &[u8]) {
    let peak = peak_while(|| cbor::from_slice::<T>(input));
    assert!(
        peak <= input.len() * PER_INPUT_BYTE + CONSTANT,
        "{}: {peak} bytes allocated for a {}-byte input",
        std::any::type_name::<T>(),
        input.len()
    );
}

/// Every wire type, plus arrays of the smallest large-in-memory items.
fn all_types(input: &[u8]) {
    for t in testing::WIRE_TYPES {
        let peak = peak_while(|| (t.decode)(input));
        assert!(
            peak <= input.len() * PER_INPUT_BYTE + CONSTANT,
            "{}: {peak} bytes allocated for a {}-byte input",
            t.name,
            input.len()
        );
    }
    bounded::<Vec<market_types::Cid>>(input);
    bounded::<Vec<market_types::Address>>(input);
}

#[test]
fn the_counter_sees_allocations() {
    // A 4000-byte byte string decodes into a 4000-byte buffer: the counter must see it,
    // or every bound below would pass vacuously.
    let mut input = vec![0x59, 0x0f, 0xa0];
    input.extend([7u8; 4000]);
    let peak = peak_while(|| cbor::from_slice::<market_types::Bytes>(&input));
    assert!(peak >= 4000, "counter saw only {peak} bytes");
}

#[test]
fn hostile_length_claims_allocate_nothing_big() {
    let claims: [&[u8]; 8] = [
        &[0x9a, 0x7f, 0xff, 0xff, 0xff],             // array of 2^31 elements
        &[0x99, 0x20, 0x00, 0x81, 0x81, 0x81],       // array of 8192 elements, three present
        &[0x5a, 0x00, 0x1f, 0xff, 0xff, 0x00],       // 2 MiB byte string, one byte present
        &[0x7a, 0x00, 0x00, 0x20, 0x00, 0x61],       // 8192-byte text, one byte present
        &[0xba, 0x7f, 0xff, 0xff, 0xff, 0x61, 0x61], // map of 2^31 entries
        &[0x81, 0x99, 0x1f, 0xff, 0x8b, 0xd8, 0x2a], // PSD params claiming 8191 proposals
        &[0xa1, 0x61, 0x61, 0x99, 0x1f, 0xff, 0x80], // unknown key holding a huge array
        &[0x82, 0x99, 0x1f, 0xff, 0x00, 0x40],       // PSD return claiming 8191 IDs
    ];
    for input in claims {
        all_types(input);
    }
}

#[test]
fn many_small_elements_stay_linear() {
    // 8000 one-byte elements: the largest legitimate array of tiny items.
    let mut input = vec![0x99, 0x1f, 0x40];
    input.extend(std::iter::repeat_n(0x00, 8000));
    all_types(&input);
    // 2000 identity CIDs of 8 bytes each.
    let mut cids = vec![0x99, 0x07, 0xd0];
    for _ in 0..2000 {
        cids.extend([0xd8, 0x2a, 0x45, 0x00, 0x01, 0x55, 0x00, 0x00]);
    }
    bounded::<Vec<market_types::Cid>>(&cids);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_inputs_stay_within_the_bound(input in prop::collection::vec(any::<u8>(), 0..256)) {
        all_types(&input);
    }
}
