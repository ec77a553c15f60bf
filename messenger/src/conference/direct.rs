//! Direct conference packets (packet 98): said to one conference
//! connection, never relayed.
//!
//! Checklist G6; spec "Group" (peer introduced, peer query, peer response,
//! title response packets); c-toxcore `send_peer_introduced`,
//! `send_peer_query`, `send_peers`, `handle_send_peers` and
//! `handle_direct_packet` in `group.c`.
//!
//! After the packet id: `[receiver's group number 2][sub-id 1][body]`.
//!
//! | sub-id | name                         | body                                  |
//! |--------|------------------------------|---------------------------------------|
//! | 1      | peer introduced              | none                                  |
//! | 8      | peer query                   | none                                  |
//! | 9      | peer response                | [`PeerInfo`] entries, back to back    |
//! | 10     | title                        | the title, 1..=128 bytes              |
//!
//! A [`PeerInfo`] entry is `[peer number 2][real pk 32][temp (DHT) pk
//! 32][name length 1][name]`, 67 to 195 bytes. A joiner asks with a peer
//! query; the answer is as many peer responses as the list needs, each as
//! full as one packet allows ([`peer_responses`] splits a list the way
//! `send_peers` does), then the title if there is one. The joiner finds
//! itself in the list by its real key and learns its peer number from it.
//!
//! What c-toxcore's handlers accept, and we with them:
//! - Bytes after the sub-id of peer introduced and peer query are ignored.
//! - A peer response is read entry by entry while 67 bytes remain; fewer
//!   left over are ignored (we ignore them too, so such a packet
//!   re-encodes shorter). A name longer than what is left, or over 128
//!   bytes, stops c-toxcore's reading, with the entries before it (and
//!   that entry's keys) already added; we refuse the whole packet instead
//!   (no c-toxcore sender writes one).
//!   A response without a single entry does nothing there and is refused
//!   here. The spec allows names of `[0, 255]` bytes; c-toxcore refuses
//!   more than 128 (SPEC≠CODE).
//! - A title must be 1 to 128 bytes (`settitle`). c-toxcore passes the
//!   length through a `uint8_t`, so a 300-byte title would set its first
//!   44 bytes there; no sender produces one, and we refuse it.
//! - Unknown sub-ids are ignored by c-toxcore and refused here.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

use super::id::{GroupNumber, PeerNumber};
use super::text::{PeerName, Title};
use crate::packet::{MAX_CRYPTO_DATA_SIZE, MAX_NAME_LENGTH, PacketError, check_len};

/// Sub-id of [`DirectBody::PeerIntroduced`] (`PEER_INTRODUCED_ID`).
pub const PEER_INTRODUCED_ID: u8 = 1;
/// Sub-id of [`DirectBody::PeerQuery`] (`PEER_QUERY_ID`).
pub const PEER_QUERY_ID: u8 = 8;
/// Sub-id of [`DirectBody::PeerResponse`] (`PEER_RESPONSE_ID`).
pub const PEER_RESPONSE_ID: u8 = 9;
/// Sub-id of [`DirectBody::Title`] (`PEER_TITLE_ID`).
pub const PEER_TITLE_ID: u8 = 10;
/// Size of a [`PeerInfo`] with an empty name: what c-toxcore needs left
/// to read another entry.
pub const PEER_INFO_MIN_SIZE: usize = 2 + 2 * PUBLIC_KEY_SIZE + 1;
/// The most entry bytes one peer response holds: a data packet less the
/// packet id, group number and sub-id (`send_peers` sizes its buffer as
/// `MAX_CRYPTO_DATA_SIZE - (1 + sizeof(uint16_t))`, sub-id included).
pub const MAX_PEER_RESPONSE_DATA_LEN: usize = MAX_CRYPTO_DATA_SIZE - 1 - 2 - 1;

/// One member as a peer response lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerInfo {
    /// The member's peer number.
    pub peer_number: PeerNumber,
    /// The member's long-term public key (c-toxcore `real_pk`).
    pub real_pk: PublicKey,
    /// The member's DHT public key (c-toxcore `temp_pk`), so that peers
    /// connect without an onion search.
    pub temp_pk: PublicKey,
    /// The member's name, maybe empty.
    pub name: PeerName,
}

impl Encode for PeerInfo {
    fn encode(&self, buf: &mut impl BufMut) {
        self.peer_number.encode(buf);
        self.real_pk.encode(buf);
        self.temp_pk.encode(buf);
        buf.put_u8(self.name.len_u8());
        buf.put_slice(self.name.as_bytes());
    }

