//! Keeps the crate dependency directions and source conventions true, from `cargo metadata`
//! and the source tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Each workspace crate's direct normal (non-dev) dependencies.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut map = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap_or_default().to_string())
            .collect();
        map.insert(p["name"].as_str().unwrap_or_default().to_string(), deps);
    }
    map
}

fn assert_no_dep(deps: &BTreeMap<String, Vec<String>>, krate: &str, forbidden: &[&str]) {
    let Some(list) = deps.get(krate) else {
        panic!("crate {krate} not in workspace")
    };
    for d in list {
        for f in forbidden {
            assert!(
                !d.starts_with(f),
                "{krate} must not depend on {d} (forbidden prefix {f})"
            );
        }
    }
}

/// Fails when `krate` depends on a gig crate outside `allowed`.
fn assert_only_gig_deps(deps: &BTreeMap<String, Vec<String>>, krate: &str, allowed: &[&str]) {
    for d in &deps[krate] {
        assert!(
            !d.starts_with("gig-") || allowed.contains(&d.as_str()),
            "{krate} may depend only on {allowed:?} among gig crates, but depends on {d}"
        );
    }
}

#[test]
fn dependencies_point_one_way() {
    let deps = dependencies();
    let io_and_ui = [
        "tokio",
        "sled",
        "aws-",
        "miette",
        "clap",
        "indicatif",
        "anyhow",
    ];
    // The shared vocabulary sits below everything and depends on no gig crate.
    assert_no_dep(&deps, "gig-core", &io_and_ui);
    assert_no_dep(&deps, "gig-core", &["gig-", "pest", "sled", "petgraph"]);
    // The language front end knows only the vocabulary.
    assert_no_dep(&deps, "gig-dsl", &io_and_ui);
    assert_only_gig_deps(&deps, "gig-dsl", &["gig-core"]);
    // Providers and state speak the vocabulary, not the language front end.
    for krate in [
        "gig-provider",
        "gig-provider-random",
        "gig-provider-test",
        "gig-provider-aws",
        "gig-state",
        "gig-state-s3",
    ] {
        assert_no_dep(&deps, krate, &["gig-dsl", "pest"]);
        assert!(
            deps[krate].iter().any(|d| d == "gig-core"),
            "{krate} should take Value, addresses and diagnostics from gig-core"
        );
    }
    assert_no_dep(
        &deps,
        "gig-provider",
        &[
            "tokio",
            "sled",
            "aws-",
            "miette",
            "clap",
            "anyhow",
            "gig-state",
            "gig-engine",
        ],
    );
    assert_no_dep(
        &deps,
        "gig-state",
        &[
            "tokio",
            "aws-",
            "miette",
            "clap",
            "anyhow",
            "gig-engine",
            "gig-provider",
        ],
    );
    assert_no_dep(
        &deps,
        "gig-engine",
        &[
            "aws-",
            "miette",
            "clap",
            "indicatif",
            "anyhow",
            "gig-provider-aws",
            "gig-cli",
        ],
    );
    for p in ["gig-provider-random", "gig-provider-test"] {
        assert_no_dep(
            &deps,
            p,
            &[
                "aws-",
                "sled",
                "miette",
                "clap",
                "anyhow",
                "gig-engine",
                "gig-state",
            ],
        );
    }
    assert_no_dep(
        &deps,
        "gig-provider-aws",
        &[
            "sled",
            "miette",
            "clap",
            "anyhow",
            "gig-engine",
            "gig-state",
        ],
    );
    // The S3 state backend is state: it knows neither the engine nor the providers.
    assert_no_dep(
        &deps,
        "gig-state-s3",
        &[
            "sled",
            "miette",
            "clap",
            "anyhow",
            "gig-engine",
            "gig-provider",
        ],
    );
    for (krate, list) in &deps {
        if krate != "gig-provider-aws" && krate != "gig-state-s3" {
            assert!(
                !list.iter().any(|d| d.starts_with("aws-")),
                "only gig-provider-aws and gig-state-s3 may depend on the AWS SDK, but {krate} does"
            );
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name == "fuzz" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["core", "dsl", "engine", "providers", "state"] {
        rust_files(&root.join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line: {missing:?}"
    );
}
