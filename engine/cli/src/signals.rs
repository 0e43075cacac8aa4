//! Interrupts during apply: SIGINT (Ctrl-C) and SIGTERM (CI cancellation, `timeout`,
//! `systemctl stop`) mean the same.
//!
//! The first one asks apply to start nothing new and to let every call in flight finish,
//! so its result reaches the state. A second one stops waiting: gig names the calls that
//! were still in flight and exits at once with code 130. Nothing is lost by that: every
//! create in flight has a durable intent (with the object's id once the cloud named it),
//! which the next plan resolves by adopting the object.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use gig_core::addr::ResourceAddr;
use gig_engine::events::ApplyEvent;
use tokio::sync::watch;

/// Exit code after an interrupt.
pub const INTERRUPTED: u8 = 130;

/// The provider calls in flight, kept up to date from apply's events.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<Mutex<BTreeSet<ResourceAddr>>>);

impl InFlight {
    /// Tracks one apply event.
    pub fn event(&self, e: &ApplyEvent) {
        let mut set = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match e {
            ApplyEvent::Started { addr, .. } => {
                set.insert(addr.clone());
            }
            ApplyEvent::Finished { addr, .. } | ApplyEvent::Failed { addr, .. } => {
                set.remove(addr);
            }
            _ => {}
        }
    }

    fn addresses(&self) -> Vec<ResourceAddr> {
        let set = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.iter().cloned().collect()
    }
}

/// Listens for SIGINT and SIGTERM for the rest of the process: the first sets `cancel`,
/// the second exits after naming what was in flight.
pub fn watch_interrupts(cancel: watch::Sender<bool>, in_flight: InFlight) {
    use tokio::signal::unix::{signal, SignalKind};
    // Both listeners are registered here, before this returns: a signal that arrives
    // between now and the spawned task's first poll is queued, not handled by the
    // default action (which would end gig with calls in flight).
    let listen = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for {name}");
            None
        }
    };
    let mut int = listen(SignalKind::interrupt(), "SIGINT");
    let mut term = listen(SignalKind::terminate(), "SIGTERM");
    tokio::spawn(async move {
        let mut received = 0u32;
        loop {
            let which = tokio::select! {
                Some(()) = recv(int.as_mut()) => "Interrupt",
                Some(()) = recv(term.as_mut()) => "SIGTERM",
                else => return,
            };
            received += 1;
            if received == 1 {
                errln!(
                    "\n{which} received: finishing calls in flight and recording their results, \
                     starting nothing new. Interrupt again to stop waiting."
                );
                let _ = cancel.send(true);
                continue;
            }
            let pending = in_flight.addresses();
            if pending.is_empty() {
                errln!("\n{which} received again: stopping now; no call was in flight.");
            } else {
                let list: Vec<String> = pending.iter().map(ToString::to_string).collect();
                errln!(
                    "\n{which} received again: stopping now. These calls were in flight and their \
                     results are not recorded: {}. Creates among them are on record as \
                     interrupted creates; the next plan looks their objects up and adopts \
                     them, and reads the others back.",
                    list.join(", ")
                );
            }
            std::process::exit(i32::from(INTERRUPTED));
        }
    });
}

/// The next signal from `stream`, or never when gig could not listen for it.
async fn recv(stream: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
    match stream {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
