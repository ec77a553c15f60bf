//! The framing of a save file: a header, then typed sections (checklist
//! V1, V2, V9, V10; spec "State Format"; c-toxcore `state.c`, `tox_load`).
//!
//! | bytes  | field                                                      |
//! |--------|------------------------------------------------------------|
//! | 4      | zero                                                       |
//! | 4      | `STATE_COOKIE_GLOBAL` 0x15ed1b1f, little-endian            |
//! |        | then sections, each:                                       |
//! | 4      | body length, little-endian                                 |
//! | 2      | section type, little-endian                                |
//! | 2      | `STATE_COOKIE_TYPE` 0x01ce, little-endian                  |
//! | length | body                                                       |
//!
//! Unlike the wire, the framing is little-endian. Reading follows
//! `state_load`: a section longer than what is left or with another cookie
//! fails the whole load; the end-of-file section (type 255) must be empty
//! and ends the load, whatever follows it (`tox_get_savedata` writes zero
//! padding there: it sizes its buffer for eight relays and eight path
//! nodes and writes fewer); without one, the data must end on a section
//! boundary.

use bytes::BufMut;

use super::error::SaveError;

/// The second word of the header, little-endian (`STATE_COOKIE_GLOBAL`).
pub const STATE_COOKIE_GLOBAL: u32 = 0x15ed_1b1f;
/// Every section header's cookie (`STATE_COOKIE_TYPE`).
pub const STATE_COOKIE_TYPE: u16 = 0x01ce;
/// Size of the file header (a zero word and the global cookie).
pub const HEADER_SIZE: usize = 8;
/// Size of a section header: length, type, cookie.
pub const SECTION_HEADER_SIZE: usize = 8;

/// Section 1: nospam and the long-term key pair.
pub const SECTION_NOSPAM_KEYS: u16 = 1;
/// Section 2: the DHT's node list.
pub const SECTION_DHT: u16 = 2;
/// Section 3: the friend list.
pub const SECTION_FRIENDS: u16 = 3;
/// Section 4: our name.
pub const SECTION_NAME: u16 = 4;
/// Section 5: our status message.
pub const SECTION_STATUS_MESSAGE: u16 = 5;
/// Section 6: our user status.
pub const SECTION_STATUS: u16 = 6;
/// Section 10: TCP relays to reconnect through.
pub const SECTION_TCP_RELAYS: u16 = 10;
/// Section 11: nodes for onion paths.
pub const SECTION_PATH_NODES: u16 = 11;
/// Section 20: conferences.
pub const SECTION_CONFERENCES: u16 = 20;
/// Section 255: the end; empty.
pub const SECTION_EOF: u16 = 255;

/// One section as found in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Section<'a> {
    /// The section type.
    pub(super) kind: u16,
    /// The body, exactly as long as the header said.
    pub(super) body: &'a [u8],
}

/// Splits a save file into its sections, up to the end-of-file section.
///
/// No length is trusted: each is checked against the bytes actually left
/// before the body is taken, and nothing is allocated per byte of input.
pub(super) fn split(bytes: &[u8]) -> Result<Vec<Section<'_>>, SaveError> {
    let Some((header, mut rest)) = bytes.split_first_chunk::<HEADER_SIZE>() else {
        return Err(SaveError::TooShort { len: bytes.len() });
    };
    let (zero, cookie) = header.split_at(4);
    if zero != [0; 4] || cookie != STATE_COOKIE_GLOBAL.to_le_bytes() {
        return Err(SaveError::BadHeader);
    }
    let mut sections = Vec::new();
    while let Some((head, after)) = rest.split_first_chunk::<SECTION_HEADER_SIZE>() {
        let offset = bytes.len() - rest.len();
        let [l0, l1, l2, l3, t0, t1, c0, c1] = *head;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let kind = u16::from_le_bytes([t0, t1]);
        let cookie = u16::from_le_bytes([c0, c1]);
        // The length first, then the cookie, as `state_load` checks them.
        let Some((body, next)) = usize::try_from(len)
            .ok()
            .and_then(|len| after.split_at_checked(len))
        else {
            return Err(SaveError::SectionTruncated {
                offset,
                kind,
                len,
                available: after.len(),
            });
        };
        if cookie != STATE_COOKIE_TYPE {
            return Err(SaveError::BadSectionCookie { offset, cookie });
        }
        if kind == SECTION_EOF {
            if !body.is_empty() {
                return Err(SaveError::EofNotEmpty { len });
            }
            return Ok(sections);
        }
        sections.push(Section { kind, body });
        rest = next;
    }
    if rest.is_empty() {
        Ok(sections)
    } else {
        Err(SaveError::TrailingBytes { extra: rest.len() })
    }
}

