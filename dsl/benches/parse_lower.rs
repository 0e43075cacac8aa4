//! Benchmark of parse + lower on generated stacks of 1,000 and 10,000 resources.
//!
//! Each generated resource references one to three earlier ones, and every 50th is a
//! `for` expansion over three availability zones. The stack is written to a temporary
//! directory as 20 files and loaded with `load_dir`, as `gig plan` would. Reports the
//! median of several runs and the process's peak resident memory (VmHWM), then parsing
//! and lowering alone, and the two pest paths: items the hand-written parser declines
//! (pest alone) and items with syntax errors (explained by pest).
//!
//! Run: `cargo bench -p gig-dsl --bench parse_lower`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gig_core::diag::Diagnostic;
use gig_core::span::FileId;
use gig_dsl::ast::File;
use gig_dsl::load::{load_dir, LoadOptions};

// The same allocator as the `gig` binary, so the figures are what users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILES: usize = 20;

fn generate(n: usize) -> Vec<String> {
    let mut files = vec![String::new(); FILES];
    let _ = writeln!(files[0], "param env: string = \"bench\"\nlet azs = [\"us-east-1a\", \"us-east-1b\", \"us-east-1c\"]\nlet tags = {{ Environment = env }}\n");
    let mut expanded = Vec::new();
    for i in 0..n {
        let f = &mut files[i * FILES / n];
        if i % 50 == 49 {
            let _ = writeln!(f, "resource aws.subnet s{i} for k, az in azs {{");
            let _ = writeln!(f, "  vpc_id            = aws.vpc.r{}.id", i - 1);
            let _ = writeln!(
                f,
                "  cidr_block        = cidrsubnet(\"10.0.0.0/8\", 16, {} + k)",
                (i * 3) % 60000
            );
            let _ = writeln!(f, "  availability_zone = az");
            let _ = writeln!(
                f,
                "  tags              = merge(tags, {{ Name = \"s{i}-${{az}}\" }})"
            );
            let _ = writeln!(f, "}}\n");
            expanded.push(i);
            continue;
        }
        let _ = writeln!(f, "resource aws.vpc r{i} {{");
        let _ = writeln!(
            f,
            "  cidr_block = \"10.{}.{}.0/24\"",
            (i / 256) % 256,
            i % 256
        );
        let _ = writeln!(f, "  name       = \"vpc-${{env}}-{i}\"");
        let refs = if i == 0 { 0 } else { 1 + i % 3 };
        for j in 0..refs {
            let target = i - 1 - (j * 7 + i) % i.min(40);
            if target % 50 == 49 {
                let _ = writeln!(f, "  ref{j} = aws.subnet.s{target}[\"us-east-1b\"].id");
            } else {
                let _ = writeln!(f, "  ref{j} = aws.vpc.r{target}.id");
            }
        }
        if let Some(&e) = expanded.last() {
            if i % 10 == 0 {
                let _ = writeln!(f, "  subnets = [for s in aws.subnet.s{e} : s.id]");
            }
        }
        let _ = writeln!(
            f,
            "  tags = merge(tags, {{ Name = \"r{i}\", Index = tostring({i}) }})"
        );
        let _ = writeln!(
            f,
            "  ingress {{\n    from_port = {}\n    to_port = {}\n    protocol = \"tcp\"\n  }}",
            i % 1000,
            i % 1000
        );
        let _ = writeln!(f, "}}\n");
    }
    files
}

fn write_stack(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gig-bench-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create bench dir");
    for (i, text) in generate(n).iter().enumerate() {
        std::fs::write(dir.join(format!("f{i:02}.gig")), text).expect("write bench file");
    }
    dir
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn measure(dir: &Path, runs: usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let loaded = load_dir(dir, &LoadOptions::default());
        times.push(start.elapsed());
        let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "generated stack has errors: {errors:?}");
        count = loaded.config.map_or(0, |c| c.resources.len());
    }
    times.sort();
    (times[times.len() / 2], count)
}

/// A host for lowering alone: the generated stacks use no modules and no raw params.
struct NoHost;

