//! The conferences section of a save file (state section 20): what a
//! member keeps to rejoin its conferences after a restart.
//!
//! Checklist G12 (and V8); spec "State Format", "Conferences (0x14)";
//! c-toxcore `save_conf`, `save_peer`, `conferences_save`, `load_group`
//! and `load_conferences_helper` in `group.c`.
//!
//! The body is the conferences back to back, with no count. Like all of
//! the save format, and unlike the wire, integers are **little-endian**.
//!
//! | bytes | conference                                                   |
//! |-------|--------------------------------------------------------------|
//! | 1     | type (0 text, 1 AV)                                          |
//! | 32    | id                                                           |
//! | 4     | message number to continue from                              |
//! | 2     | lossy message number to continue from                        |
//! | 2     | our peer number                                              |
//! | 4     | number of peers that follow                                  |
//! | 1     | title length, 0..=128 (0: no title)                          |
//! | n     | title                                                        |
//! |       | then each peer:                                              |
//! | 32    | long-term public key (`real_pk`)                             |
//! | 32    | DHT public key (`temp_pk`)                                   |
//! | 2     | peer number                                                  |
//! | 8     | last active, seconds (see [`SavedPeer::last_active`])        |
//! | 1     | name length, 0..=128                                         |
//! | n     | name                                                         |
//!
//! What c-toxcore writes: only conferences it is connected to (not one
//! still waiting for its peer list); every member, active or frozen,
//! except itself (its own number is in the header, its name and DHT key
//! are the profile's); and the message numbers *ahead* of the live ones
//! by [`SAVE_OFFSET_MESSAGE_NUMBER`] and
//! [`SAVE_OFFSET_LOSSY_MESSAGE_NUMBER`], so that messages sent after a
//! restart from an older save are not taken for ones already seen. The
//! spec calls the fields just "message number" and does not mention the
//! offset (SPEC≠CODE). On load, the numbers are taken as they are, and
//! every saved member starts frozen.
//!
//! What c-toxcore reads, and we with it: conferences while at least 46
//! bytes (`SAVED_CONF_SIZE_CONSTANT`) are left, so a shorter tail is
//! ignored (and not written back); a title or name over 128 bytes, or
//! fewer bytes than the title, the peer count or a name needs, fails the
//! whole section (`load_conferences` drops every conference, and
//! `tox_new` reports a bad format). No count is trusted: a peer needs 75
//! bytes before it is read. c-toxcore takes any type byte here; we refuse
//! one other than 0 and 1, which no c-toxcore creates.

use bytes::BufMut;
use toxide_core::{Decode, DecodeError, Encode, PUBLIC_KEY_SIZE, PublicKey, Reader};

use super::id::{ConferenceId, ConferenceType, GROUP_ID_LENGTH, PeerNumber};
use super::text::{PeerName, Title};
use crate::packet::MAX_NAME_LENGTH;

/// Size of a saved conference without title and peers
/// (`SAVED_CONF_SIZE_CONSTANT`): less than this left ends the section.
pub const SAVED_CONF_SIZE_CONSTANT: usize = 1 + GROUP_ID_LENGTH + 4 + 2 + 2 + 4 + 1;
/// Size of a saved peer without its name (`SAVED_PEER_SIZE_CONSTANT`).
pub const SAVED_PEER_SIZE_CONSTANT: usize = 2 * PUBLIC_KEY_SIZE + 2 + 8 + 1;
/// How far ahead of the live message number c-toxcore saves it
/// (`SAVE_OFFSET_MESSAGE_NUMBER`): the save stays valid for this many
/// more messages.
pub const SAVE_OFFSET_MESSAGE_NUMBER: u32 = 1 << 16;
/// How far ahead of the live lossy message number c-toxcore saves it
/// (`SAVE_OFFSET_LOSSY_MESSAGE_NUMBER`).
pub const SAVE_OFFSET_LOSSY_MESSAGE_NUMBER: u16 = 1 << 13;

/// Another member of a saved conference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SavedPeer {
    /// The member's long-term public key.
    pub real_pk: PublicKey,
    /// The member's DHT public key when last seen.
    pub temp_pk: PublicKey,
    /// The member's peer number.
    pub peer_number: PeerNumber,
    /// When the member was last heard from, in seconds of c-toxcore's
    /// monotonic clock. That clock starts at the Unix time of the process
    /// start (`mono_time_new`), so it reads as Unix seconds, drifting only
    /// as the wall clock moves. c-toxcore uses it to drop the longest
    /// silent frozen peers first.
    pub last_active: u64,
    /// The member's name.
    pub name: PeerName,
}

