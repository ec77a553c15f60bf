//! The encrypted byte stream after the handshake (checklist R4; spec "TCP
//! server", encrypted packets; c-toxcore `write_packet_TCP_secure_connection`
//! and `read_packet_TCP_secure_connection` in `TCP_common.c`).
//!
//! Each frame is `[u16 length, big-endian][crypto_box(session key, nonce;
//! payload)]`; the length counts the box (payload + 16-byte MAC) and is at
//! most [`MAX_PACKET_SIZE`] = 2048. Each direction has its own nonce,
//! starting at the base nonce its sender announced in the handshake and
//! incremented (big-endian, over all 24 bytes, as c-toxcore's
//! `increment_nonce`) once per frame. A frame that announces more than
//! 2048 bytes or does not open is a connection error: the stream has lost
//! its place and nothing after it can be trusted.
//!
//! A zero length is skipped: c-toxcore's reader takes a zero length for
//! "nothing to read yet", consumes the two bytes and goes on with the next
//! length, so a stream with `[0, 0]` between frames stays in step there,
//! and here too.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;
use toxide_core::{CryptoError, Nonce, SharedKey};

use crate::constants::{FRAME_LENGTH_SIZE, MAX_FRAME_PAYLOAD, MAX_PACKET_SIZE};

/// Why the frame stream broke (every variant ends the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// A length field above [`MAX_PACKET_SIZE`].
    #[error("frame of {0} bytes exceeds {MAX_PACKET_SIZE}")]
    TooLong(usize),
    /// The box did not open (wrong key, wrong nonce, altered or short).
    #[error("frame did not open: {0}")]
    Open(#[from] CryptoError),
}

/// Why a payload could not be sealed into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SealError {
    /// The payload is empty or longer than [`MAX_FRAME_PAYLOAD`].
    #[error("payload of {0} bytes does not fit a frame (1..={MAX_FRAME_PAYLOAD})")]
    BadLength(usize),
}

/// One direction's sending half: the session key and the next nonce.
#[derive(Debug, Clone)]
pub struct FrameSealer {
    key: SharedKey,
    nonce: Nonce,
}

impl FrameSealer {
    /// A sealer whose first frame uses `base_nonce`.
    pub fn new(key: SharedKey, base_nonce: Nonce) -> Self {
        Self {
            key,
            nonce: base_nonce,
        }
    }

    /// The nonce the next frame will use.
    pub fn next_nonce(&self) -> Nonce {
        self.nonce
    }

    /// Appends one frame carrying `payload` to `out` and advances the
    /// nonce.
    pub fn seal_into(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<(), SealError> {
        if payload.is_empty() || payload.len() > MAX_FRAME_PAYLOAD {
            return Err(SealError::BadLength(payload.len()));
        }
        let sealed = self.key.encrypt(&self.nonce, payload);
        self.nonce.increment();
        let len = u16::try_from(sealed.len()).map_err(|_| SealError::BadLength(payload.len()))?;
        out.reserve(FRAME_LENGTH_SIZE + sealed.len());
        out.put_u16(len);
        out.put_slice(&sealed);
        Ok(())
    }

    /// One frame carrying `payload`.
    pub fn seal(&mut self, payload: &[u8]) -> Result<Bytes, SealError> {
        let mut out = BytesMut::new();
        self.seal_into(payload, &mut out)?;
        Ok(out.freeze())
    }
}

/// One direction's receiving half.
#[derive(Debug, Clone)]
pub struct FrameOpener {
    key: SharedKey,
    nonce: Nonce,
}

impl FrameOpener {
    /// An opener expecting its first frame under `base_nonce`.
    pub fn new(key: SharedKey, base_nonce: Nonce) -> Self {
        Self {
            key,
            nonce: base_nonce,
        }
    }

    /// The nonce the next frame must use.
    pub fn next_nonce(&self) -> Nonce {
        self.nonce
    }

    /// Takes the first complete frame off the front of `buf` and opens it.
    /// `Ok(None)` when `buf` holds no complete frame yet (what it holds is
    /// kept for the next call).
    pub fn open_next(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            let Some(header) = buf.get(..FRAME_LENGTH_SIZE) else {
                return Ok(None);
            };
            let len = usize::from(u16::from_be_bytes([
                header.first().copied().unwrap_or(0),
                header.get(1).copied().unwrap_or(0),
            ]));
            if len == 0 {
                buf.advance(FRAME_LENGTH_SIZE);
                continue;
            }
            if len > MAX_PACKET_SIZE {
                return Err(FrameError::TooLong(len));
            }
            let Some(sealed) = buf.get(FRAME_LENGTH_SIZE..FRAME_LENGTH_SIZE + len) else {
                return Ok(None);
            };
            let plain = self.key.decrypt(&self.nonce, sealed)?;
            self.nonce.increment();
            buf.advance(FRAME_LENGTH_SIZE + len);
            return Ok(Some(plain));
        }
    }
}

