//! The `gig` binary: parses flags, runs one command, maps its outcome to an exit code.
//!
//! Exit codes everywhere: 0 ok / no changes, 1 error (usage errors included), 2 changes
//! or drift present (`plan --detailed-exitcode`, `drift`), 130 interrupted.

#[macro_use]
mod out;

mod args;
mod commands;
mod console;
mod context;
mod diff;
mod progress;
mod report;
mod sarif;
mod settings;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, ProvidersCommand, StateCommand};

// Loading and planning large stacks is allocation-heavy; mimalloc cut parse + lower of
// 10,000 resources from about 90 ms to about 66 ms (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Exit 2 means "changes or drift present" to CI, so a usage error must not use
    // clap's default exit code 2: it exits 1 like every other error.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 1 } else { 0 });
        }
    };
    context::init_logging(cli.log_format);
    let ui = context::Ui::detect(cli.no_color, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            ui.error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Validate(a) => commands::validate(&ui, a),
            Command::Fmt(a) => commands::fmt(&ui, a),
            Command::Plan(a) => commands::plan(&ui, a).await,
            Command::Apply(a) => commands::apply(&ui, a).await,
            Command::Destroy(a) => commands::destroy(&ui, a).await,
            Command::Show(a) => commands::show(&ui, a),
            Command::Output(a) => commands::output(&ui, a),
            Command::Graph(a) => commands::graph(&ui, a),
            Command::Console(a) => console::console(&ui, a),
            Command::Import(a) => commands::import(&ui, a).await,
            Command::Drift(a) => commands::drift(&ui, a).await,
            Command::Check(a) => commands::check(&ui, a),
            Command::Providers(ProvidersCommand::Schema(a)) => commands::providers_schema(&ui, a),
            Command::Completions(a) => {
                // Generated from the same clap definition the binary parses with.
                let mut command = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(a.shell, &mut command, "gig", &mut std::io::stdout());
                Ok(0)
            }
            Command::State(s) => match s {
                StateCommand::List(a) => commands::state_list(&ui, a),
                StateCommand::Show(a) => commands::state_show(&ui, a),
                StateCommand::Rm(a) => commands::state_rm(&ui, a),
                StateCommand::Mv(a) => commands::state_mv(&ui, a),
                StateCommand::History(a) => commands::state_history(&ui, a),
                StateCommand::Restore(a) => commands::state_restore(&ui, a),
                StateCommand::Export(a) => commands::state_export(&ui, a),
                StateCommand::Rekey(a) => commands::state_rekey(&ui, a),
                StateCommand::RenameStack(a) => commands::state_rename_stack(&ui, a),
                StateCommand::Unlock(a) => commands::state_unlock(&ui, a),
                StateCommand::Migrate(a) => commands::state_migrate(&ui, a),
            },
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if let Some(refusal) = err.downcast_ref::<report::SourcedRefusal>() {
                ui.diagnostics(&refusal.diagnostics, &refusal.sources);
                return ExitCode::from(1);
            }
            let coded = match err.downcast_ref::<report::Refusal>() {
                Some(refusal) => Some(refusal.0.clone()),
                None => err
                    .downcast_ref::<gig_state::StateError>()
                    .and_then(context::state_diagnostic),
            };
            match coded {
                Some(d) => ui.diagnostics(&[d], &gig_core::span::SourceMap::new()),
                None => ui.error(&format!("{err:#}")),
            }
            ExitCode::from(1)
        }
    }
}