impl gig_dsl::lower::Host for NoHost {
    fn load_module(
        &mut self,
        _dir: &Path,
    ) -> Result<Vec<gig_dsl::ast::File>, gig_dsl::lower::ModuleLoadError> {
        Err(gig_dsl::lower::ModuleLoadError::NoGigFiles)
    }

    fn parse_expr(
        &mut self,
        _origin: &str,
        _name: &str,
        _text: &str,
    ) -> Option<gig_dsl::ast::Expr> {
        None
    }
}

/// Median times of parsing alone and lowering alone.
fn split_phases(n: usize, runs: usize) -> (Duration, Duration) {
    let texts = generate(n);
    let mut parse_times = Vec::new();
    let mut lower_times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let inputs: Vec<(gig_core::span::FileId, &str)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (gig_core::span::FileId(i as u32), t.as_str()))
            .collect();
        let files: Vec<gig_dsl::ast::File> = gig_dsl::parse::parse_files(&inputs)
            .into_iter()
            .map(|(file, _)| file)
            .collect();
        parse_times.push(start.elapsed());
        let start = Instant::now();
        let root = gig_dsl::lower::ModuleSource { dir: None, files };
        let opts = gig_dsl::lower::LowerOptions {
            stack: "bench".into(),
            ..Default::default()
        };
        let (_config, diags) = gig_dsl::lower::lower(root, &opts, &mut NoHost);
        lower_times.push(start.elapsed());
        assert!(diags.is_empty(), "{diags:?}");
    }
    parse_times.sort();
    lower_times.sort();
    (parse_times[runs / 2], lower_times[runs / 2])
}

/// Median times of the pest paths over the generated texts: parsing with pest alone,
/// as for items the hand-written parser declines, and parsing a copy in which every
/// resource has a syntax error, so that every item takes the error path.
fn pest_paths(n: usize, runs: usize) -> (Duration, Duration) {
    let texts = generate(n);
    let broken: Vec<String> = texts
        .iter()
        .map(|t| t.replace("cidr_block", "cidr_block ="))
        .collect();
    let median = |texts: &[String], parse: fn(FileId, &str) -> (File, Vec<Diagnostic>)| {
        let mut times = Vec::new();
        let mut errors = 0;
        for _ in 0..runs {
            let start = Instant::now();
            errors = 0;
            for (i, t) in texts.iter().enumerate() {
                errors += parse(FileId(i as u32), t).1.len();
            }
            times.push(start.elapsed());
        }
        times.sort();
        (times[runs / 2], errors)
    };
    let (alone, errors) = median(&texts, gig_dsl::parse::parse_file_reference);
    assert_eq!(errors, 0, "the generated stack has syntax errors");
    let (failing, errors) = median(&broken, gig_dsl::parse::parse_file);
    assert!(errors >= n.min(100 * FILES), "only {errors} syntax errors");
    (alone, failing)
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored.
    let mut medians = Vec::new();
    for (n, runs) in [(1_000, 15), (10_000, 7)] {
        let dir = write_stack(n);
        let (median, instances) = measure(&dir, runs);
        let rss = peak_rss_mb();
        println!(
            "parse+lower {n:>6} resources ({instances} instances): median {:>8.2} ms over {runs} runs, peak RSS so far {rss:.1} MB",
            median.as_secs_f64() * 1000.0
        );
        medians.push(median);
        let (parse, lower) = split_phases(n, runs);
        println!(
            "  of which parse {:.2} ms, lower {:.2} ms (medians)",
            parse.as_secs_f64() * 1000.0,
            lower.as_secs_f64() * 1000.0
        );
        let (alone, failing) = pest_paths(n, runs);
        println!(
            "  pest alone {:.2} ms, every item a syntax error {:.2} ms (medians)",
            alone.as_secs_f64() * 1000.0,
            failing.as_secs_f64() * 1000.0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let ratio = medians[1].as_secs_f64() / medians[0].as_secs_f64();
    println!("scaling 1k → 10k: {ratio:.1}×");
}
