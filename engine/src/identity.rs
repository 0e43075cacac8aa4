//! The stack's identity: the name gig tags cloud objects with (`gig:stack`), builds the
//! names it derives for them from, and records in the stack's state.
//!
//! # Which name
//!
//! A stack is named explicitly by `--stack-name` or by `stack { name = "…" }`
//! ([`StackSource::is_explicit`]). Otherwise its identity is whatever its state
//! recorded; a state written before gig recorded identities belongs to the stack
//! directory's name, which was the identity then; and a new state takes a name derived
//! from the stack's path ([`derived_name`]), so that two stacks laid out alike
//! (`a/environments/dev`, `b/environments/dev`) never share tags or derived names.
//!
//! An explicit name that differs from the state's is refused ([`settle`], `E0357`):
//! the state's objects were created under the other name, and going on would fork the
//! stack silently. The caller records the settled name in the state before its first
//! write, so a derived name is fixed once and moving the stack later changes nothing.

use std::path::Path;

use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_dsl::config::{Config, StackSource, MAX_STACK_NAME};
use gig_dsl::load::directory_name;
use sha2::{Digest, Sha256};

/// What a state says about the identity it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing was ever written: the state takes the stack's identity.
    Fresh,
    /// Written before gig recorded identities: it belongs to the directory's name.
    Unrecorded,
    /// The identity recorded in the state.
    Named(String),
}

impl Recorded {
    /// From a state's recorded identity and serial.
    pub fn new(identity: Option<String>, serial: u64) -> Recorded {
        match identity {
            Some(name) => Recorded::Named(name),
            None if serial == 0 => Recorded::Fresh,
            None => Recorded::Unrecorded,
        }
    }
}

/// The name a new, unnamed stack gets: its directory's name (lowercased, other
/// characters than letters, digits and dashes made dashes) and the first 6 hex digits
/// of the SHA-256 of where it is, e.g. `dev-3f9a1c`. Inside a git work tree "where"
/// is the work tree's directory name and the path below it (`shop/environments/dev`),
/// so every checkout of a repository derives the same name wherever it is; elsewhere
/// it is the absolute path. The name is recorded in the state when the state is
/// created, so the path counts only then.
pub fn derived_name(dir: &Path) -> String {
    let absolute = dir
        .canonicalize()
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf());
    let place = match absolute.ancestors().find(|a| a.join(".git").exists()) {
        Some(root) => {
            let below = absolute.strip_prefix(root).unwrap_or(&absolute);
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let parts: Vec<String> = below
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            format!("git:{name}/{}", parts.join("/"))
        }
        None => absolute.to_string_lossy().into_owned(),
    };
    let digest = hex::encode(Sha256::digest(place.as_bytes()));
    let mut base: String = directory_name(&absolute)
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    base = base.trim_matches('-').to_string();
    base.truncate(MAX_STACK_NAME - 7);
    let base = base.trim_end_matches('-');
    if base.is_empty() || !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        format!("stack-{}", &digest[..6])
    } else {
        format!("{base}-{}", &digest[..6])
    }
}

/// The identity `config` plans and applies under against a state that says
/// `recorded`, or the `E0357` refusal when an explicit name contradicts the state.
/// `dir` is the stack directory, `state_dir` the state's (named in the refusal).
// The refusal is returned once per command, never in a loop: its size does not matter.
#[allow(clippy::result_large_err)]
pub fn settle(
    config: &Config,
    dir: &Path,
    recorded: &Recorded,
    state_dir: &Path,
) -> Result<String, Diagnostic> {
    let state_name = match recorded {
        Recorded::Fresh => None,
        Recorded::Unrecorded => Some(directory_name(dir)),
        Recorded::Named(name) => Some(name.clone()),
    };
    match (config.stack_source.is_explicit(), state_name) {
        (true, Some(state)) if state != config.stack => {
            Err(conflict(config, &state, recorded, state_dir))
        }
        (true, _) => Ok(config.stack.clone()),
        (false, Some(state)) => Ok(state),
        (false, None) => Ok(derived_name(dir)),
    }
}