    fn encoded_len(&self) -> usize {
        PEER_INFO_MIN_SIZE + self.name.len()
    }
}

impl Decode for PeerInfo {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let peer_number = PeerNumber::decode(reader)?;
        let real_pk = PublicKey::decode(reader)?;
        let temp_pk = PublicKey::decode(reader)?;
        let len = usize::from(reader.u8("conference peer name length")?);
        if len > MAX_NAME_LENGTH {
            return Err(DecodeError::InvalidValue {
                what: "conference peer name length",
                value: len as u64,
            });
        }
        let name = PeerName::read(reader.take("conference peer name", len)?)?;
        Ok(Self {
            peer_number,
            real_pk,
            temp_pk,
            name,
        })
    }
}

/// The entries of one peer response: at least one, at most
/// [`MAX_PEER_RESPONSE_DATA_LEN`] bytes of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerResponse(Vec<PeerInfo>);

impl PeerResponse {
    /// One response listing `peers`; refuses an empty list and one that
    /// does not fit a packet (use [`peer_responses`] to split a long one).
    pub fn new(peers: Vec<PeerInfo>) -> Result<Self, PacketError> {
        let size = peers.iter().map(Encode::encoded_len).sum();
        check_len(
            "conference peer response",
            size,
            PEER_INFO_MIN_SIZE,
            MAX_PEER_RESPONSE_DATA_LEN,
        )?;
        Ok(Self(peers))
    }

    /// The entries, in the sender's order.
    pub fn peers(&self) -> &[PeerInfo] {
        &self.0
    }

    /// The entries, by value.
    pub fn into_peers(self) -> Vec<PeerInfo> {
        self.0
    }

    fn data_len(&self) -> usize {
        self.0.iter().map(Encode::encoded_len).sum()
    }
}

/// The peer responses that carry `peers` to a peer whose number for the
/// conference is `group_number`: as few as possible, filled in order, each
/// closed when the next entry would not fit, as c-toxcore's `send_peers`
/// does. No packet for an empty list.
pub fn peer_responses(group_number: GroupNumber, peers: &[PeerInfo]) -> Vec<DirectPacket> {
    let mut packets = Vec::new();
    let mut current: Vec<PeerInfo> = Vec::new();
    let mut size = 0;
    for peer in peers {
        let len = peer.encoded_len();
        if size + len > MAX_PEER_RESPONSE_DATA_LEN && !current.is_empty() {
            packets.push(DirectPacket {
                group_number,
                body: DirectBody::PeerResponse(PeerResponse(std::mem::take(&mut current))),
            });
            size = 0;
        }
        current.push(peer.clone());
        size += len;
    }
    if !current.is_empty() {
        packets.push(DirectPacket {
            group_number,
            body: DirectBody::PeerResponse(PeerResponse(current)),
        });
    }
    packets
}

/// What a direct packet says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DirectBody {
    /// 1: the receiver introduced us and we no longer need that connection
    /// kept for us.
    PeerIntroduced,
    /// 8: send me your peer list (and the title).
    PeerQuery,
    /// 9: part of the sender's peer list.
    PeerResponse(PeerResponse),
    /// 10: the conference title, sent after the peer list.
    Title(Title),
}

impl DirectBody {
    /// The sub-id.
    pub const fn sub_id(&self) -> u8 {
        match self {
            Self::PeerIntroduced => PEER_INTRODUCED_ID,
            Self::PeerQuery => PEER_QUERY_ID,
            Self::PeerResponse(_) => PEER_RESPONSE_ID,
            Self::Title(_) => PEER_TITLE_ID,
        }
    }
}

/// A direct conference packet (after the packet id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirectPacket {
    /// The receiver's number for the conference.
    pub group_number: GroupNumber,
    /// What it says.
    pub body: DirectBody,
}

impl Encode for DirectPacket {
    fn encode(&self, buf: &mut impl BufMut) {
        self.group_number.encode(buf);
        buf.put_u8(self.body.sub_id());
        match &self.body {
            DirectBody::PeerIntroduced | DirectBody::PeerQuery => {}
            DirectBody::PeerResponse(response) => {
                for peer in response.peers() {
                    peer.encode(buf);
                }
            }
            DirectBody::Title(title) => buf.put_slice(title.as_bytes()),
        }
    }

    fn encoded_len(&self) -> usize {
        3 + match &self.body {
            DirectBody::PeerIntroduced | DirectBody::PeerQuery => 0,
            DirectBody::PeerResponse(response) => response.data_len(),
            DirectBody::Title(title) => title.len(),
        }
    }
}

