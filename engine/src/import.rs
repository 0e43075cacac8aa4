//! `import` blocks: existing objects read by id and adopted into Prior while planning.
//!
//! For each `import { to = ADDR, id = "…" }` whose address state does not record yet,
//! [`import_objects`] reads the object through [`Provider::import`] (the read `gig
//! import ADDR ID` uses) and adds it to Prior as if state had recorded it. The planner
//! then plans the resource as usual: a no-op when the object matches the configuration,
//! an update (or a replacement) when it does not. The plan lists the adopted objects
//! ([`crate::model::Plan::imported`]) and apply records them before anything else, so a
//! plan that is never applied changes nothing.
//!
//! An address state already records makes its block a no-op, with a note (E0386): the
//! block can stay in the configuration after the import was applied. An address the
//! configuration does not declare (E0381), an id the provider has no object for (E0384)
//! and a failed read (E0402) stop the plan at the block.
//!
//! # Cancel safety
//!
//! Only reads; dropping the future leaves nothing behind.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt as _};
use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic, Severity};
use gig_dsl::config::{Config, ImportConfig};
use gig_provider::{OpContext, ProviderError, Registry};
use gig_state::{ResourceRecord, Snapshot};

use crate::pipeline::Providers;

/// The outcome of [`import_objects`].
#[derive(Debug, Default)]
pub struct Imports {
    /// Prior with every imported object recorded.
    pub prior: Snapshot,
    /// Address → the cloud id of the object imported there.
    pub imported: BTreeMap<ResourceAddr, String>,
    /// Errors at import blocks, and notes for blocks that had nothing to do.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads the object of every `import` block of `config` whose address `prior` does not
/// record, and adds it to Prior (see the module documentation).
pub async fn import_objects(
    config: &Config,
    prior: &Snapshot,
    providers: &Providers,
    registry: &Registry,
    env: &str,
    parallelism: usize,
) -> Imports {
    let mut out = Imports {
        prior: prior.clone(),
        ..Imports::default()
    };
    let mut todo = Vec::new();
    for block in &config.imports {
        if prior.resources.contains_key(&block.to) {
            let mut note = Diagnostic::warning(
                Code::E0386,
                "import of a recorded object skipped",
                block.span,
            )
            .with_detail(format!(
                "State already records `{}`, so this import block has nothing to do. It can stay, or be removed.",
                block.to
            ))
            .with_label("already imported");
            note.severity = Severity::Advice;
            out.diagnostics.push(note);
        } else if config.resource(&block.to).is_none() {
            out.diagnostics.push(
                Diagnostic::error(Code::E0381, "moved or import target not declared", block.to_span)
                    .with_detail(format!(
                        "The import block adopts the object `{}` at `{}`, which the configuration does not declare.",
                        block.id, block.to
                    ))
                    .with_label("not declared")
                    .with_help("declare the resource block first, then import into it"),
            );
        } else {
            todo.push(block);
        }
    }
    let reads = todo.into_iter().map(|block| async move {
        let result = read(block, config, providers, env).await;
        (block, result)
    });
    let results: Vec<(&ImportConfig, Result<Option<ResourceRecord>, ProviderError>)> =
        stream::iter(reads)
            .buffer_unordered(parallelism.max(1))
            .collect()
            .await;
    for (block, result) in results {
        match result {
            Ok(Some(mut record)) => {
                record.schema_version = registry
                    .resource_schema(&block.to.rtype, false)
                    .map_or(0, |s| s.version);
                out.imported.insert(block.to.clone(), block.id.clone());
                out.prior.resources.insert(block.to.clone(), record);
            }
            Ok(None) => out.diagnostics.push(
                Diagnostic::error(Code::E0384, "imported object not found", block.id_span)
                    .with_detail(format!(
                        "The provider has no {} with id `{}` to import at `{}`.",
                        block.to.rtype, block.id, block.to
                    ))
                    .with_label("no object with this id")
                    .with_help("check the id and the provider's region and account"),
            ),
            Err(e) => out.diagnostics.push(e.diagnostic(
                Code::E0402,
                "reading from the provider failed",
                &block.to.to_string(),
                block.span,
            )),
        }
    }
    out.diagnostics.sort_by_key(|d| d.span);
    out
}

/// The record of the object `block` imports, `None` when there is none.
async fn read(
    block: &ImportConfig,
    config: &Config,
    providers: &Providers,
    env: &str,
) -> Result<Option<ResourceRecord>, ProviderError> {
    let Some(rc) = config.resource(&block.to) else {
        return Ok(None);
    };
    let Some(provider) = providers.get(&rc.provider) else {
        return Err(ProviderError::permanent(format!(
            "the provider `{}` is not configured",
            rc.provider
        )));
    };
    let ctx = OpContext::new(block.to.to_string(), config.stack.clone(), env);
    let value = provider.import(&ctx, &block.to.rtype, &block.id).await?;
    Ok(value.map(|value| ResourceRecord {
        addr: block.to.clone(),
        provider: rc.provider.clone(),
        // The object's own id, which can differ from the one imported by (a name).
        id: value
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or(&block.id)
            .to_string(),
        value,
        dependencies: rc.dependencies.iter().map(|d| d.target.clone()).collect(),
        schema_version: 0,
    }))
}
