//! The packet id at the start of every data payload, and what its value
//! means (checklist N8; c-toxcore `net_crypto.h`, `PACKET_ID_RANGE_*`).
//!
//! | ids       | meaning                                              |
//! |-----------|------------------------------------------------------|
//! | 0         | padding: skipped by the receiver (N7)                 |
//! | 1         | request: which lossless packets are missing (N10)     |
//! | 2         | kill: the peer closes the session (N12)               |
//! | 3–15      | reserved                                              |
//! | 16–159    | lossless, used by the messenger and conferences       |
//! | 160–191   | lossless, custom (clients' own protocols)             |
//! | 192–199   | lossy, audio/video                                    |
//! | 200–254   | lossy, custom                                         |
//! | 255       | reserved                                              |
//!
//! Whether a packet is lossy or lossless is decided by this byte alone:
//! there is no flag on the wire. Request and kill packets are sent
//! unnumbered like lossy ones (their second counter is the sender's
//! `buffer_end`), although their ids are below 192.

use std::ops::RangeInclusive;

/// Padding before the real id (`PACKET_ID_PADDING`).
pub const PACKET_ID_PADDING: u8 = 0;
/// A request for missing lossless packets (`PACKET_ID_REQUEST`).
pub const PACKET_ID_REQUEST: u8 = 1;
/// Closes the session at once (`PACKET_ID_KILL`).
pub const PACKET_ID_KILL: u8 = 2;

/// Reserved ids (`PACKET_ID_RANGE_RESERVED_START..=_END`); 0–2 above are
/// carved out of it.
pub const PACKET_ID_RANGE_RESERVED: RangeInclusive<u8> = 0..=15;
/// Every lossless id (`PACKET_ID_RANGE_LOSSLESS_START..=_END`).
pub const PACKET_ID_RANGE_LOSSLESS: RangeInclusive<u8> = 16..=191;
/// Lossless ids of toxcore's own protocols
/// (`PACKET_ID_RANGE_LOSSLESS_NORMAL_START..=_END`).
pub const PACKET_ID_RANGE_LOSSLESS_NORMAL: RangeInclusive<u8> = 16..=159;
/// Lossless ids left to clients (`PACKET_ID_RANGE_LOSSLESS_CUSTOM_START..=_END`).
pub const PACKET_ID_RANGE_LOSSLESS_CUSTOM: RangeInclusive<u8> = 160..=191;
/// Every lossy id a packet may carry (`PACKET_ID_RANGE_LOSSY_START..=_END`).
pub const PACKET_ID_RANGE_LOSSY: RangeInclusive<u8> = 192..=254;
/// Lossy audio/video ids (`PACKET_ID_RANGE_LOSSY_AV_START..=_END`).
pub const PACKET_ID_RANGE_LOSSY_AV: RangeInclusive<u8> = 192..=199;
/// Lossy ids left to clients (`PACKET_ID_RANGE_LOSSY_CUSTOM_START..=_END`).
pub const PACKET_ID_RANGE_LOSSY_CUSTOM: RangeInclusive<u8> = 200..=254;

/// What a data payload's first byte says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketIdKind {
    /// 0: padding, never a payload's id.
    Padding,
    /// 1: a request packet.
    Request,
    /// 2: a kill packet.
    Kill,
    /// 3–15 and 255: c-toxcore 0.2.18 drops such a packet
    /// (`handle_data_packet_core` matches none of its ranges).
    Reserved,
    /// 16–159: toxcore's own lossless packets (messages, files, …).
    Lossless,
    /// 160–191: clients' custom lossless packets.
    CustomLossless,
    /// 192–199: lossy audio/video.
    LossyAv,
    /// 200–254: clients' custom lossy packets.
    CustomLossy,
}

impl PacketIdKind {
    /// Classifies a packet id.
    pub const fn of(id: u8) -> Self {
        match id {
            PACKET_ID_PADDING => Self::Padding,
            PACKET_ID_REQUEST => Self::Request,
            PACKET_ID_KILL => Self::Kill,
            3..=15 | 255 => Self::Reserved,
            16..=159 => Self::Lossless,
            160..=191 => Self::CustomLossless,
            192..=199 => Self::LossyAv,
            200..=254 => Self::CustomLossy,
        }
    }

    /// Whether packets of this kind are numbered and delivered in order.
    pub const fn is_lossless(self) -> bool {
        matches!(self, Self::Lossless | Self::CustomLossless)
    }
}

/// Whether a packet with this id is lossy: `id >= 192` (checklist N8). 255
/// is on the lossy side of the line but reserved; [`PacketIdKind::of`]
/// names it so, and c-toxcore 0.2.18 drops it on receipt.
pub const fn is_lossy(id: u8) -> bool {
    id >= *PACKET_ID_RANGE_LOSSY.start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_has_the_checklist_kind() {
        for id in 0..=255u8 {
            let kind = PacketIdKind::of(id);
            let expected = match id {
                0 => PacketIdKind::Padding,
                1 => PacketIdKind::Request,
                2 => PacketIdKind::Kill,
                3..=15 | 255 => PacketIdKind::Reserved,
                16..=159 => PacketIdKind::Lossless,
                160..=191 => PacketIdKind::CustomLossless,
                192..=199 => PacketIdKind::LossyAv,
                _ => PacketIdKind::CustomLossy,
            };
            assert_eq!(kind, expected, "id {id}");
            assert_eq!(kind.is_lossless(), PACKET_ID_RANGE_LOSSLESS.contains(&id));
            assert_eq!(is_lossy(id), id >= 192);
            if PACKET_ID_RANGE_LOSSY.contains(&id) {
                assert!(is_lossy(id));
            }
        }
    }

    #[test]
    fn ranges_partition_as_ctoxcore() {
        assert_eq!(
            PACKET_ID_RANGE_LOSSLESS_NORMAL.end() + 1,
            *PACKET_ID_RANGE_LOSSLESS_CUSTOM.start()
        );
        assert_eq!(
            PACKET_ID_RANGE_LOSSY_AV.end() + 1,
            *PACKET_ID_RANGE_LOSSY_CUSTOM.start()
        );
        assert_eq!(
            PACKET_ID_RANGE_LOSSLESS.end() + 1,
            *PACKET_ID_RANGE_LOSSY.start()
        );
        assert_eq!(
            PACKET_ID_RANGE_RESERVED.end() + 1,
            *PACKET_ID_RANGE_LOSSLESS.start()
        );
        assert!(PACKET_ID_RANGE_RESERVED.contains(&PACKET_ID_KILL));
    }
}