/// A byte-stream decoder: feed it whatever the socket returned, in any
/// pieces, and take whole frames out.
///
/// It buffers at most what it was given and has not yet returned; callers
/// that drain [`FrameDecoder::next_frame`] after every
/// [`FrameDecoder::push`] hold at most one partial frame (≤ 2050 bytes).
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: BytesMut,
    opener: FrameOpener,
    broken: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder around `opener`, starting with `leftover` bytes already
    /// read past the handshake.
    pub fn new(opener: FrameOpener, leftover: &[u8]) -> Self {
        Self {
            buf: BytesMut::from(leftover),
            opener,
            broken: None,
        }
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.broken.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next complete frame's plaintext. Once it has failed, it fails
    /// for good.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(err) = self.broken {
            return Err(err);
        }
        match self.opener.open_next(&mut self.buf) {
            Err(err) => {
                self.broken = Some(err);
                self.buf = BytesMut::new();
                Err(err)
            }
            ok => ok,
        }
    }

    /// Bytes held and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// The two halves a finished handshake yields.
#[derive(Debug, Clone)]
pub struct Channel {
    /// What we send.
    pub sealer: FrameSealer,
    /// What we receive.
    pub opener: FrameOpener,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use toxide_core::MAC_SIZE;
    use toxide_core::testing::{PEERS, garbage};

    fn pair(base: Nonce) -> (FrameSealer, FrameDecoder) {
        let p = &*PEERS;
        (
            FrameSealer::new(p.alice_bob.clone(), base),
            FrameDecoder::new(FrameOpener::new(p.bob_alice.clone(), base), &[]),
        )
    }

    fn drain(d: &mut FrameDecoder) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn frame_layout() {
        let (mut s, _) = pair(Nonce::default());
        let frame = s.seal(b"hello").unwrap();
        assert_eq!(frame.len(), 2 + 5 + MAC_SIZE);
        assert_eq!(&frame[..2], &[0, 21]);
        let mut expected = [0u8; 24];
        expected[23] = 1;
        assert_eq!(s.next_nonce(), Nonce::new(expected));
    }

    #[test]
    fn payload_size_limits() {
        let (mut s, mut d) = pair(Nonce::default());
        assert_eq!(s.seal(&[]), Err(SealError::BadLength(0)));
        assert_eq!(
            s.seal(&[0; MAX_FRAME_PAYLOAD + 1]),
            Err(SealError::BadLength(MAX_FRAME_PAYLOAD + 1))
        );
        // A refused payload does not use up a nonce.
        assert_eq!(s.next_nonce(), Nonce::default());
        let big = s.seal(&[7; MAX_FRAME_PAYLOAD]).unwrap();
        assert_eq!(&big[..2], &2048u16.to_be_bytes());
        d.push(&big);
        assert_eq!(drain(&mut d).unwrap(), vec![vec![7; MAX_FRAME_PAYLOAD]]);
    }

    #[test]
    fn oversized_length_is_a_connection_error() {
        let (_, mut d) = pair(Nonce::default());
        d.push(&2049u16.to_be_bytes());
        assert_eq!(d.next_frame(), Err(FrameError::TooLong(2049)));
        // And stays broken.
        d.push(&[0; 10]);
        assert_eq!(d.next_frame(), Err(FrameError::TooLong(2049)));
    }

    #[test]
    fn short_or_forged_frames_are_connection_errors() {
        for len in [1u16, 15, 16, 17, 100] {
            let (_, mut d) = pair(Nonce::default());
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend(std::iter::repeat_n(0, usize::from(len)));
            d.push(&bytes);
            assert!(matches!(d.next_frame(), Err(FrameError::Open(_))), "{len}");
        }
    }

