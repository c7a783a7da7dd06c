use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::RngExt;
use serde_json::{Value as Json, json};

use crate::common;

const ACCOUNTS: usize = 16;
const INITIAL: f64 = 100.0;
const TASKS: usize = 32;
const TRANSFERS: usize = 1_000;

/// 32 tasks run 1,000 random transfers between them: the total never changes,
/// and every committed transfer is reflected in the final balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_transfers_preserve_the_total_and_every_commit_is_visible() -> anyhow::Result<()> {
    let t = common::bank().await?;
    t.mutation_path::<Json>(
        "bank:seed",
        json!({ "accounts": ACCOUNTS as f64, "balance": INITIAL }),
    )
    .await?;
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let t = t.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut ledger = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < TRANSFERS {
                    let (from, to, amount) = {
                        let mut rng = rand::rng();
                        let from = rng.random_range(0..ACCOUNTS);
                        let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                        (from, to, f64::from(rng.random_range(1..=60u32)))
                    };
                    let args = json!({ "from": from as f64, "to": to as f64, "amount": amount });
                    if t.mutation_path::<bool>("bank:transfer", args).await? {
                        ledger.push((from, to, amount));
                    }
                }
                anyhow::Ok(ledger)
            })
        })
        .collect();
    let mut expected = [INITIAL; ACCOUNTS];
    let mut committed = 0;
    for task in tasks {
        for (from, to, amount) in task.await?? {
            expected[from] -= amount;
            expected[to] += amount;
            committed += 1;
        }
    }
    assert!(
        committed > TRANSFERS / 2,
        "most transfers should have had funds ({committed})"
    );
    assert_eq!(
        t.query_path::<f64>("bank:total", json!({})).await?,
        INITIAL * ACCOUNTS as f64
    );
    for (owner, want) in expected.iter().enumerate() {
        let got = t
            .query_path::<f64>("bank:balance", json!({ "owner": owner as f64 }))
            .await?;
        assert_eq!(got, *want, "balance of {owner}");
        assert!(got >= 0.0);
    }
    Ok(())
}
