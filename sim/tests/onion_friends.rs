//! The onion on the simulator: 200 nodes, 20 pairs of friends, every side
//! must learn its friend's DHT key through the onion (or the DHT route),
//! on clean links and with 10% loss. Figures are printed for the record.

use std::time::Duration;

use toxide_sim::{FriendScenario, LinkConfig};

fn scenario(loss: f64) -> FriendScenario {
    FriendScenario {
        nodes: 200,
        pairs: 20,
        link: LinkConfig {
            loss,
            ..LinkConfig::default()
        },
        limit: Duration::from_secs(180),
        seed: 0x0410_0200,
    }
}

#[test]
fn twenty_pairs_of_friends_learn_each_others_dht_keys() {
    let clean = scenario(0.0).figures();
    eprintln!("200 nodes, clean links: {clean}");
    assert_eq!(clean.learned, clean.sides, "{clean}");
    let lossy = scenario(0.1).figures();
    eprintln!("200 nodes, 10% loss: {lossy}");
    assert_eq!(lossy.learned, lossy.sides, "{lossy}");
}
