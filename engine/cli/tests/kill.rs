//! Durability after `kill -9` of a real `gig apply` (random provider, no cloud): every
//! resource the killed apply recorded is intact, the state opens without repair, and the
//! next apply finishes the rest without touching what was already recorded.

mod common;

use std::process::Stdio;

use common::{stack, Gig};

#[test]
fn state_survives_kill_9_of_an_apply() {
    // A chain, so the apply commits layer after layer for a while.
    let mut src = String::from("resource random.id r0000 {\n  byte_length = 8\n}\n");
    for i in 1..4000 {
        src.push_str(&format!(
            "resource random.id r{i:04} {{\n  byte_length = 8\n  keepers     = {{ prev = random.id.r{:04}.hex }}\n}}\n",
            i - 1
        ));
    }
    let dir = stack(&[("main.gig", &src)]);
    let gig = Gig::new();
    let mut child = gig
        .command(dir.path(), &["apply", ".", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gig apply");
    // Kill (SIGKILL: Child::kill) once a few hundred creates were reported.
    let stdout = child.stdout.take().expect("piped stdout");
    let mut created = 0;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let Ok(line) = line else { break };
        if line.contains(": created after") {
            created += 1;
            if created == 300 {
                break;
            }
        }
    }
    child.kill().expect("kill -9");
    let status = child.wait().expect("reap");
    assert!(!status.success(), "the apply was killed before it finished");

    let list = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    let recorded: Vec<&str> = list
        .stdout
        .lines()
        .filter(|l| !l.contains("interrupted create"))
        .collect();
    assert!(
        !recorded.is_empty() && recorded.len() < 4000,
        "killed mid-way: {} recorded",
        recorded.len()
    );
    // The chain is committed in order: what is recorded is a prefix, each record intact.
    for (i, line) in recorded.iter().enumerate() {
        let (addr, id) = line.split_once('\t').expect("address and id");
        assert_eq!(
            addr,
            format!("random.id.r{i:04}"),
            "recorded in dependency order"
        );
        assert!(!id.is_empty());
    }
    let before = gig
        .run_in(dir.path(), &["state", "export", "."])
        .expect_code(0);
    let before: serde_json::Value = serde_json::from_str(&before.stdout).unwrap();

    // The next apply creates only the rest; what was recorded stays as it was.
    let run = gig
        .run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let expected = format!("{} succeeded", 4000 - recorded.len());
    assert!(
        run.stdout.contains(&expected),
        "expected `{expected}`: {}",
        run.stdout.lines().last().unwrap_or("")
    );
    let after = gig
        .run_in(dir.path(), &["state", "export", "."])
        .expect_code(0);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    for (addr, rec) in before["resources"].as_object().unwrap() {
        assert_eq!(
            &after["resources"][addr], rec,
            "{addr} unchanged by the second apply"
        );
    }
    assert_eq!(after["resources"].as_object().unwrap().len(), 4000);
    gig.run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
}
