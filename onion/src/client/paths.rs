//! A client's set of onion paths (c-toxcore `Onion_Client_Paths`).
//!
//! Six path slots per purpose (announcing ourselves, searching for
//! friends). A path is used until it looks dead: a new path that got no
//! response within 4 s of four uses, a confirmed one within 10 s, or any
//! path older than 20 minutes. Each path has a number whose remainder mod 6
//! is its slot; responses name the number they came back on (through the
//! sendback), which both confirms the path and tells announce nodes which
//! path to keep using, since announce nodes bind our ping id to the exit's
//! address.

use std::time::Instant;

use toxide_core::{CryptoRng, KeyPair, PackedNode};

use super::timing::expired;
use crate::path::OnionPath;

/// Paths per set (`NUMBER_ONION_PATHS`).
pub(crate) const NUMBER_ONION_PATHS: u32 = 6;
/// Seconds a never-confirmed path may go unanswered (`ONION_PATH_FIRST_TIMEOUT`).
pub(crate) const PATH_FIRST_TIMEOUT: u64 = 4;
/// Seconds a confirmed path may go unanswered (`ONION_PATH_TIMEOUT`).
pub(crate) const PATH_TIMEOUT: u64 = 10;
/// Seconds a path lives at most (`ONION_PATH_MAX_LIFETIME`).
pub(crate) const PATH_MAX_LIFETIME: u64 = 1200;
/// Unanswered uses before the timeouts apply (`ONION_PATH_MAX_NO_RESPONSE_USES`).
pub(crate) const PATH_MAX_NO_RESPONSE_USES: u32 = 4;

#[derive(Debug)]
struct Slot {
    path: OnionPath,
    path_num: u32,
    created: Instant,
    last_success: Instant,
    last_used: Option<Instant>,
    used_times: u32,
}

impl Slot {
    fn timed_out(&self, now: Instant) -> bool {
        let timeout = if self.last_success == self.created {
            PATH_FIRST_TIMEOUT
        } else {
            PATH_TIMEOUT
        };
        (self.used_times >= PATH_MAX_NO_RESPONSE_USES && expired(self.last_used, timeout, now))
            || expired(Some(self.created), PATH_MAX_LIFETIME, now)
    }
}

/// A random path number whose remainder mod 6 is `index` (< 6). The
/// random part is reduced first so the sum cannot overflow, whatever the
/// draw (`random / 6 * 6 + index` did for the top 4 values of 2^32).
fn path_number(random: u32, index: u32) -> u32 {
    random % (u32::MAX / NUMBER_ONION_PATHS) * NUMBER_ONION_PATHS + index % NUMBER_ONION_PATHS
}

/// One purpose's paths.
#[derive(Debug, Default)]
pub struct PathSet {
    slots: [Option<Slot>; NUMBER_ONION_PATHS as usize],
}

impl PathSet {
    fn slot(&self, path_num: u32) -> Option<&Slot> {
        self.slots
            .get((path_num % NUMBER_ONION_PATHS) as usize)
            .and_then(Option::as_ref)
    }

