//! Rebuilding a data packet's 24-byte nonce from the 16 bits on the wire
//! (checklist N6; spec "Net crypto", encrypted packets; c-toxcore
//! `handle_data_packet` with `get_nonce_uint16` and `increment_nonce_number`
//! in `net_crypto.c` / `crypto_core.c`).
//!
//! Each side counts its send nonce up from the base nonce it announced in
//! its handshake, one per data packet, as a 24-byte big-endian number. To
//! save 22 bytes per packet only the low 16 bits travel. The receiver keeps
//! a *saved* nonce, a lower bound for what the peer will use next (the
//! peer's base nonce at first), and reads the 16-bit field as an offset
//! `diff = field − low16(saved)` (mod 65536) from it: any packet sealed with
//! a nonce in `saved ..= saved + 65535` is recovered exactly, whatever order
//! packets arrive in. A packet from before `saved` maps to a nonce 65536
//! too high, fails its MAC and is dropped; nothing is accepted wrongly.
//!
//! The saved nonce must follow the sender or, once the sender is 65536
//! packets ahead, nothing decrypts any more. Jumping it straight to the
//! newest packet would make every slightly reordered packet just behind
//! that one undecryptable, so it moves in steps of a third of the window
//! ([`DATA_NUM_THRESHOLD`] = 21845), and only when a packet shows the sender
//! more than two thirds ahead (`diff > 43690`): afterwards that packet is
//! still a third ahead of the window's start, so packets up to a third of
//! the window behind it still open, and a third of the window stays free
//! ahead. One step per packet: a burst far ahead moves the window a bit with
//! each packet rather than all at once.
//!
//! The 16-bit field is not authenticated by itself, so the step is taken
//! only after the packet opened under the rebuilt nonce
//! ([`advance_saved_nonce`] is separate from [`receive_nonce`] for this):
//! otherwise a forged field could push the window past the real sender and
//! cut the session.

use toxide_core::Nonce;

use super::DATA_NUM_THRESHOLD;

/// The low 16 bits of a nonce read as a big-endian number: what a data
/// packet carries of its nonce (`get_nonce_uint16`).
pub fn nonce_low16(nonce: &Nonce) -> u16 {
    let [.., hi, lo] = *nonce.as_bytes();
    u16::from_be_bytes([hi, lo])
}

/// The nonce to try for a data packet, and how far ahead of the saved
/// nonce it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveNonce {
    /// `saved + diff`: the nonce the packet was sealed with, if it is
    /// genuine and within the window.
    pub nonce: Nonce,
    /// `(field − low16(saved)) mod 65536`; pass it to
    /// [`advance_saved_nonce`] once the packet has opened.
    pub diff: u16,
}

/// Rebuilds the nonce of a data packet whose 16-bit nonce field is `field`,
/// given the saved receive nonce (checklist N6).
pub fn receive_nonce(saved: &Nonce, field: u16) -> ReceiveNonce {
    let diff = field.wrapping_sub(nonce_low16(saved));
    ReceiveNonce {
        nonce: saved.plus(u32::from(diff)),
        diff,
    }
}

/// After a packet opened under [`receive_nonce`]'s nonce: moves the saved
/// nonce forward by [`DATA_NUM_THRESHOLD`] if the packet was more than two
/// thirds of the 16-bit window ahead (`diff > 2 × DATA_NUM_THRESHOLD`),
/// otherwise leaves it. Never call it for a packet that did not open.
pub fn advance_saved_nonce(saved: &mut Nonce, diff: u16) {
    if u32::from(diff) > 2 * u32::from(DATA_NUM_THRESHOLD) {
        saved.increment_by(u32::from(DATA_NUM_THRESHOLD));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::testing::arb_nonce;

    fn nonce_ending(tail: &[u8]) -> Nonce {
        let mut bytes = [0u8; 24];
        bytes[24 - tail.len()..].copy_from_slice(tail);
        Nonce::new(bytes)
    }

    #[test]
    fn low16_is_the_last_two_bytes_big_endian() {
        assert_eq!(nonce_low16(&nonce_ending(&[9, 0x12, 0x34])), 0x1234);
    }

    #[test]
    fn field_wraps_past_the_saved_low_bits() {
        // Saved ends in 0xfff0; the sender has wrapped its low 16 bits.
        let saved = nonce_ending(&[0x05, 0xff, 0xf0]);
        let got = receive_nonce(&saved, 0x0005);
        assert_eq!(got.diff, 0x15);
        assert_eq!(got.nonce, nonce_ending(&[0x06, 0x00, 0x05]));
        // The same field as saved: the saved nonce itself.
        assert_eq!(receive_nonce(&saved, 0xfff0).nonce, saved);
    }

    #[test]
    fn the_window_moves_only_past_two_thirds() {
        let base = nonce_ending(&[1, 0, 0]);
        let mut saved = base;
        advance_saved_nonce(&mut saved, 43690);
        assert_eq!(saved, base, "exactly two thirds does not move it");
        advance_saved_nonce(&mut saved, 43691);
        assert_eq!(saved, base.plus(21845));
        advance_saved_nonce(&mut saved, 0);
        assert_eq!(saved, base.plus(21845));
    }

    #[test]
    fn a_long_in_order_stream_always_decodes() {
        // A sender counting up from its base nonce, the receiver following
        // with the saved nonce, well past several 16-bit wraps.
        let base = nonce_ending(&[0xff, 0xff, 0xff, 0xf0, 0x00]);
        let mut saved = base;
        let mut sent = base;
        for _ in 0..200_000u32 {
            let got = receive_nonce(&saved, nonce_low16(&sent));
            assert_eq!(got.nonce, sent);
            advance_saved_nonce(&mut saved, got.diff);
            sent.increment();
        }
    }

    proptest! {
        /// Whatever is in the window `saved ..= saved + 65535` is rebuilt
        /// exactly from its low 16 bits.
        #[test]
        fn the_window_is_recovered(saved in arb_nonce(), ahead in 0u32..65536) {
            let sent = saved.plus(ahead);
            let got = receive_nonce(&saved, nonce_low16(&sent));
            prop_assert_eq!(got.nonce, sent);
            prop_assert_eq!(u32::from(got.diff), ahead);
        }

        /// After a step the packet that caused it is still inside the new
        /// window, so it and its neighbours keep opening.
        #[test]
        fn stepping_keeps_the_newest_packet_inside(saved in arb_nonce(), ahead in 43691u32..65536) {
            let sent = saved.plus(ahead);
            let mut moved = saved;
            advance_saved_nonce(&mut moved, ahead as u16);
            prop_assert_eq!(moved, saved.plus(21845));
            prop_assert_eq!(receive_nonce(&moved, nonce_low16(&sent)).nonce, sent);
        }
    }
}
