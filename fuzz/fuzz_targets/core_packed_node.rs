#![no_main]
//! Packed nodes, single and as lists, decode without panicking and
//! re-encode to the bytes they came from.
use libfuzzer_sys::fuzz_target;
use toxide_core::packed_node::MAX_SENT_NODES;
use toxide_core::{Decode, Encode, PackedNode, Reader};

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = PackedNode::from_bytes(data) {
        // Mapped IPv6 is normalised, so only compare when it was not mapped.
        if node.to_bytes().len() == data.len() && data.first() != Some(&10) {
            assert_eq!(node.to_bytes(), data);
        }
    }
    let mut reader = Reader::new(data);
    let _ = PackedNode::decode_to_end(&mut reader, MAX_SENT_NODES);
    if let Some((&count, rest)) = data.split_first() {
        let mut reader = Reader::new(rest);
        let _ = reader.items::<PackedNode>("nodes", usize::from(count), MAX_SENT_NODES);
    }
});