/// A saved plan made under `planned` applied to a stack whose identity is now
/// `current`: the `E0357` refusal.
pub fn plan_conflict(planned: &str, current: &str) -> Diagnostic {
    Diagnostic::error(
        Code::E0357,
        "the stack's identity differs from its state's",
        Span::DETACHED,
    )
    .with_detail(format!(
        "The plan was made for stack `{planned}`, but the stack and its state are now `{current}`. Nothing was applied."
    ))
    .with_help("make a new plan with `gig plan --out FILE` and apply it")
}

fn conflict(config: &Config, state: &str, recorded: &Recorded, state_dir: &Path) -> Diagnostic {
    let (named, span) = match config.stack_source {
        StackSource::Declared(span) => ("its stack block names it", span),
        _ => ("--stack-name names it", Span::DETACHED),
    };
    let how = if *recorded == Recorded::Unrecorded {
        " (the state predates recorded identities, so it belongs to the directory's name)"
    } else {
        ""
    };
    Diagnostic::error(
        Code::E0357,
        "the stack's identity differs from its state's",
        span,
    )
    .with_detail(format!(
        "The stack is `{}` ({named}), but its state at `{}` belongs to stack `{state}`{how}. Its objects were created and tagged as `{state}`; going on would fork the stack. Nothing was planned or applied.",
        config.stack,
        state_dir.display(),
    ))
    .with_label("differs from the state's identity")
    .with_help(format!(
        "to keep using this state, name the stack `{state}`; to rename the stack, run `gig state rename-stack {}` first (objects already created keep the tags and names they were created with)",
        config.stack
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, source: StackSource) -> Config {
        Config {
            stack: name.to_string(),
            stack_source: source,
            ..Config::default()
        }
    }

    #[test]
    fn stacks_laid_out_alike_get_different_derived_names() {
        let a = derived_name(Path::new("/work/a/environments/dev"));
        let b = derived_name(Path::new("/work/b/environments/dev"));
        assert_ne!(a, b);
        assert!(a.starts_with("dev-") && a.len() == "dev-".len() + 6, "{a}");
        assert_eq!(a, derived_name(Path::new("/work/a/environments/dev")));
        assert!(gig_dsl::config::check_stack_name(&a).is_ok());
        let odd = derived_name(Path::new("/work/My_Stack.v2"));
        assert!(odd.starts_with("my-stack-v2-"), "{odd}");
        assert!(gig_dsl::config::check_stack_name(&odd).is_ok(), "{odd}");
        let digits = derived_name(Path::new("/work/2024"));
        assert!(digits.starts_with("stack-"), "{digits}");
    }

    #[test]
    fn the_state_decides_unless_the_name_is_explicit() {
        let dir = Path::new("/work/a/dev");
        let state = Path::new("/work/a/dev/.gig/state/default");
        let unnamed = config("dev", StackSource::Directory);
        assert_eq!(
            settle(&unnamed, dir, &Recorded::Fresh, state).unwrap(),
            derived_name(dir)
        );
        assert_eq!(
            settle(&unnamed, dir, &Recorded::Unrecorded, state).unwrap(),
            "dev"
        );
        assert_eq!(
            settle(&unnamed, dir, &Recorded::Named("shop".into()), state).unwrap(),
            "shop"
        );
        let named = config("shop", StackSource::Flag);
        assert_eq!(
            settle(&named, dir, &Recorded::Fresh, state).unwrap(),
            "shop"
        );
        assert_eq!(
            settle(&named, dir, &Recorded::Named("shop".into()), state).unwrap(),
            "shop"
        );
        let refused = settle(&named, dir, &Recorded::Unrecorded, state).unwrap_err();
        assert_eq!(refused.code, Code::E0357);
        assert!(refused.detail.contains("`shop`") && refused.detail.contains("`dev`"));
    }
}
