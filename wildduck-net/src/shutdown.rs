//! Graceful shutdown: one [`Shutdown`] handle triggers, any number of [`ShutdownSignal`]s observe.

use tokio::sync::watch;

/// The trigger. Dropping it does not trigger anything; call [`Shutdown::trigger`].
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// What sessions and listeners await: resolves once [`Shutdown::trigger`] was called.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger nobody has pulled yet.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Self { tx }
    }

    /// A new observer.
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.tx.subscribe(),
        }
    }

    /// Tells every observer to finish: listeners stop accepting, sessions say goodbye.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

impl ShutdownSignal {
    /// A signal that never fires (for sessions run outside a server, e.g. in tests).
    pub fn never() -> Self {
        // With the sender gone, `wait` sees a closed channel and pends forever.
        let (_, rx) = watch::channel(false);
        Self { rx }
    }

    /// Whether shutdown was triggered.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until shutdown is triggered. Cancel-safe: use it in `select!` next to a read.
    pub async fn wait(&mut self) {
        // An error means the trigger was dropped without firing: then it never fires.
        if self.rx.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_signal_sees_the_trigger() {
        let s = Shutdown::new();
        let mut a = s.signal();
        let mut b = a.clone();
        assert!(!a.is_triggered());
        s.trigger();
        a.wait().await;
        b.wait().await;
        assert!(b.is_triggered());
        // A signal made after the trigger is already set.
        assert!(s.signal().is_triggered());
    }

    #[tokio::test]
    async fn dropped_trigger_never_fires() {
        let s = Shutdown::new();
        let mut sig = s.signal();
        drop(s);
        let r = tokio::time::timeout(std::time::Duration::from_millis(20), sig.wait()).await;
        assert!(r.is_err());
    }
}
