//! Gives the cdylib the SONAME of Debian's libtoxcore (`libtoxcore.so.2`),
//! so programs linked against it record that name and a program linked
//! against c-toxcore finds this library under the same name.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os != "macos" && os != "windows") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtoxcore.so.2");
    }
}
