//! `bank:*` functions.

use convex_rs::function::DatabaseReader;
use convex_rs::prelude::*;
use convex_rs::query::IndexRange;

use crate::Account;

/// The account of `owner`, through either a query's or a mutation's database.
async fn account(
    db: &DatabaseReader<'_>,
    owner: f64,
) -> Result<Option<Doc<Account>>, FunctionError> {
    Ok(db
        .query::<Account>()
        .with_index("by_owner", IndexRange::new().eq("owner", owner))
        .unique()
        .await?)
}

/// Creates accounts for owners `0..accounts`, each with `balance`.
#[mutation]
pub async fn seed(ctx: &MutationCtx, accounts: f64, balance: f64) -> Result<(), FunctionError> {
    if !(0.0..=10_000.0).contains(&accounts) || accounts.fract() != 0.0 {
        return Err(FunctionError::message(
            "accounts must be a whole number from 0 to 10000",
        ));
    }
    for owner in 0..accounts as u32 {
        ctx.db()
            .insert(&Account {
                owner: f64::from(owner),
                balance,
            })
            .await?;
    }
    Ok(())
}

/// Moves `amount` from `from` to `to`; false (and nothing written) when funds are short.
#[mutation]
pub async fn transfer(
    ctx: &MutationCtx,
    from: f64,
    to: f64,
    amount: f64,
) -> Result<bool, FunctionError> {
    if !(amount.is_finite() && amount > 0.0) {
        return Err(FunctionError::message("amount must be a positive number"));
    }
    let missing = |owner: f64| FunctionError::message(format!("no account for owner {owner}"));
    let source = account(&ctx.db(), from)
        .await?
        .ok_or_else(|| missing(from))?;
    let target = account(&ctx.db(), to).await?.ok_or_else(|| missing(to))?;
    if source.balance < amount {
        return Ok(false);
    }
    if source.id == target.id {
        return Ok(true);
    }
    ctx.db()
        .patch(
            source.id,
            Patch::new().set("balance", source.balance - amount),
        )
        .await?;
    ctx.db()
        .patch(
            target.id,
            Patch::new().set("balance", target.balance + amount),
        )
        .await?;
    Ok(true)
}

/// The balance of `owner` (0 if there is no such account).
#[query]
pub async fn balance(ctx: &QueryCtx, owner: f64) -> Result<f64, FunctionError> {
    Ok(account(&ctx.db(), owner).await?.map_or(0.0, |a| a.balance))
}

/// The sum of all balances.
#[query]
pub async fn total(ctx: &QueryCtx) -> Result<f64, FunctionError> {
    Ok(ctx
        .db()
        .query::<Account>()
        .collect()
        .await?
        .iter()
        .map(|a| a.balance)
        .sum())
}

/// Schedules `bank:transfer {from, to, amount}` to run after `delay_ms`
/// milliseconds; returns the scheduled call's id. The transfer runs exactly
/// once, even if the server stops or crashes before or while it is due.
#[mutation]
pub async fn transfer_later(
    ctx: &MutationCtx,
    from: f64,
    to: f64,
    amount: f64,
    delay_ms: f64,
) -> Result<Id<ScheduledFunction>, FunctionError> {
    if !(amount.is_finite() && amount > 0.0) {
        return Err(FunctionError::message("amount must be a positive number"));
    }
    let delay = std::time::Duration::from_millis(delay_ms.max(0.0) as u64);
    ctx.scheduler()
        .run_after::<transfer>(delay, TransferArgs { from, to, amount })
        .await
}
