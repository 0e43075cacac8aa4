//! Apply progress: an indicatif bar on a terminal, plain lines otherwise.

use std::sync::Mutex;
use std::time::Duration;

use gig_engine::events::{ApplyEvent, Step};
use gig_engine::model::{Action, Plan};
use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Ui;

/// Shows apply events as they arrive.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: Mutex<()>,
}

impl Progress {
    /// A bar sized to the plan's changes when stderr is a terminal.
    pub fn new(ui: &Ui, plan: &Plan) -> Progress {
        let total = plan
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .count() as u64;
        let bar = ui.stderr_tty.then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} {msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            lines: Mutex::new(()),
        }
    }

    /// Prints one event.
    pub fn event(&self, event: ApplyEvent) {
        let (line, done) = describe(&event);
        let _guard = self.lines.lock();
        match &self.bar {
            Some(bar) => {
                if done {
                    bar.inc(1);
                }
                bar.println(line);
            }
            None => outln!("{line}"),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One line for an event, and whether it ends a change (for the bar's count).
fn describe(event: &ApplyEvent) -> (String, bool) {
    match event {
        ApplyEvent::Started { addr, step, .. } => {
            (format!("{addr}: {}...", progressive(*step)), false)
        }
        ApplyEvent::Finished {
            addr,
            action,
            step,
            duration,
        } => {
            let last = !(*action == Action::Replace && is_first_step(*step, event));
            (
                format!(
                    "{addr}: {} after {:.1}s",
                    past(*step),
                    duration.as_secs_f64()
                ),
                last,
            )
        }
        ApplyEvent::Failed {
            addr, step, error, ..
        } => (format!("{addr}: {} failed: {error}", step.name()), true),
        ApplyEvent::Retrying {
            addr,
            step,
            attempt,
            error,
            delay,
        } => (
            format!(
                "{addr}: {} attempt {attempt} failed ({error}); retrying in {:.1}s",
                step.name(),
                delay.as_secs_f64()
            ),
            false,
        ),
        ApplyEvent::Concurrency { lane, limit } => (
            format!("{lane}: at most {limit} call(s) in flight now (adapting to throttling)"),
            false,
        ),
        ApplyEvent::Skipped { addr, because } => (
            format!("{addr}: skipped, it needs {because}, which failed"),
            true,
        ),
    }
}

fn is_first_step(step: Step, _event: &ApplyEvent) -> bool {
    // A replace is delete then create (or create then delete with create_before_destroy);
    // counting only creates keeps the bar at one tick per change in the common order.
    step == Step::Delete
}

fn progressive(step: Step) -> &'static str {
    match step {
        Step::Create => "creating",
        Step::Update => "updating",
        Step::Delete => "destroying",
    }
}

fn past(step: Step) -> &'static str {
    match step {
        Step::Create => "created",
        Step::Update => "updated",
        Step::Delete => "destroyed",
    }
}
