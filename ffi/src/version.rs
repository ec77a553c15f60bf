//! The version this library answers to: c-toxcore 0.2.18, the one Debian
//! ships as libtoxcore.so.2, because it implements that release's API and
//! wire behaviour. Clients compare it with the header they were built
//! against.

#![allow(
    unsafe_code,
    reason = "exports C symbols, which Rust 2024 marks #[unsafe(no_mangle)]"
)]

use crate::guard::guard;

/// The API's major version.
pub const MAJOR: u32 = 0;
/// The API's minor version; while the major version is 0 it counts as
/// the major one.
pub const MINOR: u32 = 2;
/// The API's patch version.
pub const PATCH: u32 = 18;

/// Whether a client built against tox.h `major.minor.patch` can use this
/// library, by c-toxcore's rule: same major version (for 0.x, same minor)
/// and a library at least as new; for 0.0.x only the identical version.
pub fn is_compatible(major: u32, minor: u32, patch: u32) -> bool {
    match (MAJOR, MINOR) {
        (0, 0) => major == 0 && minor == 0 && patch == PATCH,
        (0, _) => major == 0 && minor == MINOR && PATCH >= patch,
        _ => major == MAJOR && (MINOR > minor || (MINOR == minor && PATCH >= patch)),
    }
}

/// [`MAJOR`], for C.
#[unsafe(no_mangle)]
pub extern "C" fn tox_version_major() -> u32 {
    guard(MAJOR, || MAJOR)
}

/// [`MINOR`], for C.
#[unsafe(no_mangle)]
pub extern "C" fn tox_version_minor() -> u32 {
    guard(MINOR, || MINOR)
}

/// [`PATCH`], for C.
#[unsafe(no_mangle)]
pub extern "C" fn tox_version_patch() -> u32 {
    guard(PATCH, || PATCH)
}

/// [`is_compatible`], for C (tox.h's `TOX_VERSION_IS_ABI_COMPATIBLE`
/// calls it with the header's version).
#[unsafe(no_mangle)]
pub extern "C" fn tox_version_is_compatible(major: u32, minor: u32, patch: u32) -> bool {
    guard(false, || is_compatible(major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_up_to_0_2_18_are_compatible() {
        assert!((0..=18).all(|patch| is_compatible(0, 2, patch)));
        assert!(!is_compatible(0, 2, 19));
        assert!(!is_compatible(0, 1, 0));
        assert!(!is_compatible(0, 3, 0));
        assert!(!is_compatible(1, 2, 18));
        assert!(!is_compatible(0, 0, 18));
    }
}