impl Decode for DirectPacket {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.expect_remaining("conference direct packet", 3, MAX_CRYPTO_DATA_SIZE - 1)?;
        let group_number = GroupNumber::decode(reader)?;
        let body = match reader.u8("conference direct sub-id")? {
            PEER_INTRODUCED_ID => {
                reader.rest();
                DirectBody::PeerIntroduced
            }
            PEER_QUERY_ID => {
                reader.rest();
                DirectBody::PeerQuery
            }
            PEER_RESPONSE_ID => {
                let mut peers = Vec::new();
                while reader.remaining() >= PEER_INFO_MIN_SIZE {
                    peers.push(PeerInfo::decode(reader)?);
                }
                reader.rest();
                if peers.is_empty() {
                    return Err(DecodeError::BadLength {
                        what: "conference peer response",
                        len: 0,
                        min: PEER_INFO_MIN_SIZE,
                        max: MAX_PEER_RESPONSE_DATA_LEN,
                    });
                }
                DirectBody::PeerResponse(PeerResponse(peers))
            }
            PEER_TITLE_ID => DirectBody::Title(Title::read(reader.rest())?),
            other => {
                return Err(DecodeError::InvalidValue {
                    what: "conference direct sub-id",
                    value: u64::from(other),
                });
            }
        };
        Ok(Self { group_number, body })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::text::tests::{arb_name, arb_title};
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::{arb_pk, garbage};

    pub(in super::super) fn arb_peer() -> impl Strategy<Value = PeerInfo> {
        (any::<u16>(), arb_pk(), arb_pk(), arb_name()).prop_map(|(n, real_pk, temp_pk, name)| {
            PeerInfo {
                peer_number: PeerNumber(n),
                real_pk,
                temp_pk,
                name,
            }
        })
    }

    pub(in super::super) fn arb() -> impl Strategy<Value = DirectPacket> {
        let body = prop_oneof![
            Just(DirectBody::PeerIntroduced),
            Just(DirectBody::PeerQuery),
            proptest::collection::vec(arb_peer(), 1..=7)
                .prop_map(|peers| DirectBody::PeerResponse(PeerResponse::new(peers).unwrap())),
            arb_title().prop_map(DirectBody::Title),
        ];
        (any::<u16>(), body).prop_map(|(g, body)| DirectPacket {
            group_number: GroupNumber(g),
            body,
        })
    }

    fn peer(n: u16, name: &str) -> PeerInfo {
        PeerInfo {
            peer_number: PeerNumber(n),
            real_pk: PublicKey::new([0xaa; 32]),
            temp_pk: PublicKey::new([0xdd; 32]),
            name: PeerName::new(name).unwrap(),
        }
    }

    #[test]
    fn introduced_and_query_bytes() {
        for (body, sub) in [(DirectBody::PeerIntroduced, 1), (DirectBody::PeerQuery, 8)] {
            let packet = DirectPacket {
                group_number: GroupNumber(0x0304),
                body,
            };
            assert_eq!(packet.to_bytes(), [0x03, 0x04, sub]);
            assert_eq!(
                DirectPacket::from_bytes(&[0x03, 0x04, sub]),
                Ok(packet.clone())
            );
            // c-toxcore looks at the sub-id only.
            assert_eq!(
                DirectPacket::from_bytes(&[0x03, 0x04, sub, 9, 9]),
                Ok(packet)
            );
        }
        assert!(DirectPacket::from_bytes(&[0, 1]).is_err());
        assert!(DirectPacket::from_bytes(&[0, 1, 2]).is_err());
    }

    #[test]
    fn peer_response_bytes() {
        let packet = DirectPacket {
            group_number: GroupNumber(2),
            body: DirectBody::PeerResponse(
                PeerResponse::new(vec![peer(0x1234, "Al"), peer(5, "")]).unwrap(),
            ),
        };
        let mut bytes = vec![0x00, 0x02, 0x09, 0x12, 0x34];
        bytes.extend_from_slice(&[0xaa; 32]);
        bytes.extend_from_slice(&[0xdd; 32]);
        bytes.extend_from_slice(&[2, b'A', b'l', 0x00, 0x05]);
        bytes.extend_from_slice(&[0xaa; 32]);
        bytes.extend_from_slice(&[0xdd; 32]);
        bytes.push(0);
        assert_eq!(packet.to_bytes(), bytes);
        assert_eq!(DirectPacket::from_bytes(&bytes), Ok(packet.clone()));

        // Fewer than 67 bytes left over are ignored.
        let mut tail = bytes.clone();
        tail.extend_from_slice(&[0; 66]);
        assert_eq!(DirectPacket::from_bytes(&tail), Ok(packet));
        // A name running past the end, or over 128, drops the packet.
        let short = &bytes[..3 + 69 - 1];
        assert!(DirectPacket::from_bytes(short).is_err());
        let mut long_name = vec![0, 2, 9];
        long_name.extend_from_slice(&[0; 66]);
        long_name.push(129);
        long_name.extend_from_slice(&[b'n'; 129]);
        assert!(DirectPacket::from_bytes(&long_name).is_err());
        // No entry at all.
        assert!(DirectPacket::from_bytes(&[0, 2, 9]).is_err());
        assert!(DirectPacket::from_bytes(&[0, 2, 9, 1, 2, 3]).is_err());
    }