/// One saved conference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SavedConference {
    /// The conference.
    pub id: ConferenceId,
    /// The message number to continue from, as saved: c-toxcore writes its
    /// live number plus [`SAVE_OFFSET_MESSAGE_NUMBER`] (see
    /// [`saved_message_number`]) and loads it unchanged.
    pub message_number: u32,
    /// The lossy message number to continue from, as saved (live plus
    /// [`SAVE_OFFSET_LOSSY_MESSAGE_NUMBER`], see
    /// [`saved_lossy_message_number`]).
    pub lossy_message_number: u16,
    /// Our own peer number in the conference.
    pub peer_number: PeerNumber,
    /// The title, if one was set.
    pub title: Option<Title>,
    /// Every other member, active or frozen; all load as frozen.
    pub peers: Vec<SavedPeer>,
}

/// The message number to save for a live one, as `save_conf` computes it.
pub const fn saved_message_number(live: u32) -> u32 {
    live.wrapping_add(SAVE_OFFSET_MESSAGE_NUMBER)
}

/// The lossy message number to save for a live one, as `save_conf`
/// computes it.
pub const fn saved_lossy_message_number(live: u16) -> u16 {
    live.wrapping_add(SAVE_OFFSET_LOSSY_MESSAGE_NUMBER)
}

/// The body of state section 20: the saved conferences, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SavedConferences(pub Vec<SavedConference>);

fn u16_le(reader: &mut Reader<'_>, what: &'static str) -> Result<u16, DecodeError> {
    reader.array(what).map(u16::from_le_bytes)
}

fn u32_le(reader: &mut Reader<'_>, what: &'static str) -> Result<u32, DecodeError> {
    reader.array(what).map(u32::from_le_bytes)
}

/// A length byte and that many bytes, at most [`MAX_NAME_LENGTH`].
fn text<'a>(reader: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], DecodeError> {
    let len = usize::from(reader.u8(what)?);
    if len > MAX_NAME_LENGTH {
        return Err(DecodeError::InvalidValue {
            what,
            value: len as u64,
        });
    }
    reader.take(what, len)
}

impl Encode for SavedPeer {
    fn encode(&self, buf: &mut impl BufMut) {
        self.real_pk.encode(buf);
        self.temp_pk.encode(buf);
        buf.put_u16_le(self.peer_number.0);
        buf.put_u64_le(self.last_active);
        buf.put_u8(self.name.len_u8());
        buf.put_slice(self.name.as_bytes());
    }

    fn encoded_len(&self) -> usize {
        SAVED_PEER_SIZE_CONSTANT + self.name.len()
    }
}

impl Decode for SavedPeer {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            real_pk: PublicKey::decode(reader)?,
            temp_pk: PublicKey::decode(reader)?,
            peer_number: PeerNumber(u16_le(reader, "saved peer number")?),
            last_active: reader
                .array("saved peer last active")
                .map(u64::from_le_bytes)?,
            name: PeerName::read(text(reader, "saved peer name")?)?,
        })
    }
}

impl Encode for SavedConference {
    fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.id.conference_type.to_u8());
        buf.put_slice(&self.id.id);
        buf.put_u32_le(self.message_number);
        buf.put_u16_le(self.lossy_message_number);
        buf.put_u16_le(self.peer_number.0);
        buf.put_u32_le(u32::try_from(self.peers.len()).unwrap_or(u32::MAX));
        match &self.title {
            Some(title) => {
                buf.put_u8(title.len_u8());
                buf.put_slice(title.as_bytes());
            }
            None => buf.put_u8(0),
        }
        for peer in &self.peers {
            peer.encode(buf);
        }
    }

    fn encoded_len(&self) -> usize {
        SAVED_CONF_SIZE_CONSTANT
            + self.title.as_ref().map_or(0, Title::len)
            + self.peers.iter().map(Encode::encoded_len).sum::<usize>()
    }
}

