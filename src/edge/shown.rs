//! What the page showed, handed from the end of the response stream to the records sent after
//! it: a one-shot, single-threaded channel (the runtime runs one request on one thread; a
//! general channel's atomics and locks are kilobytes the edge bundle does not need).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::decide::OnPage;

#[derive(Default)]
struct Slot {
    /// `Some(Some(page))`: the page ended whole; `Some(None)`: it never will (cut, abandoned).
    value: Option<Option<Vec<OnPage>>>,
    waker: Option<Waker>,
}

/// The stream's end: [`Sender::send`] once; dropped unsent, the page was not delivered whole.
pub struct Sender(Rc<RefCell<Slot>>);

/// Resolves to what the page showed, or `None` when it was not delivered whole.
pub struct Receiver(Rc<RefCell<Slot>>);

pub fn channel() -> (Sender, Receiver) {
    let slot = Rc::new(RefCell::new(Slot::default()));
    (Sender(slot.clone()), Receiver(slot))
}

impl Sender {
    pub fn send(self, page: Vec<OnPage>) {
        self.settle(Some(page));
    }

    fn settle(&self, value: Option<Vec<OnPage>>) {
        let waker = match self.0.try_borrow_mut() {
            Ok(mut slot) if slot.value.is_none() => {
                slot.value = Some(value);
                slot.waker.take()
            }
            _ => None,
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.settle(None);
    }
}

impl Future for Receiver {
    type Output = Option<Vec<OnPage>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut slot) = self.0.try_borrow_mut() else {
            return Poll::Ready(None);
        };
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
