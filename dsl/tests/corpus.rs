//! Data-driven tests of loading and lowering.
//!
//! * `tests/data/ok/<case>.gig` (loaded with `load_str`) or `tests/data/ok/<case>/` (a
//!   stack directory, loaded with `load_dir`) must load without errors. The lowered
//!   config, summarised as text by [`summary`], must equal `tests/data/ok/<case>.expected`.
//!   Run with `UPDATE_EXPECT=1 cargo test -p gig-dsl --test corpus` to rewrite the
//!   `.expected` files after an intended change, then review the diff.
//! * `tests/data/err/<case>.gig` or `tests/data/err/<case>/main.gig` start with lines
//!   `// expect: E0150 3:5` — a diagnostic code and the 1-based line and column of its
//!   primary span (in another file of a directory case: `E0170 other.gig:3:5`; for a
//!   diagnostic with no position, such as one about `--param`: the code alone). Every
//!   expected diagnostic must appear, and no unexpected error may. This runs every file
//!   in err/, including the parser's `parse_*.gig` cases.
//!
//! Cases may set load options in leading comment lines: `// env: NAME`,
//! `// param: name=value`, `// env-param: name=value`, `// stack-name: NAME`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use expect_test::expect_file;
use gig_core::diag::{Code, Diagnostic, Severity};
use gig_core::span::{SourceMap, Span};
use gig_dsl::config::{Config, DependencyKind, StackSource};
use gig_dsl::eval::render;
use gig_dsl::load::{load_dir, load_str, LoadOptions, Loaded};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The cases in `dir`: `.gig` files and sub-directories, sorted.
fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "gig"))
        .collect();
    out.sort();
    out
}

/// The file holding a case's directives and expectations.
fn main_file(case: &Path) -> PathBuf {
    if case.is_dir() {
        case.join("main.gig")
    } else {
        case.to_path_buf()
    }
}

fn options(text: &str) -> LoadOptions {
    let mut opts = LoadOptions::default();
    for line in text.lines().map_while(|l| l.strip_prefix("// ")) {
        let split = |s: &str| {
            let (k, v) = s.split_once('=').expect("directive needs name=value");
            (k.trim().to_string(), v.to_string())
        };
        if let Some(env) = line.strip_prefix("env: ") {
            opts.env = Some(env.trim().to_string());
        } else if let Some(p) = line.strip_prefix("param: ") {
            opts.params.push(split(p));
        } else if let Some(p) = line.strip_prefix("env-param: ") {
            opts.env_params.push(split(p));
        } else if let Some(name) = line.strip_prefix("stack-name: ") {
            opts.stack_name = Some(name.trim().to_string());
        }
    }
    opts
}

/// Loads a case on a thread with a small stack, as a guard against deep recursion.
fn load_case(case: &Path) -> (Loaded, String) {
    let main = main_file(case);
    let text =
        std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("read {}: {e}", main.display()));
    let opts = options(&text);
    let case_owned = case.to_path_buf();
    let loaded = std::thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(move || {
            if case_owned.is_dir() {
                load_dir(&case_owned, &opts)
            } else {
                let name = case_owned
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                load_str(&name, &text, &opts)
            }
        })
        .expect("spawn")
        .join()
        .unwrap_or_else(|_| panic!("loading {} panicked", case.display()));
    let text = std::fs::read_to_string(&main).unwrap_or_default();
    (loaded, text)
}

fn pos(sources: &SourceMap, span: Span) -> String {
    match sources.get(span.file) {
        None => "-".to_string(),
        Some(f) => {
            let (l, c) = sources.line_col(span.file, span.start);
            let name = f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{name}:{l}:{c}")
        }
    }
}

fn describe(sources: &SourceMap, d: &Diagnostic) -> String {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "advice",
    };
    format!(
        "{sev} {} at {}: {} — {}",
        d.code,
        pos(sources, d.span),
        d.summary,
        d.detail
    )
}