/// Writes the file header.
pub(super) fn put_header(buf: &mut impl BufMut) {
    buf.put_u32_le(0);
    buf.put_u32_le(STATE_COOKIE_GLOBAL);
}

/// Writes one section header for a body of `len` bytes.
///
/// Bodies are bounded far below 4 GiB by what the writer puts in them,
/// except raw sections handed in by the caller; for a longer one the
/// largest length is written, which every reader refuses as truncated
/// rather than misreading what follows.
pub(super) fn put_section_header(buf: &mut impl BufMut, kind: u16, len: usize) {
    buf.put_u32_le(u32::try_from(len).unwrap_or(u32::MAX));
    buf.put_u16_le(kind);
    buf.put_u16_le(STATE_COOKIE_TYPE);
}

/// Writes one whole section.
pub(super) fn put_section(buf: &mut impl BufMut, kind: u16, body: &[u8]) {
    put_section_header(buf, kind, body.len());
    buf.put_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sections: &[(u16, u16, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        put_header(&mut out);
        for &(kind, cookie, body) in sections {
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&cookie.to_le_bytes());
            out.extend_from_slice(body);
        }
        out
    }

    #[test]
    fn header_and_section_header_bytes() {
        let mut out = Vec::new();
        put_header(&mut out);
        put_section(&mut out, SECTION_NAME, b"ab");
        assert_eq!(
            out,
            [
                0, 0, 0, 0, 0x1f, 0x1b, 0xed, 0x15, // header
                2, 0, 0, 0, 4, 0, 0xce, 0x01, b'a', b'b'
            ]
        );
    }

    #[test]
    fn eof_ends_the_load_and_what_follows_is_ignored() {
        let mut bytes = file(&[
            (SECTION_NAME, STATE_COOKIE_TYPE, b"x"),
            (SECTION_EOF, STATE_COOKIE_TYPE, b""),
        ]);
        bytes.extend_from_slice(&[0; 37]);
        let sections = split(&bytes).unwrap();
        assert_eq!(
            sections,
            [Section {
                kind: SECTION_NAME,
                body: b"x"
            }]
        );
    }

    #[test]
    fn without_eof_the_data_must_end_on_a_section_boundary() {
        let bytes = file(&[(SECTION_NAME, STATE_COOKIE_TYPE, b"x")]);
        assert_eq!(split(&bytes).unwrap().len(), 1);
        for extra in 1..SECTION_HEADER_SIZE {
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0, extra));
            assert_eq!(split(&longer), Err(SaveError::TrailingBytes { extra }));
        }
    }

    #[test]
    fn bad_headers_and_cookies_are_refused() {
        assert_eq!(split(&[0; 7]), Err(SaveError::TooShort { len: 7 }));
        let mut bytes = file(&[]);
        bytes[0] = 1;
        assert_eq!(split(&bytes), Err(SaveError::BadHeader));
        let mut bytes = file(&[]);
        bytes[7] ^= 0x80;
        assert_eq!(split(&bytes), Err(SaveError::BadHeader));
        let bytes = file(&[(SECTION_NAME, 0x01cf, b"x")]);
        assert_eq!(
            split(&bytes),
            Err(SaveError::BadSectionCookie {
                offset: 8,
                cookie: 0x01cf
            })
        );
        let bytes = file(&[(SECTION_EOF, STATE_COOKIE_TYPE, b"x")]);
        assert_eq!(split(&bytes), Err(SaveError::EofNotEmpty { len: 1 }));
    }

    #[test]
    fn a_length_past_the_end_is_refused_before_anything_is_taken() {
        let mut bytes = file(&[(SECTION_NAME, STATE_COOKIE_TYPE, b"abc")]);
        bytes.truncate(bytes.len() - 1);
        assert_eq!(
            split(&bytes),
            Err(SaveError::SectionTruncated {
                offset: 8,
                kind: SECTION_NAME,
                len: 3,
                available: 2
            })
        );
        let mut huge = file(&[]);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[4, 0, 0xce, 0x01]);
        assert!(matches!(
            split(&huge),
            Err(SaveError::SectionTruncated { len: u32::MAX, .. })
        ));
    }
}
