//! Interrupts during apply: SIGINT (Ctrl-C) and SIGTERM (CI cancellation, `timeout`,
//! `systemctl stop`) mean the same.
//!
//! The first one asks apply to start nothing new and to let every call in flight finish,
//! so its result reaches the state. A second one stops waiting: gig names the calls that
//! were still in flight — objects that may exist in the cloud without being recorded —
//! and exits at once with code 130.

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
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => Some(term),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    None
                }
            };
        let mut received = 0u32;
        loop {
            let which = tokio::select! {
                r = tokio::signal::ctrl_c() => match r {
                    Ok(()) => "Interrupt",
                    Err(_) => return,
                },
                Some(()) = async {
                    match term.as_mut() {
                        Some(t) => t.recv().await,
                        None => std::future::pending().await,
                    }
                } => "SIGTERM",
            };
            received += 1;
            if received == 1 {
                eprintln!(
                    "\n{which} received: finishing calls in flight and recording their results, \
                     starting nothing new. Interrupt again to stop waiting."
                );
                let _ = cancel.send(true);
                continue;
            }
            let pending = in_flight.addresses();
            if pending.is_empty() {
                eprintln!("\n{which} received again: stopping now; no call was in flight.");
            } else {
                let list: Vec<String> = pending.iter().map(ToString::to_string).collect();
                eprintln!(
                    "\n{which} received again: stopping now. These calls were in flight and their \
                     results are not recorded; check the cloud for them and adopt any object \
                     that exists with `gig import`: {}",
                    list.join(", ")
                );
            }
            std::process::exit(i32::from(INTERRUPTED));
        }
    });
}