/// A stable text summary of a lowered config.
fn summary(cfg: &Config, sources: &SourceMap) -> String {
    let mut s = String::new();
    let source = match cfg.stack_source {
        StackSource::Directory => "",
        StackSource::Declared(_) => " (declared)",
        StackSource::Flag => " (--stack-name)",
    };
    let _ = writeln!(s, "stack: {}{source}", cfg.stack);
    let _ = writeln!(s, "env: {}", cfg.env.as_deref().unwrap_or("-"));
    if let Some(state) = &cfg.state {
        let _ = writeln!(
            s,
            "state: location={} lock_timeout={} kms_key_id={}",
            state.location.as_deref().unwrap_or("-"),
            state.lock_timeout.as_deref().unwrap_or("-"),
            state.kms_key_id.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(s, "params:");
    for (name, p) in &cfg.params {
        let _ = writeln!(
            s,
            "  {name} = {}{}",
            p.value.display(),
            if p.secret { " [secret]" } else { "" }
        );
    }
    let _ = writeln!(s, "providers:");
    for (name, p) in &cfg.providers {
        let _ = writeln!(
            s,
            "  {name} = {} @ {}",
            p.settings.display(),
            pos(sources, p.span)
        );
    }
    let _ = writeln!(s, "resources:");
    for r in &cfg.resources {
        let _ = writeln!(
            s,
            "  {} @ {} (provider {})",
            r.addr,
            pos(sources, r.header_span),
            r.provider
        );
        for d in &r.dependencies {
            let kind = match d.kind {
                DependencyKind::Reference => "reference",
                DependencyKind::DependsOn => "depends_on",
            };
            let _ = writeln!(
                s,
                "    needs {} ({kind} at {})",
                d.target,
                pos(sources, d.span)
            );
        }
        let lc = &r.lifecycle;
        if lc.prevent_destroy || lc.create_before_destroy || !lc.ignore_changes.is_empty() {
            let _ = writeln!(
                s,
                "    lifecycle: prevent_destroy={} create_before_destroy={} ignore_changes={:?}",
                lc.prevent_destroy, lc.create_before_destroy, lc.ignore_changes
            );
        }
        if let gig_dsl::config::ExprKind::Object(entries) = &r.body.kind {
            for e in entries {
                let _ = writeln!(s, "    {} = {}", e.key, render(&e.value));
            }
        } else {
            let _ = writeln!(s, "    body is not an object: {}", render(&r.body));
        }
    }
    let _ = writeln!(s, "outputs:");
    for o in &cfg.outputs {
        let _ = writeln!(
            s,
            "  {} = {}{}",
            o.name,
            render(&o.value),
            if o.secret { " [secret]" } else { "" }
        );
    }
    if !cfg.deferred.is_empty() {
        let _ = writeln!(s, "expanded while planning:");
        for d in &cfg.deferred {
            let how = if d.count { "count" } else { "for" };
            let r = &d.resource;
            let _ = writeln!(s, "  {} ({how} over {})", r.addr, render(&d.collection));
            for dep in &r.dependencies {
                let _ = writeln!(s, "    needs {}", dep.target);
            }
            let _ = writeln!(s, "    body = {}", render(&r.body));
        }
    }
    if !cfg.moves.is_empty() {
        let _ = writeln!(s, "moved:");
        for m in &cfg.moves {
            let _ = writeln!(s, "  {} -> {} @ {}", m.from, m.to, pos(sources, m.span));
        }
    }
    if !cfg.imports.is_empty() {
        let _ = writeln!(s, "imports:");
        for i in &cfg.imports {
            let _ = writeln!(s, "  {} <- {:?} @ {}", i.to, i.id, pos(sources, i.span));
        }
    }
    s
}

#[test]
fn ok_cases_lower_to_their_expected_config() {
    let mut failures = Vec::new();
    let all = cases(&data_dir().join("ok"));
    assert!(!all.is_empty(), "no ok cases");
    for case in all {
        let (loaded, _) = load_case(&case);
        let errors: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| describe(&loaded.sources, d))
            .collect();
        let Some(cfg) = &loaded.config else {
            failures.push(format!(
                "{}: errors:\n  {}",
                case.display(),
                errors.join("\n  ")
            ));
            continue;
        };
        expect_file![case.with_extension("expected")].assert_eq(&summary(cfg, &loaded.sources));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The expected diagnostics of a case, as `CODE FILE:LINE:COL` or `CODE -`.
fn expectations(case: &Path, text: &str) -> BTreeSet<String> {
    let default_file = main_file(case)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    text.lines()
        .map_while(|l| l.strip_prefix("// "))
        .filter_map(|l| l.strip_prefix("expect: "))
        .map(|e| {
            let mut parts = e.split_whitespace();
            let code = parts.next().unwrap_or_default();
            match parts.next() {
                None => format!("{code} -"),
                Some(p) if p.matches(':').count() == 2 => format!("{code} {p}"),
                Some(p) => format!("{code} {default_file}:{p}"),
            }
        })
        .collect()
}

#[test]
fn err_cases_report_exactly_their_expected_diagnostics() {
    let mut failures = Vec::new();
    let all = cases(&data_dir().join("err"));
    assert!(!all.is_empty(), "no err cases");
    for case in all {
        let (loaded, text) = load_case(&case);
        let expected = expectations(&case, &text);
        if expected.is_empty() {
            failures.push(format!("{}: no `// expect:` line", case.display()));
            continue;
        }
        let key = |d: &Diagnostic| format!("{} {}", d.code, pos(&loaded.sources, d.span));
        let got: BTreeSet<String> = loaded.diagnostics.iter().map(key).collect();
        let missing: Vec<&String> = expected.iter().filter(|e| !got.contains(*e)).collect();
        let unexpected: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && !expected.contains(&key(d)))
            .map(|d| describe(&loaded.sources, d))
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            let all: Vec<String> = loaded
                .diagnostics
                .iter()
                .map(|d| describe(&loaded.sources, d))
                .collect();
            failures.push(format!(
                "{}:\n  missing: {missing:?}\n  unexpected: {unexpected:?}\n  all:\n    {}",
                case.display(),
                all.join("\n    ")
            ));
        }
        if loaded.config.is_some() && loaded.diagnostics.iter().any(Diagnostic::is_error) {
            failures.push(format!(
                "{}: a config was returned despite errors",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Codes of evaluation, functions, lowering and loading (01xx and 02xx) from the
/// registry; their docs pages are checked with the registry in `core/tests/codes.rs`.
fn front_end_codes() -> Vec<Code> {
    Code::ALL
        .iter()
        .copied()
        .filter(|c| ("E0100".."E0300").contains(&c.as_str()))
        .collect()
}

/// Codes that no source file can trigger, with the test that covers each instead.
const COVERED_ELSEWHERE: &[(Code, &str)] = &[
    (
        Code::E0110,
        "eval: only hand-built expressions can leave a local unbound",
    ),
    (
        Code::E0119,
        "eval::tests::runaway_iteration_hits_the_budget",
    ),
    (
        Code::E0199,
        "expansion::tests::a_data_value_not_known_while_planning_is_e0199",
    ),
    (Code::E0200, "corpus::empty_directory_is_a_diagnostic"),
    (Code::E0201, "corpus::missing_directory_is_a_diagnostic"),
];

#[test]
fn every_front_end_code_has_an_err_case() {
    let codes = front_end_codes();
    assert!(codes.len() > 20, "found only {codes:?}");
    let mut expected = BTreeSet::new();
    for case in cases(&data_dir().join("err")) {
        let text = std::fs::read_to_string(main_file(&case)).unwrap_or_default();
        for e in expectations(&case, &text) {
            expected.insert(e.split(' ').next().unwrap_or_default().to_string());
        }
    }
    let problems: Vec<String> = codes
        .iter()
        .filter(|code| !COVERED_ELSEWHERE.iter().any(|(c, _)| c == *code))
        .filter(|code| !expected.contains(code.as_str()))
        .map(|code| format!("{code} has no err case"))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn empty_directory_is_a_diagnostic() {
    let dir = std::env::temp_dir().join(format!("gig-corpus-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let loaded = load_dir(&dir, &LoadOptions::default());
    assert!(loaded.config.is_none());
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        [Code::E0200]
    );
    std::fs::remove_dir_all(&dir).expect("rmdir");
}

#[test]
fn missing_directory_is_a_diagnostic() {
    let loaded = load_dir(Path::new("/nonexistent/gig/stack"), &LoadOptions::default());
    assert!(loaded.config.is_none());
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        [Code::E0201]
    );
}

#[test]
fn param_precedence_default_gigvars_env_cli() {
    let dir = data_dir().join("ok/environments");
    let value = |opts: &LoadOptions| {
        let loaded = load_dir(&dir, opts);
        let cfg = loaded
            .config
            .unwrap_or_else(|| panic!("errors: {:?}", loaded.diagnostics));
        cfg.params["instance_type"].value.clone()
    };
    let mut opts = LoadOptions::default();
    assert_eq!(value(&opts), "t3.micro".into());
    opts.env = Some("production".into());
    assert_eq!(value(&opts), "m5.large".into());
    opts.env_params
        .push(("instance_type".into(), "c5.xlarge".into()));
    assert_eq!(value(&opts), "c5.xlarge".into());
    opts.params
        .push(("instance_type".into(), "r5.large".into()));
    opts.params
        .push(("instance_type".into(), "r5.2xlarge".into()));
    assert_eq!(value(&opts), "r5.2xlarge".into());
}

#[test]
fn secrets_never_appear_in_diagnostics() {
    let text = "param pw: string { secret = true }\nlet n = tonumber(pw)\nlet m = { a = 1 }[pw]\n";
    let opts = LoadOptions {
        params: vec![("pw".into(), "hunter2".into())],
        ..LoadOptions::default()
    };
    let loaded = load_str("s.gig", text, &opts);
    assert!(loaded.diagnostics.len() >= 2, "{:?}", loaded.diagnostics);
    for d in &loaded.diagnostics {
        let all = format!(
            "{} {} {} {:?} {:?}",
            d.summary, d.detail, d.label, d.help, d.labels
        );
        assert!(!all.contains("hunter2"), "secret leaked: {all}");
    }
}

#[test]
fn loading_the_giggatek_stack() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks/giggatek");
    for env in ["staging", "production"] {
        let opts = LoadOptions {
            env: Some(env.into()),
            ..LoadOptions::default()
        };
        let loaded = load_dir(&dir, &opts);
        let errors: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| describe(&loaded.sources, d))
            .collect();
        let cfg = loaded
            .config
            .unwrap_or_else(|| panic!("{env}: {}", errors.join("\n")));
        assert!(
            cfg.resources.len() > 30,
            "{env}: only {} resources",
            cfg.resources.len()
        );
        let db = cfg
            .resources
            .iter()
            .find(|r| r.addr.rtype == "aws.db_instance")
            .expect("a database");
        assert_eq!(db.lifecycle.prevent_destroy, env == "production");
        let multi_az = db
            .body
            .entry("multi_az")
            .and_then(|e| e.value.as_const().cloned());
        assert_eq!(multi_az, Some((env == "production").into()));
    }
}
