//! [`Sodium`]: libsodium as the reference implementation for toxide's crypto,
//! through the `sodium_vectors` helper program.

use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::{Process, hex_decode, hex_encode};

/// Path of the compiled `sodium_vectors` program.
pub const SODIUM_VECTORS_BIN: &str = env!("SODIUM_VECTORS_BIN");

const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `sodium_vectors`: each call is one request line and one answer.
#[derive(Debug)]
pub struct Sodium {
    process: Process,
}

impl Sodium {
    /// Starts the helper.
    pub fn spawn() -> Result<Self> {
        let process = Process::spawn(
            "sodium_vectors".to_owned(),
            &mut Command::new(SODIUM_VECTORS_BIN),
        )?;
        Ok(Self { process })
    }

    /// `crypto_box_beforenm(pk, sk)` then `crypto_box_easy_afternm`: tag, then ciphertext.
    pub fn box_seal(
        &mut self,
        secret_key: &[u8; 32],
        public_key: &[u8; 32],
        nonce: &[u8; 24],
        message: &[u8],
    ) -> Result<Vec<u8>> {
        self.ask(&format!(
            "box {} {} {} {}",
            hex_encode(secret_key),
            hex_encode(public_key),
            hex_encode(nonce),
            hex_encode(message)
        ))
    }

    /// `crypto_box_open_easy_afternm`; `Ok(None)` when the tag does not verify.
    pub fn box_open(
        &mut self,
        secret_key: &[u8; 32],
        public_key: &[u8; 32],
        nonce: &[u8; 24],
        ciphertext: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let request = format!(
            "box-open {} {} {} {}",
            hex_encode(secret_key),
            hex_encode(public_key),
            hex_encode(nonce),
            hex_encode(ciphertext)
        );
        match self.ask(&request) {
            Err(Error::Command { reply, .. }) if reply == "ERR forged" => Ok(None),
            other => other.map(Some),
        }
    }

    /// `crypto_secretbox_easy`: tag, then ciphertext.
    pub fn secretbox(
        &mut self,
        key: &[u8; 32],
        nonce: &[u8; 24],
        message: &[u8],
    ) -> Result<Vec<u8>> {
        self.ask(&format!(
            "secretbox {} {} {}",
            hex_encode(key),
            hex_encode(nonce),
            hex_encode(message)
        ))
    }

    /// `crypto_scalarmult_base`: the public key of `secret_key`.
    pub fn public_key(&mut self, secret_key: &[u8; 32]) -> Result<Vec<u8>> {
        self.ask(&format!("pk {}", hex_encode(secret_key)))
    }

    fn ask(&mut self, request: &str) -> Result<Vec<u8>> {
        self.process.send_line(request)?;
        let line = self.process.wait_line(|_: &str| true, ANSWER_TIMEOUT)?;
        if line.starts_with("ERR") {
            return Err(Error::Command {
                command: request.to_owned(),
                reply: line,
            });
        }
        hex_decode(&line).ok_or_else(|| Error::Protocol {
            process: self.process.label().to_owned(),
            line,
        })
    }
}