    #[test]
    fn title_bytes_and_limits() {
        let packet = DirectPacket {
            group_number: GroupNumber(1),
            body: DirectBody::Title(Title::new("Tox").unwrap()),
        };
        assert_eq!(packet.to_bytes(), b"\x00\x01\x0aTox");
        assert_eq!(DirectPacket::from_bytes(b"\x00\x01\x0aTox"), Ok(packet));
        assert!(DirectPacket::from_bytes(b"\x00\x01\x0a").is_err());
        let mut long = vec![0, 1, 10];
        long.extend_from_slice(&[b't'; 129]);
        assert!(DirectPacket::from_bytes(&long).is_err());
        assert!(DirectPacket::from_bytes(&[0, 1, 11]).is_err());
    }

    #[test]
    fn responses_split_like_send_peers() {
        // 195-byte entries: 7 fit in 1369 bytes (1365), the 8th does not.
        let long = |n| peer(n, &"n".repeat(128));
        let peers: Vec<PeerInfo> = (0..20).map(long).collect();
        let packets = peer_responses(GroupNumber(9), &peers);
        let counts: Vec<usize> = packets
            .iter()
            .map(|p| match &p.body {
                DirectBody::PeerResponse(r) => r.peers().len(),
                _ => 0,
            })
            .collect();
        assert_eq!(counts, [7, 7, 6]);
        let mut again = Vec::new();
        for packet in &packets {
            let bytes = packet.to_bytes();
            assert!(bytes.len() < MAX_CRYPTO_DATA_SIZE);
            let DirectBody::PeerResponse(r) = DirectPacket::from_bytes(&bytes).unwrap().body else {
                panic!("a peer response");
            };
            again.extend(r.into_peers());
        }
        assert_eq!(again, peers);
        assert!(peer_responses(GroupNumber(0), &[]).is_empty());
        assert!(PeerResponse::new(vec![]).is_err());
        assert!(PeerResponse::new(peers[..8].to_vec()).is_err());
        assert!(PeerResponse::new(peers[..7].to_vec()).is_ok());
    }

    proptest! {
        #[test]
        fn round_trips(packet in arb()) {
            let bytes = packet.to_bytes();
            prop_assert_eq!(bytes.len(), packet.encoded_len());
            prop_assert_eq!(DirectPacket::from_bytes(&bytes), Ok(packet));
        }

        #[test]
        fn split_lists_fit_and_keep_order(
            peers in proptest::collection::vec(arb_peer(), 0..40),
        ) {
            let mut again = Vec::new();
            for packet in peer_responses(GroupNumber(1), &peers) {
                let bytes = packet.to_bytes();
                prop_assert!(bytes.len() < MAX_CRYPTO_DATA_SIZE);
                let decoded = DirectPacket::from_bytes(&bytes).unwrap();
                prop_assert_eq!(&decoded, &packet);
                if let DirectBody::PeerResponse(r) = decoded.body {
                    again.extend(r.into_peers());
                }
            }
            prop_assert_eq!(again, peers);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(1400)) {
            if let Ok(packet) = DirectPacket::from_bytes(&bytes) {
                prop_assert_eq!(DirectPacket::from_bytes(&packet.to_bytes()), Ok(packet));
            }
        }

        #[test]
        fn garbage_responses_never_panic(tail in garbage(1000)) {
            let mut bytes = vec![0, 0, PEER_RESPONSE_ID];
            bytes.extend_from_slice(&tail);
            if let Ok(packet) = DirectPacket::from_bytes(&bytes) {
                prop_assert_eq!(DirectPacket::from_bytes(&packet.to_bytes()), Ok(packet));
            }
        }
    }
}
