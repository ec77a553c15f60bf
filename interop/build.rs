//! Builds the two C helper programs the interop tests run: `tox_peer` (one
//! c-toxcore instance driven over stdin/stdout) and `sodium_vectors`
//! (libsodium as the crypto reference). Both link the system's libtoxcore and
//! libsodium found through pkg-config; their paths reach the crate as
//! `TOX_PEER_BIN` and `SODIUM_VECTORS_BIN`.

use std::env;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A build failure shown to the user as plain text (`main` prints it with `Debug`).
struct BuildError(String);

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn main() -> Result<(), BuildError> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=c/tox_peer.c");
    println!("cargo:rerun-if-changed=c/sodium_vectors.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let out_dir = PathBuf::from(
        env::var_os("OUT_DIR").ok_or_else(|| BuildError("OUT_DIR is not set".into()))?,
    );
    let flags = pkg_config_flags()?;

    let tox_peer = out_dir.join("tox_peer");
    compile(Path::new("c/tox_peer.c"), &tox_peer, &flags)?;
    println!("cargo:rustc-env=TOX_PEER_BIN={}", tox_peer.display());

    let sodium_vectors = out_dir.join("sodium_vectors");
    compile(Path::new("c/sodium_vectors.c"), &sodium_vectors, &flags)?;
    println!(
        "cargo:rustc-env=SODIUM_VECTORS_BIN={}",
        sodium_vectors.display()
    );
    Ok(())
}

/// Compiler and linker flags for libtoxcore and libsodium.
fn pkg_config_flags() -> Result<Vec<String>, BuildError> {
    let install_hint = "toxide-interop needs c-toxcore and libsodium development files: \
                        install them with `apt-get install libtoxcore-dev libsodium-dev pkg-config` \
                        (or point PKG_CONFIG_PATH at toxcore.pc and libsodium.pc)";
    let output = Command::new("pkg-config")
        .args(["--cflags", "--libs", "toxcore", "libsodium"])
        .output()
        .map_err(|e| BuildError(format!("could not run pkg-config ({e}). {install_hint}")))?;
    if !output.status.success() {
        return Err(BuildError(format!(
            "pkg-config --cflags --libs toxcore libsodium failed: {}\n{install_hint}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Compiles and links one C file into an executable with the target's C compiler.
fn compile(source: &Path, exe: &Path, flags: &[String]) -> Result<(), BuildError> {
    let compiler = cc::Build::new()
        .warnings(true)
        .extra_warnings(true)
        .try_get_compiler()
        .map_err(|e| BuildError(format!("no C compiler found: {e}")))?;
    let mut cmd = compiler.to_command();
    cmd.arg("-std=c11")
        .arg("-o")
        .arg(exe)
        .arg(source)
        .args(flags);
    let output = cmd
        .output()
        .map_err(|e| BuildError(format!("could not run the C compiler: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines() {
        println!("cargo:warning={line}");
    }
    if !output.status.success() {
        return Err(BuildError(format!(
            "compiling {} failed ({}):\n{stderr}",
            source.display(),
            output.status
        )));
    }
    Ok(())
}
