//! `gig console`: evaluates expressions against the stack and its recorded state, one
//! per line, as a user exploring a stack or a script querying it would.
//!
//! Each line is lowered as the value of an output in an in-memory file beside the
//! stack's own, so it sees everything an output sees (params, lets, the standard
//! library, resources, modules) and its errors are the language's own diagnostics,
//! located in the line typed. Resource attributes come from the state read at start;
//! the state is released at once, so a console never holds the lock.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use gig_core::diag::{Diagnostic, Severity};
use gig_core::value::Value;
use gig_dsl::eval::eval;
use gig_engine::values::ValueTable;
use gig_provider::Registry;

use crate::args::{ConsoleArgs, ConsoleFormat};
use crate::context::{self, Ui};
use crate::settings::StackSettings;

/// The name of the in-memory file each line is lowered in; diagnostics show it.
const SOURCE: &str = "<console>";
/// The output each line becomes.
const OUTPUT: &str = "console";

/// `gig console`: exit 0, or 1 when the stack does not load or (reading from a pipe)
/// any line failed.
pub fn console(ui: &Ui, args: ConsoleArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &settings, &registry) else {
        return Ok(1);
    };
    let snapshot = context::snapshot_or_empty(&settings)?;
    if snapshot.resources.is_empty() {
        errln!("note: the state holds no resources yet; their attributes are (known after apply)");
    }
    // What state does not hold (resources not created yet, data sources, which
    // are read by plans only) is unknown, as in a plan.
    let mut table = ValueTable::new();
    for r in &stack.config.resources {
        let value = snapshot
            .resources
            .get(&r.addr)
            .map_or(Value::Unknown, |record| record.value.clone());
        table.insert(r.addr.clone(), value);
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut failed = false;
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            out!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next().transpose()? else {
            break;
        };
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if interactive && matches!(text, "exit" | "quit") {
            break;
        }
        match evaluate(ui, &settings, &registry, text, &table) {
            Some(value) => print_value(&value, args.format, args.show_secret)?,
            None => failed = true,
        }
    }
    Ok(u8::from(failed && !interactive))
}

/// Lowers `text` as an output of the stack and evaluates it against `table`; prints
/// its diagnostics and returns `None` when it has errors.
fn evaluate(
    ui: &Ui,
    settings: &StackSettings,
    registry: &Registry,
    text: &str,
    table: &ValueTable,
) -> Option<Value> {
    let mut opts = settings.load.clone();
    opts.extra_files = vec![(
        SOURCE.to_string(),
        format!("output {OUTPUT} {{\n  value = {text}\n}}\n"),
    )];
    let loaded = gig_engine::pipeline::load_dir(&settings.dir, &opts, registry);
    // The stack itself loaded cleanly at start: report only what the line caused.
    let in_line = |d: &&Diagnostic| {
        loaded
            .sources
            .get(d.span.file)
            .is_some_and(|f| f.path.as_os_str() == SOURCE)
    };
    let mut errors: Vec<Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .filter(in_line)
        .cloned()
        .collect();
    if errors.is_empty() && loaded.config.is_none() {
        // Not expected after a clean load, but never fail without saying why.
        errors = loaded.diagnostics.clone();
    }
    let output = loaded
        .config
        .as_ref()
        .and_then(|c| c.outputs.iter().find(|o| o.name == OUTPUT));
    let Some(output) = output.filter(|_| errors.is_empty()) else {
        ui.diagnostics(&errors, &loaded.sources);
        return None;
    };
    match eval(&output.value, table) {
        Ok(v) if output.secret => Some(v.into_secret()),
        Ok(v) => Some(v),
        Err(d) => {
            ui.diagnostics(&[d], &loaded.sources);
            None
        }
    }
}

fn print_value(value: &Value, format: ConsoleFormat, show_secret: bool) -> anyhow::Result<()> {
    let value = if show_secret {
        value.revealed()
    } else {
        value.clone()
    };
    match format {
        ConsoleFormat::Text => outln!("{}", value.display()),
        ConsoleFormat::Json => outln!("{}", serde_json::to_string(&value.to_json_redacted())?),
    }
    Ok(())
}
