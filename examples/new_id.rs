//! Generates a new Tox identity and prints its Tox ID, then parses the
//! printed text back to show the round trip a friend's client performs.
//!
//! Run: `cargo run --example new_id`

use toxide::{KeyPair, NoSpam, ToxId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The operating system's CSPRNG; protocol code never picks its own.
    let mut rng = rand::rng();
    let keys = KeyPair::generate(&mut rng);
    let id = ToxId::new(keys.public, NoSpam::random(&mut rng));

    let text = id.to_string();
    println!("Tox ID:      {text}");

    let parsed: ToxId = text.to_lowercase().parse()?;
    println!("parsed back: public key {}", parsed.public_key);
    println!(
        "             nospam     {} (tox.h value {})",
        parsed.nospam,
        parsed.nospam.to_u32()
    );
    let [sum0, sum1] = parsed.checksum();
    println!("             checksum   {sum0:02X}{sum1:02X}");
    if parsed != id {
        return Err("round trip changed the Tox ID".into());
    }

    // A one-character typo is caught by the checksum.
    let mut typo = text.clone();
    let flipped = if typo.ends_with('0') { "1" } else { "0" };
    typo.replace_range(75.., flipped);
    match typo.parse::<ToxId>() {
        Err(err) => println!("a typo is refused: {err}"),
        Ok(_) => return Err("a corrupted Tox ID was accepted".into()),
    }
    Ok(())
}
