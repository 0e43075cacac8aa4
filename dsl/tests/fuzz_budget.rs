//! The three fuzz targets (`gig_dsl::fuzz::{parse, parse_fast, parse_lower}`) on a
//! fixed budget of generated inputs, so that the properties they check hold on every
//! test run, not only where nightly Rust and libFuzzer are installed.
//!
//! **Budget:** [`INPUTS_PER_TARGET`] (3,000) inputs per target, the same deterministic
//! stream for each, generated from [`SEED`]. Seven in eight inputs are a file of the
//! corpus (every `.gig` file under `dsl/tests/data` and `stacks/`) with one to four
//! edits: a flipped bit, an inserted grammar token (`{ } [ ] " ${ # // = ? :` and the
//! rest of [`gig_dsl::fuzz::PIECES`]), a truncation, a splice with another corpus file,
//! a deleted or a repeated range. The eighth is random bytes. The stream is the same on
//! every run, so a failure names the input number and repeats. The budget keeps this
//! test within a few seconds in a debug build; docs/notes/parser-fast-path.md says how
//! to run the real fuzzer for longer.

use std::path::Path;

use gig_dsl::fuzz::{files_below, Rng, PIECES};

/// How many generated inputs each target runs on.
const INPUTS_PER_TARGET: usize = 3_000;

/// The generator's seed; changing it changes every input.
const SEED: u64 = 0x6A09_E667_F3BC_C908;

/// The corpus the inputs are made from.
fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = files_below(&root.join("tests/data"));
    paths.extend(files_below(&root.join("../stacks")));
    let files: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "gig"))
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
        .collect();
    assert!(files.len() >= 50, "only {} corpus files", files.len());
    files
}

/// One edit of `data`; `corpus` supplies the other half of a splice.
fn edit(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let at = rng.below(data.len() + 1);
    match rng.below(6) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 => {
            let piece = PIECES[rng.below(PIECES.len())].as_bytes();
            data.splice(at..at, piece.iter().copied());
        }
        2 => data.truncate(at),
        3 => {
            let other = &corpus[rng.below(corpus.len())];
            let from = rng.below(other.len() + 1);
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        4 => {
            let end = (at + 1 + rng.below(16)).min(data.len());
            data.drain(at..end.max(at));
        }
        _ => {
            let end = (at + 1 + rng.below(32)).min(data.len());
            let range = data[at..end.max(at)].to_vec();
            data.splice(at..at, range);
        }
    }
}

/// The budget's inputs, the same on every run.
fn inputs() -> Vec<Vec<u8>> {
    let corpus = corpus();
    let mut rng = Rng(SEED);
    (0..INPUTS_PER_TARGET)
        .map(|_| {
            if rng.below(8) == 0 {
                let len = rng.below(512);
                return (0..len).map(|_| rng.next_u64() as u8).collect();
            }
            let mut data = corpus[rng.below(corpus.len())].clone();
            for _ in 0..=rng.below(4) {
                edit(&mut rng, &mut data, &corpus);
            }
            data
        })
        .collect()
}

/// Runs `target` on every input; a failure names the input so it can be replayed.
fn run(name: &str, target: fn(&[u8])) {
    let inputs = inputs();
    assert_eq!(inputs.len(), INPUTS_PER_TARGET);
    for (i, input) in inputs.iter().enumerate() {
        if std::panic::catch_unwind(|| target(input)).is_err() {
            panic!(
                "fuzz target {name} failed on input #{i}: {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn parse_target_holds_on_its_budget() {
    run("parse", gig_dsl::fuzz::parse);
}

#[test]
fn parse_fast_target_holds_on_its_budget() {
    run("parse_fast", gig_dsl::fuzz::parse_fast);
}

#[test]
fn parse_lower_target_holds_on_its_budget() {
    run("parse_lower", gig_dsl::fuzz::parse_lower);
}

/// The generator must produce varied inputs, or the budget would test little: mostly
/// distinct, some not valid UTF-8, some that parse without a diagnostic and many that
/// do not.
#[test]
fn the_inputs_are_varied() {
    let inputs = inputs();
    let distinct: std::collections::BTreeSet<&Vec<u8>> = inputs.iter().collect();
    assert!(
        distinct.len() > INPUTS_PER_TARGET * 9 / 10,
        "{}",
        distinct.len()
    );
    let not_utf8 = inputs
        .iter()
        .filter(|i| std::str::from_utf8(i).is_err())
        .count();
    let clean = inputs
        .iter()
        .filter(|i| {
            let text = String::from_utf8_lossy(i);
            gig_dsl::parse::parse_file(gig_core::span::FileId(0), &text)
                .1
                .is_empty()
        })
        .count();
    assert!(not_utf8 > 100, "{not_utf8} inputs are not UTF-8");
    assert!(
        clean > 100 && clean < INPUTS_PER_TARGET / 2,
        "{clean} inputs parse cleanly"
    );
}
