//! 1,000 DHT nodes join through one seed node on the simulator; we measure
//! how well their close lists hold their true nearest neighbours and how
//! many hops a lookup takes, with a clean network, with 10% loss and with
//! 20% churn. Figures are printed (run with `--nocapture`) and the
//! assertions hold them to what a working Kademlia must reach. The
//! experiment itself lives in `toxide_sim::convergence`, shared with the
//! 10,000-node example `dht_scale`.

use toxide_sim::{Figures, LinkConfig, Scenario};

const NODES: usize = 1000;

fn run(scenario: Scenario) -> Figures {
    let f = scenario.figures();
    println!("{scenario}: {f}");
    f
}

#[test]
fn thousand_nodes_converge() {
    let f = run(Scenario::new(NODES, 1));
    assert!(f.nearest_held > 0.95, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.95,
        "lookup success {}",
        f.lookup_success
    );
}

#[test]
fn thousand_nodes_converge_with_loss() {
    let f = run(Scenario {
        link: LinkConfig {
            loss: 0.10,
            ..LinkConfig::default()
        },
        ..Scenario::new(NODES, 2)
    });
    assert!(f.nearest_held > 0.9, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.9,
        "lookup success {}",
        f.lookup_success
    );
}

#[test]
fn thousand_nodes_converge_with_churn() {
    // The network forms for a minute, then 20% of the nodes (never the
    // seed) are offline, a different 20% each of the next 3 minutes.
    let f = run(Scenario {
        churn: 0.2,
        ..Scenario::new(NODES, 3)
    });
    assert!(f.nearest_held > 0.8, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.8,
        "lookup success {}",
        f.lookup_success
    );
}

#[test]
fn thousand_nodes_converge_with_churn_once_settled() {
    // As above, but churn starts after 8 clean minutes, once the nodes
    // have been good long enough to be checked on the slow tier: a node
    // that leaves then stays in others' lists for up to 10.5 minutes.
    let f = run(Scenario {
        churn: 0.2,
        settle: 8,
        ..Scenario::new(NODES, 3)
    });
    assert!(f.nearest_held > 0.8, "nearest held {}", f.nearest_held);
    assert!(
        f.lookup_success > 0.8,
        "lookup success {}",
        f.lookup_success
    );
}
