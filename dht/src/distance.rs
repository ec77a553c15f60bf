//! Kademlia distance between keys: the XOR of their bytes, compared as a
//! big-endian number (spec "Distance").

use std::cmp::Ordering;

use toxide_core::PublicKey;

/// Which of `a` and `b` is closer to `base`.
pub fn compare(base: &PublicKey, a: &PublicKey, b: &PublicKey) -> Ordering {
    for ((x, y), z) in base.as_bytes().iter().zip(a.as_bytes()).zip(b.as_bytes()) {
        let da = x ^ y;
        let db = x ^ z;
        if da != db {
            return da.cmp(&db);
        }
    }
    Ordering::Equal
}

/// Puts `item` in place of the element of `list` farthest from `target`
/// if `item` is closer; whether it did. This is how every full list of
/// nodes (search lists, the onion's announce store) keeps the closest.
pub fn replace_farthest<T>(
    list: &mut [T],
    item: T,
    target: &PublicKey,
    key: impl Fn(&T) -> &PublicKey,
) -> bool {
    let farthest = list
        .iter_mut()
        .max_by(|a, b| compare(target, key(a), key(b)));
    match farthest {
        Some(slot) if compare(target, key(&item), key(slot)).is_lt() => {
            *slot = item;
            true
        }
        _ => false,
    }
}

/// The number of leading bits `a` and `b` share, which is the close-list
/// bucket a key falls into (c-toxcore `bit_by_bit_cmp`), capped so every key
/// has a bucket.
pub fn bucket_index(own: &PublicKey, other: &PublicKey, buckets: usize) -> usize {
    let mut bits = 0usize;
    for (x, y) in own.as_bytes().iter().zip(other.as_bytes()) {
        let diff = x ^ y;
        if diff != 0 {
            bits += diff.leading_zeros() as usize;
            break;
        }
        bits += 8;
    }
    bits.min(buckets.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    use toxide_core::testing::key_first as key;

    #[test]
    fn xor_ordering() {
        let base = key(0b1000_0000);
        assert_eq!(
            compare(&base, &key(0b1000_0001), &key(0b0000_0000)),
            Ordering::Less
        );
        assert_eq!(
            compare(&base, &key(0b0100_0000), &key(0b1100_0000)),
            Ordering::Greater
        );
        assert_eq!(compare(&base, &key(7), &key(7)), Ordering::Equal);
    }

    #[test]
    fn buckets_count_shared_prefix_bits() {
        let own = key(0b1010_0000);
        assert_eq!(bucket_index(&own, &key(0b0010_0000), 128), 0);
        assert_eq!(bucket_index(&own, &key(0b1011_0000), 128), 3);
        assert_eq!(
            bucket_index(&own, &own, 128),
            127,
            "identical keys use the last bucket"
        );
    }
}
