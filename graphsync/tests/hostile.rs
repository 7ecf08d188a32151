//! Outside input never panics and never sizes an allocation by itself: arbitrary bytes as
//! frames, blocks of every codec, selectors; and arbitrary selectors walked over a real DAG
//! stay within the DAG and the link budget.

use bytes::Bytes;
use graphsync::ipld::{codec, decode, decode_dag_cbor, decode_dag_pb};
use graphsync::selector::build::{self, Spec};
use graphsync::testing::dag::DagBuilder;
use graphsync::walk::{Step, Walk};
use graphsync::{Message, Selector};
use multihash_codetable::{Code, MultihashDigest};
use proptest::prelude::*;

fn any_spec() -> impl Strategy<Value = Spec> {
    let leaf = prop_oneof![
        Just(Spec::Matcher),
        Just(build::all()),
        (0i64..8).prop_map(build::depth)
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|s| Spec::All(Box::new(s))),
            ("[a-zA-Z0-9]{1,6}", inner.clone()).prop_map(|(k, s)| Spec::Fields(vec![(k, s)])),
            (
                prop_oneof![
                    Just("Links".to_string()),
                    Just("Hash".to_string()),
                    Just("k000".to_string())
                ],
                inner.clone()
            )
                .prop_map(|(k, s)| Spec::Fields(vec![(k, s)])),
            (-2i64..6, inner.clone()).prop_map(|(i, s)| Spec::Index(i, Box::new(s))),
            (-2i64..4, 1i64..1000, inner.clone()).prop_map(|(a, n, s)| Spec::Range(a, a + n, Box::new(s))),
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Spec::Union),
            (proptest::option::of(0i64..6), inner).prop_map(|(limit, s)| Spec::Recursive {
                limit,
                sequence: Box::new(Spec::Union(vec![s, Spec::All(Box::new(Spec::Edge))])),
                stop_at: None,
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let b = Bytes::from(data.clone());
        let _ = Message::from_frame(&data);
        let _ = Message::from_body(b.clone());
        let _ = decode_dag_pb(&b);
        let _ = decode_dag_cbor(&b);
        let _ = Selector::from_cbor(&data);
        for c in [codec::RAW, codec::DAG_PB, codec::DAG_CBOR, 0x0129] {
            let cid = graphsync::block_cid(&cid::Cid::new_v1(c, Code::Sha2_256.digest(&data)));
            let _ = decode(&cid, &b);
        }
    }

    #[test]
    fn arbitrary_selectors_walk_only_the_dag_within_the_budget(spec in any_spec()) {
        let mut b = DagBuilder::new(5);
        let root = b.mixed(2, 40 << 10);
        let dag = b.finish(root);
        let Ok(sel) = Selector::from_cbor(spec.to_cbor().as_bytes()) else { return Ok(()); };
        let mut walk = Walk::new(dag.root, sel, 10_000);
        let mut loads = 0u64;
        while let Ok(Step::Load(link)) = walk.step() {
            prop_assert!(dag.blocks.contains_key(&link), "{link} is not in the DAG");
            loads += 1;
            if walk.loaded(dag.blocks.get(&link)).is_err() {
                break;
            }
        }
        prop_assert!(loads <= 10_000);
    }
}
