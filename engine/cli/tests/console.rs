//! `gig console` through the binary: expressions on stdin are evaluated against the
//! stack (params, lets, functions) and its recorded state; errors are located
//! diagnostics; secrets stay hidden unless asked for.

mod common;

use std::io::Write as _;
use std::process::Stdio;

use common::{stack, Gig, Run};

const STACK: &str = r#"
param env: string = "staging"
param token: string { secret = true }

let name = "shop-${env}"

resource random.id a {
  byte_length = 4
}

resource random.password pw {
  length = 20
}

output hex = random.id.a.hex
"#;

/// Runs `gig console ARGS…` in `dir` with `input` on stdin.
fn console(gig: &Gig, dir: &std::path::Path, args: &[&str], input: &str) -> Run {
    let mut all = vec!["console", "."];
    all.extend_from_slice(args);
    let mut child = gig
        .command(dir, &all)
        .env("GIG_PARAM_token", "hunter2-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gig console");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("gig console");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn evaluates_lines_against_the_stack_and_its_state() {
    let gig = Gig::new().env("GIG_PARAM_token", "hunter2-token");
    let dir = stack(&[("main.gig", STACK)]);
    let at = dir.path();

    // Before any apply, resource attributes are not known yet; the rest is.
    let before = console(&gig, at, &[], "name\nrandom.id.a.hex\n").expect_code(0);
    assert_eq!(
        before.stdout,
        "\"shop-staging\"\n(known after apply)\n",
        "{}",
        before.all()
    );

    gig.run_in(at, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let hex = gig
        .run_in(at, &["output", ".", "--name", "hex", "--raw"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();

    let input = "random.id.a.hex\nupper(name)\n\n# a comment\nlength(random.id.a.hex) * 2\n{ id = random.id.a.hex, n = 1 }\n";
    let run = console(&gig, at, &[], input).expect_code(0);
    assert_eq!(
        run.stdout,
        format!("\"{hex}\"\n\"SHOP-STAGING\"\n16\n{{ id = \"{hex}\", n = 1 }}\n"),
        "{}",
        run.all()
    );

    let json = console(&gig, at, &["--format", "json"], "[random.id.a.hex, 1]\n").expect_code(0);
    assert_eq!(json.stdout, format!("[\"{hex}\",1]\n"), "{}", json.all());
}

#[test]
fn a_bad_line_is_a_located_error_and_fails_a_script() {
    let gig = Gig::new().env("GIG_PARAM_token", "hunter2-token");
    let dir = stack(&[("main.gig", STACK)]);
    let run = console(&gig, dir.path(), &[], "random.id.nope.hex\n1 + 1\n").expect_code(1);
    // The good line still prints; the bad one is a coded diagnostic in the line typed.
    assert_eq!(run.stdout, "2\n", "{}", run.all());
    assert!(run.stderr.contains("E0151"), "{}", run.all());
    assert!(run.stderr.contains("<console>"), "{}", run.all());
}

#[test]
fn secrets_are_hidden_unless_asked_for() {
    let gig = Gig::new().env("GIG_PARAM_token", "hunter2-token");
    let dir = stack(&[("main.gig", STACK)]);
    let at = dir.path();
    gig.run_in(at, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let hidden = console(
        &gig,
        at,
        &[],
        "token\nrandom.password.pw.result\n\"x-${token}\"\n",
    )
    .expect_code(0);
    assert_eq!(
        hidden.stdout,
        "(secret)\n(secret)\n(secret)\n",
        "{}",
        hidden.all()
    );
    assert!(!hidden.all().contains("hunter2"));

    let shown = console(&gig, at, &["--show-secret"], "token\n").expect_code(0);
    assert_eq!(shown.stdout, "\"hunter2-token\"\n", "{}", shown.all());
}