    #[test]
    fn zero_lengths_are_skipped_like_ctoxcore() {
        let (mut s, mut d) = pair(Nonce::default());
        d.push(&[0, 0, 0, 0]);
        d.push(&s.seal(b"a").unwrap());
        d.push(&[0, 0]);
        d.push(&s.seal(b"b").unwrap());
        assert_eq!(drain(&mut d).unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn replayed_or_reordered_frames_fail() {
        let (mut s, mut d) = pair(Nonce::default());
        let first = s.seal(b"one").unwrap();
        let second = s.seal(b"two").unwrap();
        d.push(&second);
        assert!(d.next_frame().is_err());
        let (_, mut d) = pair(Nonce::default());
        d.push(&first);
        d.push(&first);
        assert_eq!(d.next_frame().unwrap(), Some(b"one".to_vec()));
        assert!(d.next_frame().is_err());
    }

    /// c-toxcore's `increment_nonce` adds one to the nonce read as a
    /// 24-byte big-endian number: the carry runs from the last byte
    /// towards the first. Frames sealed across such carries open only if
    /// both sides count the same way.
    #[test]
    fn nonces_carry_big_endian_across_frames() {
        for carry_bytes in [1usize, 2, 8, 23, 24] {
            let mut base = [0x11u8; 24];
            for b in base.iter_mut().rev().take(carry_bytes) {
                *b = 0xff;
            }
            let base = Nonce::new(base);
            let (mut s, mut d) = pair(base);
            let mut stream = Vec::new();
            for i in 0..3u8 {
                stream.extend_from_slice(&s.seal(&[i]).unwrap());
            }
            d.push(&stream);
            assert_eq!(drain(&mut d).unwrap(), vec![vec![0], vec![1], vec![2]]);
            let mut expected = *base.as_bytes();
            // base + 3 with the carry: the trailing 0xff bytes become
            // 0x00, 0x00, … and the byte before them gains one, then +2.
            for b in expected.iter_mut().rev().take(carry_bytes) {
                *b = 0;
            }
            if carry_bytes < 24 {
                expected[23 - carry_bytes] = 0x12;
            }
            expected[23] = 2;
            assert_eq!(s.next_nonce(), Nonce::new(expected), "{carry_bytes}");
            assert_eq!(d.opener.next_nonce(), Nonce::new(expected));
        }
        // A little-endian counter would open the first frame only.
        let mut le_base = [0u8; 24];
        le_base[0] = 0xff;
        let p = &*PEERS;
        let mut s = FrameSealer::new(p.alice_bob.clone(), Nonce::new(le_base));
        let _ = s.seal(b"x").unwrap();
        let mut le_next = le_base;
        le_next[0] = 0;
        le_next[1] = 1;
        let mut d = FrameDecoder::new(
            FrameOpener::new(p.bob_alice.clone(), Nonce::new(le_next)),
            &[],
        );
        d.push(&s.seal(b"y").unwrap());
        assert!(d.next_frame().is_err());
    }

    proptest! {
        /// Any stream of frames, cut into any pieces, decodes to the same
        /// payloads in order.
        #[test]
        fn framing_survives_arbitrary_splits(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 1..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let (mut s, mut d) = pair(Nonce::new([0xfe; 24]));
            let mut stream = Vec::new();
            for p in &payloads {
                stream.extend_from_slice(&s.seal(p).unwrap());
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let mut got = Vec::new();
            for w in points.windows(2) {
                d.push(&stream[w[0]..w[1]]);
                got.extend(drain(&mut d).unwrap());
            }
            prop_assert_eq!(got, payloads);
            prop_assert_eq!(d.buffered(), 0);
        }

        #[test]
        fn garbage_never_panics(bytes in garbage(3000)) {
            let (_, mut d) = pair(Nonce::default());
            d.push(&bytes);
            let _ = drain(&mut d);
        }
    }

    /// Every split of a two-frame stream into two pieces, and byte by byte.
    #[test]
    fn framing_survives_every_split_point() {
        let (mut s, _) = pair(Nonce::default());
        let mut stream = s.seal(b"first frame").unwrap().to_vec();
        stream.extend_from_slice(&s.seal(&[9; 40]).unwrap());
        for at in 0..=stream.len() {
            let (_, mut d) = pair(Nonce::default());
            d.push(&stream[..at]);
            let mut got = drain(&mut d).unwrap();
            d.push(&stream[at..]);
            got.extend(drain(&mut d).unwrap());
            assert_eq!(
                got,
                vec![b"first frame".to_vec(), vec![9; 40]],
                "split at {at}"
            );
        }
        let (_, mut d) = pair(Nonce::default());
        let mut got = Vec::new();
        for b in &stream {
            d.push(std::slice::from_ref(b));
            got.extend(drain(&mut d).unwrap());
        }
        assert_eq!(got.len(), 2);
    }
}
