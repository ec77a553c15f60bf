//! Every conference packet through the opaque packet and back.

use crate::conference::*;
use crate::conference::{direct, invite, lossy, message, online, rejoin};
use crate::packet::{MAX_CRYPTO_DATA_SIZE, Packet};
use proptest::prelude::*;
use toxide_core::testing::garbage;

fn arb_payload() -> impl Strategy<Value = ConferencePayload> {
    prop_oneof![
        invite::tests::arb().prop_map(ConferencePayload::Invite),
        online::tests::arb().prop_map(ConferencePayload::Online),
        direct::tests::arb().prop_map(ConferencePayload::Direct),
        message::tests::arb().prop_map(ConferencePayload::Message),
        rejoin::tests::arb().prop_map(ConferencePayload::Rejoin),
        lossy::tests::arb().prop_map(ConferencePayload::Lossy),
    ]
}

/// Whole packets, id first, from the layouts in the spec and
/// `group.c`.
#[test]
fn whole_packets_byte_by_byte() {
    let id = ConferenceId {
        conference_type: ConferenceType::Text,
        id: [0x77; 32],
    };
    let mut invite = vec![0x60, 0x00, 0x00, 0x05, 0x00];
    invite.extend_from_slice(&[0x77; 32]);
    let mut online = vec![0x61, 0x00, 0x05, 0x00];
    online.extend_from_slice(&[0x77; 32]);
    let mut rejoin = vec![0x64, 0x00];
    rejoin.extend_from_slice(&[0x77; 32]);
    let cases = [
        (
            ConferencePayload::Invite(InvitePacket::Invite(Invite {
                group_number: GroupNumber(5),
                id,
            })),
            invite,
        ),
        (
            ConferencePayload::Online(OnlinePacket {
                group_number: GroupNumber(5),
                id,
            }),
            online,
        ),
        (
            ConferencePayload::Direct(DirectPacket {
                group_number: GroupNumber(3),
                body: DirectBody::PeerQuery,
            }),
            vec![0x62, 0x00, 0x03, 0x08],
        ),
        (
            ConferencePayload::Message(MessagePacket {
                group_number: GroupNumber(3),
                peer_number: PeerNumber(0),
                message_number: 1,
                body: MessageBody::Message(ChatText::new("yo").unwrap()),
            }),
            b"\x63\x00\x03\x00\x00\x00\x00\x00\x01\x40yo".to_vec(),
        ),
        (ConferencePayload::Rejoin(RejoinPacket { id }), rejoin),
        (
            ConferencePayload::Lossy(
                LossyPacket::new(GroupNumber(3), PeerNumber(9), 2, 192, vec![1, 2]).unwrap(),
            ),
            vec![0xc7, 0x00, 0x03, 0x00, 0x09, 0x00, 0x02, 0xc0, 0x01, 0x02],
        ),
    ];
    for (payload, bytes) in cases {
        let packet = payload.to_packet();
        assert_eq!(packet.to_bytes(), bytes, "{payload:?}");
        let Ok(Packet::Conference(back)) = Packet::decode(&bytes) else {
            panic!("not a conference packet: {bytes:?}");
        };
        assert_eq!(ConferencePayload::from_packet(&back), Ok(payload));
    }
}

proptest! {
    #[test]
    fn round_trips_through_the_opaque_packet(payload in arb_payload()) {
        let bytes = payload.to_packet().to_bytes();
        prop_assert!(bytes.len() <= MAX_CRYPTO_DATA_SIZE);
        let Ok(Packet::Conference(packet)) = Packet::decode(&bytes) else {
            panic!("not a conference packet");
        };
        prop_assert_eq!(packet.kind(), payload.kind());
        prop_assert_eq!(ConferencePayload::from_packet(&packet), Ok(payload));
    }

    #[test]
    fn any_conference_packet_never_panics(
        id in proptest::sample::select(vec![96u8, 97, 98, 99, 100, 199]),
        tail in garbage(1400),
    ) {
        let mut bytes = vec![id];
        bytes.extend_from_slice(&tail);
        if let Ok(packet) = ConferencePacket::from_bytes(&bytes) {
            if let Ok(payload) = ConferencePayload::from_packet(&packet) {
                let again = payload.to_packet();
                prop_assert_eq!(ConferencePayload::from_packet(&again), Ok(payload));
            }
        }
    }
}
