//! Sizes and timers of the c-toxcore 0.2.18 onion (`onion.h`,
//! `onion_announce.h`, `onion_client.h`), in one place so the packet types,
//! the relay and the announce service agree on them.

use toxide_core::ip_port::IP_PORT_SIZE;
use toxide_core::{MAC_SIZE, NONCE_SIZE, PUBLIC_KEY_SIZE};

/// The largest onion datagram any hop sends or accepts.
pub const ONION_MAX_PACKET_SIZE: usize = 1400;

/// A return-path layer: `[nonce][secretbox(IP_Port + previous layer)]`.
/// Added by hop A (`ONION_RETURN_1`).
pub const RETURN_1_SIZE: usize = NONCE_SIZE + IP_PORT_SIZE + MAC_SIZE;
/// Added by hop B around hop A's (`ONION_RETURN_2`).
pub const RETURN_2_SIZE: usize = NONCE_SIZE + IP_PORT_SIZE + MAC_SIZE + RETURN_1_SIZE;
/// Added by hop C around hop B's (`ONION_RETURN_3`).
pub const RETURN_3_SIZE: usize = NONCE_SIZE + IP_PORT_SIZE + MAC_SIZE + RETURN_2_SIZE;

/// One request layer's overhead: next hop, temporary key, MAC.
const SEND_BASE: usize = PUBLIC_KEY_SIZE + IP_PORT_SIZE + MAC_SIZE;
/// Overhead of the packet hop C receives, beyond its id (`ONION_SEND_3`).
pub(crate) const SEND_3: usize = NONCE_SIZE + SEND_BASE + RETURN_2_SIZE;
/// Overhead of the packet hop B receives (`ONION_SEND_2`).
pub(crate) const SEND_2: usize = NONCE_SIZE + SEND_BASE * 2 + RETURN_1_SIZE;
/// Overhead of the packet hop A receives (`ONION_SEND_1`).
pub(crate) const SEND_1: usize = NONCE_SIZE + SEND_BASE * 3;

/// The largest payload a client can send through a path
/// (`ONION_MAX_DATA_SIZE`, 1174).
pub const ONION_MAX_DATA_SIZE: usize = ONION_MAX_PACKET_SIZE - (SEND_1 + 1);
/// The largest response an exit can send back (`ONION_RESPONSE_MAX_DATA_SIZE`,
/// 1222).
pub const ONION_RESPONSE_MAX_DATA_SIZE: usize = ONION_MAX_PACKET_SIZE - (1 + RETURN_3_SIZE);

/// Seconds between changes of a relay's return-path key
/// (`KEY_REFRESH_INTERVAL`, 2 h; **SPEC≠CODE**: the spec says 1 h). A path
/// older than this stops returning responses, which is what makes paths
/// expire.
pub const RETURN_KEY_REFRESH_SECS: u64 = 2 * 60 * 60;

/// Announce entries a node stores (`ONION_ANNOUNCE_MAX_ENTRIES`).
pub const ANNOUNCE_MAX_ENTRIES: usize = 160;
/// Seconds an announce entry lives, and the ping-id window
/// (`ONION_ANNOUNCE_TIMEOUT`).
pub const ANNOUNCE_TIMEOUT_SECS: u64 = 300;
/// Size of a ping id (`ONION_PING_ID_SIZE`).
pub const PING_ID_SIZE: usize = toxide_core::TIMED_AUTH_SIZE;
/// Nodes in an announce response (`MAX_SENT_NODES`).
pub const ANNOUNCE_MAX_NODES: usize = 4;
