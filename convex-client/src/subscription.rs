//! Subscription streams and the single-value "latest result" slot that feeds
//! them.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use convex_rs::value::{Value, from_value};
use futures::Stream;
use futures::task::AtomicWaker;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::error::ClientError;

/// A query result as delivered to subscribers.
pub(crate) type QueryResult = Result<Value, ClientError>;

/// A one-element mailbox with overwrite semantics: the producer (the
/// background task) replaces any value the consumer has not taken yet, so a
/// slow consumer only ever sees the latest result and memory stays bounded.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    inner: Mutex<SlotInner>,
    waker: AtomicWaker,
}

#[derive(Debug, Default)]
struct SlotInner {
    latest: Option<QueryResult>,
    closed: bool,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotInner> {
        // The critical sections cannot panic, but never propagate poison.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `result`, replacing an unread one, and wakes the consumer.
    /// Ignored once the slot is closed.
    pub(crate) fn push(&self, result: QueryResult) {
        {
            let mut inner = self.lock();
            if inner.closed {
                return;
            }
            inner.latest = Some(result);
        }
        self.waker.wake();
    }

    /// Ends the stream. With `error`, the consumer receives it as the last
    /// item (replacing an unread result); without, any unread result is
    /// still delivered before the end.
    pub(crate) fn close(&self, error: Option<ClientError>) {
        {
            let mut inner = self.lock();
            if inner.closed {
                return;
            }
            if let Some(error) = error {
                inner.latest = Some(Err(error));
            }
            inner.closed = true;
        }
        self.waker.wake();
    }

    /// Whether the stream has ended (or its subscription was dropped).
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<QueryResult>> {
        // Register first so a push between the check and the return wakes us.
        self.waker.register(cx.waker());
        let mut inner = self.lock();
        match inner.latest.take() {
            Some(result) => Poll::Ready(Some(result)),
            None if inner.closed => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

/// A live query: a [`Stream`] of its results, created by
/// [`ConvexClient::subscribe`](crate::ConvexClient::subscribe).
///
/// The stream yields the query's first result and then a new item every
/// time the result changes. Items are `Ok(T)` for a result, or
/// `Err(ClientError::Function { .. })` when the query failed (a later
/// item may be `Ok` again once the query succeeds), or
/// `Err(ClientError::Decode(..))` when the result does not fit `T`.
///
/// A consumer that falls behind skips intermediate results: only the latest
/// result is kept for it, never a backlog.
///
/// The stream ends when the client is closed (or all its handles are
/// dropped); if the server stopped the session with a fatal error, that
/// error is the last item. It survives reconnects: after a reconnect the
/// query is re-subscribed automatically.
///
/// Dropping the subscription unsubscribes from the query.
pub struct Subscription<T> {
    slot: Arc<Slot>,
    subscriber_id: u64,
    unsubscribe: mpsc::UnboundedSender<u64>,
    _result: PhantomData<fn() -> T>,
}

impl<T> Subscription<T> {
    pub(crate) fn new(
        slot: Arc<Slot>,
        subscriber_id: u64,
        unsubscribe: mpsc::UnboundedSender<u64>,
    ) -> Self {
        Subscription {
            slot,
            subscriber_id,
            unsubscribe,
            _result: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("subscriber_id", &self.subscriber_id)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<T, ClientError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.slot.poll_take(cx).map(|item| {
            item.map(|result| {
                result.and_then(|value| from_value(value).map_err(ClientError::Decode))
            })
        })
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        // Closing first tells the background task not to register the
        // subscription if it has not done so yet (the unsubscribe below may
        // overtake the subscribe command, which travels on another channel).
        self.slot.close(None);
        // The unsubscribe channel is unbounded, but each subscription sends
        // on it at most once, so it never holds more messages than there are
        // subscriptions. An error means the client is gone: nothing to do.
        let _ = self.unsubscribe.send(self.subscriber_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::task::noop_waker_ref;

    fn poll(slot: &Slot) -> Poll<Option<QueryResult>> {
        slot.poll_take(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn slot_keeps_only_the_latest_value() {
        let slot = Slot::default();
        assert!(poll(&slot).is_pending());
        for i in 0..1000 {
            slot.push(Ok(Value::Float64(f64::from(i))));
        }
        assert!(matches!(poll(&slot), Poll::Ready(Some(Ok(Value::Float64(x)))) if x == 999.0));
        assert!(poll(&slot).is_pending());
    }

    #[test]
    fn close_delivers_unread_value_then_ends() {
        let slot = Slot::default();
        slot.push(Ok(Value::Null));
        slot.close(None);
        slot.push(Ok(Value::Boolean(true)));
        assert!(matches!(poll(&slot), Poll::Ready(Some(Ok(Value::Null)))));
        assert!(matches!(poll(&slot), Poll::Ready(None)));
    }

    #[test]
    fn close_with_error_replaces_unread_value() {
        let slot = Slot::default();
        slot.push(Ok(Value::Null));
        slot.close(Some(ClientError::Fatal("boom".into())));
        assert!(matches!(
            poll(&slot),
            Poll::Ready(Some(Err(ClientError::Fatal(_))))
        ));
        assert!(matches!(poll(&slot), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn subscription_decodes_and_unsubscribes_on_drop() {
        let slot = Arc::new(Slot::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut sub: Subscription<Vec<String>> = Subscription::new(slot.clone(), 7, tx);
        slot.push(Ok(Value::Array(vec![Value::from("a")])));
        assert_eq!(
            sub.next().await.and_then(Result::ok),
            Some(vec!["a".to_owned()])
        );
        slot.push(Ok(Value::Float64(1.0)));
        assert!(matches!(
            sub.next().await,
            Some(Err(ClientError::Decode(_)))
        ));
        drop(sub);
        assert_eq!(rx.recv().await, Some(7));
    }
}