impl Decode for SavedConference {
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const TYPE: &str = "saved conference type";
        let type_byte = reader.u8(TYPE)?;
        let conference_type =
            ConferenceType::from_u8(type_byte).ok_or(DecodeError::InvalidValue {
                what: TYPE,
                value: u64::from(type_byte),
            })?;
        let id = ConferenceId {
            conference_type,
            id: reader.array("saved conference id")?,
        };
        let message_number = u32_le(reader, "saved conference message number")?;
        let lossy_message_number = u16_le(reader, "saved conference lossy message number")?;
        let peer_number = PeerNumber(u16_le(reader, "saved conference peer number")?);
        let count = u32_le(reader, "saved conference peer count")?;
        let title = text(reader, "saved conference title")?;
        let title = if title.is_empty() {
            None
        } else {
            Some(Title::read(title)?)
        };
        // The count comes from the file: each peer must have its fixed
        // part present before it is read, and nothing is reserved beyond
        // what the bytes left could hold.
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let mut peers =
            Vec::with_capacity(count.min(reader.remaining() / SAVED_PEER_SIZE_CONSTANT));
        for _ in 0..count {
            if reader.remaining() < SAVED_PEER_SIZE_CONSTANT {
                return Err(DecodeError::Truncated {
                    what: "saved conference peer",
                    needed: SAVED_PEER_SIZE_CONSTANT,
                    available: reader.remaining(),
                });
            }
            peers.push(SavedPeer::decode(reader)?);
        }
        Ok(Self {
            id,
            message_number,
            lossy_message_number,
            peer_number,
            title,
            peers,
        })
    }
}

impl Encode for SavedConferences {
    fn encode(&self, buf: &mut impl BufMut) {
        for conference in &self.0 {
            conference.encode(buf);
        }
    }

    fn encoded_len(&self) -> usize {
        self.0.iter().map(Encode::encoded_len).sum()
    }
}

impl Decode for SavedConferences {
    /// Reads the whole section body (see the module documentation for
    /// what is ignored and what fails).
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut conferences = Vec::new();
        while reader.remaining() >= SAVED_CONF_SIZE_CONSTANT {
            conferences.push(SavedConference::decode(reader)?);
        }
        reader.rest();
        Ok(Self(conferences))
    }
}

#[cfg(test)]
mod tests {
    use super::super::id::tests::arb_id;
    use super::super::text::tests::{arb_name, arb_title};
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::{arb_pk, garbage};

    fn arb_peer() -> impl Strategy<Value = SavedPeer> {
        (arb_pk(), arb_pk(), any::<u16>(), any::<u64>(), arb_name()).prop_map(
            |(real_pk, temp_pk, n, last_active, name)| SavedPeer {
                real_pk,
                temp_pk,
                peer_number: PeerNumber(n),
                last_active,
                name,
            },
        )
    }

