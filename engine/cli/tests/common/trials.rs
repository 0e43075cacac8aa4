//! What every trial of the reference stack checks after gig was disturbed (killed,
//! interrupted, faulted) and run again: the plan is empty, no address has two live
//! objects, and every live object is in state under its address.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as J;

use super::Gig;

/// The reference stack, applied in its staging env.
pub const STACK: &str = "stacks/giggatek";

/// `gig apply` of `stack`'s staging env (the reference stack or a copy of it).
pub fn apply(stack: &str) -> [&str; 5] {
    ["apply", stack, "--env", "staging", "--auto-approve"]
}

/// A copy of the reference stack in a temporary directory (named like the original, so
/// its identity and tags are the same), with `provider aws` settings added; the path to
/// give gig is `dir.path().join("giggatek")`.
pub fn copy_with_provider_settings(settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = super::repo().join(STACK);
    let to = dir.path().join("giggatek");
    for entry in walk(&from) {
        let target = to.join(entry.strip_prefix(&from).expect("under the stack"));
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        let mut text = std::fs::read_to_string(&entry).expect("read a stack file");
        text = text.replace(
            "provider aws {\n",
            &format!("provider aws {{\n{settings}\n"),
        );
        std::fs::write(target, text).expect("write a stack file");
    }
    dir
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the stack directory") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == ".gig") {
            // A local state directory left by a manual run is not part of the stack.
            continue;
        }
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every object the emulator holds with the stack's staging tags: (ARN, gig:address).
/// Volumes and network interfaces carry their instance's tags and are left out: only
/// primary objects count.
pub fn tagged(endpoint: &str) -> Vec<(String, String)> {
    let filters =
        r#"[{"Key":"gig:stack","Values":["giggatek"]},{"Key":"gig:env","Values":["staging"]}]"#;
    super::tagged_objects(endpoint, "us-east-1", filters)
        .into_iter()
        .filter(|(arn, _)| !arn.contains(":volume/") && !arn.contains(":network-interface/"))
        .collect()
}

/// State as address → id.
pub fn state_ids(gig: &Gig, stack: &str) -> BTreeMap<String, String> {
    let export = gig
        .run(&["state", "export", stack, "--env", "staging"])
        .expect_code(0);
    let state: J = serde_json::from_str(&export.stdout).expect("state JSON");
    state["resources"]
        .as_object()
        .expect("resources")
        .iter()
        .map(|(addr, r)| {
            (
                addr.clone(),
                r["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The end state a trial converged to: the addresses in state and the addresses of the
/// live objects (one each).
#[derive(Debug, PartialEq, Eq)]
pub struct EndState {
    /// Addresses recorded in state.
    pub recorded: BTreeSet<String>,
    /// Addresses of the live objects carrying the stack's tags.
    pub live: BTreeSet<String>,
}

/// Checks the end state after a successful re-apply of `stack` through `gig`, against the emulator at `emulator` (not a proxy in front of it): the plan is
/// empty, no address has two live objects, every live object is in state. `what` names
/// the trial in the error.
pub fn converged(gig: &Gig, stack: &str, emulator: &str, what: &str) -> Result<EndState, String> {
    let plan = gig.run(&["plan", stack, "--env", "staging", "--detailed-exitcode"]);
    if plan.code != 0 {
        return Err(format!(
            "{what}: the plan after the re-apply is not empty: {}",
            plan.all()
        ));
    }
    let objects = tagged(emulator);
    let mut per_address: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (arn, address) in &objects {
        per_address.entry(address).or_default().push(arn);
    }
    let twice: Vec<_> = per_address
        .iter()
        .filter(|(_, arns)| arns.len() > 1)
        .collect();
    if !twice.is_empty() {
        return Err(format!("{what}: addresses with two objects: {twice:#?}"));
    }
    let state = state_ids(gig, stack);
    let missing: BTreeSet<_> = objects
        .iter()
        .filter(|(arn, address)| {
            state
                .get(address)
                .is_none_or(|id| !arn.contains(id.trim_start_matches('/')))
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!("{what}: live objects not in state: {missing:#?}"));
    }
    Ok(EndState {
        recorded: state.into_keys().collect(),
        live: per_address.keys().map(|a| (*a).to_string()).collect(),
    })
}

/// The number of trials: the environment variable `var`, else `default`.
pub fn count(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