    /// A path to use: slot `path_num % 6` if given, else a random one;
    /// rebuilt through `pick()` if that slot is empty or dead. Counts the
    /// use. `None` if a new path was needed and `pick` had no nodes.
    pub fn use_path<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        dht_keys: &KeyPair,
        path_num: Option<u32>,
        pick: impl FnOnce(&mut R) -> Option<[PackedNode; 3]>,
    ) -> Option<(u32, &OnionPath)> {
        let index = path_num.unwrap_or_else(|| rng.next_u32()) % NUMBER_ONION_PATHS;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.as_ref().is_none_or(|s| s.timed_out(now)) {
            let nodes = pick(rng)?;
            let number = path_number(rng.next_u32(), index);
            *slot = Some(Slot {
                path: OnionPath::new(rng, dht_keys, nodes).ok()?,
                path_num: number,
                created: now,
                last_success: now,
                last_used: None,
                used_times: PATH_MAX_NO_RESPONSE_USES / 2,
            });
        }
        let slot = slot.as_mut()?;
        if slot.used_times < PATH_MAX_NO_RESPONSE_USES {
            slot.last_used = Some(now);
        }
        slot.used_times = slot.used_times.saturating_add(1);
        Some((slot.path_num, &slot.path))
    }

    /// A response came back on `path_num`: the path works. Returns its
    /// relays (good path nodes) if the path is still the one in its slot.
    pub fn confirm(&mut self, now: Instant, path_num: u32) -> Option<[PackedNode; 3]> {
        let slot = self
            .slots
            .get_mut((path_num % NUMBER_ONION_PATHS) as usize)?
            .as_mut()
            .filter(|s| s.path_num == path_num)?;
        slot.last_success = now;
        slot.used_times = 0;
        Some(*slot.path.nodes())
    }

    /// Whether `path_num` is a live path.
    pub fn exists(&self, now: Instant, path_num: u32) -> bool {
        self.slot(path_num)
            .is_some_and(|s| s.path_num == path_num && !s.timed_out(now))
    }

    /// Whether the path in `path_num`'s slot has been up `secs` and is not
    /// going unanswered (c-toxcore's "stable" test for announce intervals).
    pub fn is_stable(&self, now: Instant, path_num: u32, secs: u64, unanswered_after: u64) -> bool {
        self.slot(path_num).is_some_and(|s| {
            expired(Some(s.created), secs, now)
                && !(s.used_times > 0 && expired(s.last_used, unanswered_after, now))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::time::Duration;
    use toxide_core::PublicKey;

    fn nodes() -> Option<[PackedNode; 3]> {
        let n = |i: u8| {
            PackedNode::udp(
                ([127, 0, 0, 1], 100 + u16::from(i)).into(),
                PublicKey::new([i; 32]),
            )
        };
        Some([n(1), n(2), n(3)])
    }

    #[test]
    fn unanswered_new_paths_die_after_four_seconds_and_four_uses() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let keys = KeyPair::generate(&mut rng);
        let mut set = PathSet::default();
        let t0 = Instant::now();
        let (first, _) = set
            .use_path(t0, &mut rng, &keys, Some(0), |_| nodes())
            .unwrap();
        assert_eq!(first % NUMBER_ONION_PATHS, 0);
        // Two more uses reach four unanswered uses; still alive within 4 s.
        for _ in 0..2 {
            let (n, _) = set
                .use_path(t0, &mut rng, &keys, Some(0), |_| nodes())
                .unwrap();
            assert_eq!(n, first);
        }
        assert!(set.exists(t0 + Duration::from_secs(3), first));
        assert!(!set.exists(t0 + Duration::from_secs(4), first));
        let (rebuilt, _) = set
            .use_path(
                t0 + Duration::from_secs(4),
                &mut rng,
                &keys,
                Some(0),
                |_| nodes(),
            )
            .unwrap();
        assert_ne!(rebuilt, first);
    }

    #[test]
    fn confirmed_paths_live_until_their_lifetime() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let keys = KeyPair::generate(&mut rng);
        let mut set = PathSet::default();
        let t0 = Instant::now();
        let (num, _) = set
            .use_path(t0, &mut rng, &keys, Some(3), |_| nodes())
            .unwrap();
        assert!(set.confirm(t0 + Duration::from_secs(1), num).is_some());
        assert!(
            set.confirm(t0, num ^ 0x100).is_none(),
            "another number is not this path"
        );
        assert!(set.exists(t0 + Duration::from_secs(1199), num));
        assert!(!set.exists(t0 + Duration::from_secs(1200), num));
    }

    #[test]
    fn path_numbers_keep_their_slot_and_never_overflow() {
        for random in [
            0,
            1,
            5,
            6,
            u32::MAX - 6,
            u32::MAX - 3,
            u32::MAX - 1,
            u32::MAX,
        ] {
            for index in 0..NUMBER_ONION_PATHS {
                assert_eq!(path_number(random, index) % NUMBER_ONION_PATHS, index);
            }
        }
    }

    #[test]
    fn no_nodes_no_path() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let keys = KeyPair::generate(&mut rng);
        let mut set = PathSet::default();
        assert!(
            set.use_path(Instant::now(), &mut rng, &keys, None, |_| None)
                .is_none()
        );
    }
}