    fn arb_conference() -> impl Strategy<Value = SavedConference> {
        (
            arb_id(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
            proptest::option::of(arb_title()),
            proptest::collection::vec(arb_peer(), 0..5),
        )
            .prop_map(|(id, m, l, p, title, peers)| SavedConference {
                id,
                message_number: m,
                lossy_message_number: l,
                peer_number: PeerNumber(p),
                title,
                peers,
            })
    }

    /// A text conference titled "Hi" with one peer named "Al", laid out by
    /// hand from the table in the module documentation.
    fn fixture() -> Vec<u8> {
        let mut b = vec![0x00];
        b.extend_from_slice(&[0x11; 32]);
        b.extend_from_slice(&[0x00, 0x00, 0x01, 0x00]); // 65536, LE
        b.extend_from_slice(&[0x00, 0x20]); // 8192, LE
        b.extend_from_slice(&[0x34, 0x12]); // peer 0x1234, LE
        b.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // one peer
        b.extend_from_slice(&[0x02, b'H', b'i']);
        b.extend_from_slice(&[0xaa; 32]);
        b.extend_from_slice(&[0xdd; 32]);
        b.extend_from_slice(&[0x07, 0x00]); // peer 7
        b.extend_from_slice(&1_700_000_000u64.to_le_bytes());
        b.extend_from_slice(&[0x02, b'A', b'l']);
        b
    }

    fn fixture_value() -> SavedConference {
        SavedConference {
            id: ConferenceId {
                conference_type: ConferenceType::Text,
                id: [0x11; 32],
            },
            message_number: saved_message_number(0),
            lossy_message_number: saved_lossy_message_number(0),
            peer_number: PeerNumber(0x1234),
            title: Some(Title::new("Hi").unwrap()),
            peers: vec![SavedPeer {
                real_pk: PublicKey::new([0xaa; 32]),
                temp_pk: PublicKey::new([0xdd; 32]),
                peer_number: PeerNumber(7),
                last_active: 1_700_000_000,
                name: PeerName::new("Al").unwrap(),
            }],
        }
    }

    #[test]
    fn layout_byte_by_byte() {
        let bytes = fixture();
        assert_eq!(bytes.len(), 46 + 2 + 75 + 2);
        let expected = SavedConferences(vec![fixture_value()]);
        assert_eq!(SavedConferences::from_bytes(&bytes), Ok(expected.clone()));
        assert_eq!(expected.to_bytes(), bytes);

        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        let both = SavedConferences::from_bytes(&two).unwrap();
        assert_eq!(both.0.len(), 2);
        assert_eq!(both.to_bytes(), two);
        assert_eq!(
            SavedConferences::from_bytes(&[]),
            Ok(SavedConferences::default())
        );
    }

    #[test]
    fn no_title_and_no_peers() {
        let conference = SavedConference {
            title: None,
            peers: vec![],
            ..fixture_value()
        };
        let bytes = conference.to_bytes();
        assert_eq!(bytes.len(), SAVED_CONF_SIZE_CONSTANT);
        assert_eq!(bytes[41..45], [0, 0, 0, 0]);
        assert_eq!(bytes[45], 0);
        assert_eq!(
            SavedConferences::from_bytes(&bytes),
            Ok(SavedConferences(vec![conference]))
        );
    }

    #[test]
    fn a_short_tail_is_ignored_as_c_toxcore_does() {
        let mut bytes = fixture();
        bytes.extend_from_slice(&[0xff; 45]);
        assert_eq!(
            SavedConferences::from_bytes(&bytes),
            Ok(SavedConferences(vec![fixture_value()]))
        );
    }

    #[test]
    fn what_load_group_refuses_fails_the_section() {
        let good = fixture();
        let title_len_at = 45;
        let name_len_at = good.len() - 3;

        let mut long_title = good.clone();
        long_title[title_len_at] = 129;
        long_title.extend_from_slice(&[0; 200]);
        assert_eq!(
            SavedConferences::from_bytes(&long_title),
            Err(DecodeError::InvalidValue {
                what: "saved conference title",
                value: 129
            })
        );

        let mut long_name = good.clone();
        long_name[name_len_at] = 129;
        long_name.extend_from_slice(&[0; 200]);
        assert!(SavedConferences::from_bytes(&long_name).is_err());

        // A name running past the end.
        assert!(SavedConferences::from_bytes(&good[..good.len() - 1]).is_err());

        // More peers claimed than present, up to a forged 2^32 − 1.
        for count in [2u32, u32::MAX] {
            let mut more = good.clone();
            more[41..45].copy_from_slice(&count.to_le_bytes());
            assert_eq!(
                SavedConferences::from_bytes(&more),
                Err(DecodeError::Truncated {
                    what: "saved conference peer",
                    needed: 75,
                    available: 0
                })
            );
        }

        let mut unknown_type = good;
        unknown_type[0] = 2;
        assert!(SavedConferences::from_bytes(&unknown_type).is_err());
    }

    #[test]
    fn offsets_are_save_confs() {
        assert_eq!(saved_message_number(5), 65_541);
        assert_eq!(saved_message_number(u32::MAX), 65_535);
        assert_eq!(
            saved_lossy_message_number(65_000),
            65_000u16.wrapping_add(8192)
        );
    }

    proptest! {
        #[test]
        fn round_trips(conferences in proptest::collection::vec(arb_conference(), 0..4)) {
            let section = SavedConferences(conferences);
            let bytes = section.to_bytes();
            prop_assert_eq!(bytes.len(), section.encoded_len());
            let back = SavedConferences::from_bytes(&bytes).unwrap();
            prop_assert_eq!(back.to_bytes(), bytes);
            prop_assert_eq!(back, section);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(600)) {
            if let Ok(section) = SavedConferences::from_bytes(&bytes) {
                let again = section.to_bytes();
                prop_assert!(bytes.starts_with(&again));
                prop_assert!(bytes.len() - again.len() < SAVED_CONF_SIZE_CONSTANT);
                prop_assert_eq!(SavedConferences::from_bytes(&again), Ok(section));
            }
        }

        #[test]
        fn valid_prefixes_never_panic(
            conference in arb_conference(), cut in any::<prop::sample::Index>(),
        ) {
            let bytes = conference.to_bytes();
            let cut = cut.index(bytes.len() + 1);
            let _ = SavedConferences::from_bytes(&bytes[..cut]);
        }
    }
}
