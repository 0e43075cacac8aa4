//! Encrypted state on S3 and KMS envelope encryption, through the binary against the
//! emulator's S3 and KMS: every object in the bucket is read back through the SDK and
//! searched for the generated password (found in a clear state, so the check can fail);
//! missing and wrong keys are coded errors that leave the state intact; `gig state
//! rekey` rotates passphrases on S3 and moves a state from a passphrase to a KMS key, in
//! a directory and on S3; a saved plan under a KMS key is sealed too.

mod common;
mod s3_support;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use common::PASSWORD_STACK_GROWN as STACK_GROWN;
use common::{Gig, Run, OTHER_PASSPHRASE, PASSPHRASE, PASSWORD_STACK as STACK};
use support::Emu;

const BUCKET: &str = "gig-sealed-state";

/// A fresh emulator with the bucket.
async fn start() -> (Emu, aws_sdk_s3::Client) {
    let emu = Emu::start().await;
    let s3 = s3_support::bucket(&emu.endpoint, BUCKET).await;
    (emu, s3)
}

/// A KMS key with the alias `alias/NAME`; returns the key id.
async fn kms_key(emu: &Emu, name: &str) -> String {
    let kms = s3_support::kms_client(&emu.endpoint);
    let key = kms.create_key().send().await.expect("create key");
    let id = key
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .expect("key id");
    kms.create_alias()
        .alias_name(format!("alias/{name}"))
        .target_key_id(&id)
        .send()
        .await
        .expect("create alias");
    id
}

/// Every object under `prefix`: its key and bytes, listed and read through the SDK.
async fn objects(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .expect("list");
    let mut out = Vec::new();
    for o in listed.contents() {
        let key = o.key().expect("key").to_string();
        let body = s3
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .expect("get")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec();
        out.push((key, body));
    }
    assert!(!out.is_empty(), "no objects under {prefix}");
    out
}

/// The keys of the objects under `prefix` whose bytes contain `needle`.
async fn objects_holding(s3: &aws_sdk_s3::Client, prefix: &str, needle: &str) -> Vec<String> {
    objects(s3, prefix)
        .await
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(key, _)| key)
        .collect()
}

/// A stack directory holding `src`, in a temporary directory of its own.
fn stack_dir(src: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("web");
    std::fs::create_dir_all(&dir).expect("stack dir");
    std::fs::write(dir.join("main.gig"), src).expect("main.gig");
    (root, dir)
}

/// Runs `gig ARGS…` in `dir` with `env` set for this run only.
fn run(gig: &Gig, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    gig.run_in_with(dir, args, env)
}

/// The generated password, read back through `gig output`.
fn password(gig: &Gig, dir: &Path, env: &[(&str, &str)]) -> String {
    let out = run(
        gig,
        dir,
        &["output", ".", "--name", "pw", "--raw", "--show-secret"],
        env,
    )
    .expect_code(0);
    let pw = out.stdout.trim().to_string();
    assert_eq!(pw.len(), 40, "{}", out.all());
    pw
}

/// A gig whose state lives under `s3://BUCKET/PREFIX` on the emulator.
fn s3_gig(emu: &Emu, prefix: &str) -> Gig {
    Gig::new()
        .with_endpoint(&emu.endpoint)
        .env("AWS_REGION", support::REGION)
        .env("GIG_STATE", &format!("s3://{BUCKET}/{prefix}"))
}

/// Asserts that `out` failed with `code` and printed none of `secrets`.
fn refused(out: Run, code: &str, secrets: &[&str]) {
    let out = out.expect_code(1);
    let all = out.all();
    assert!(all.contains(code), "expected {code}: {all}");
    for secret in secrets {
        assert!(!all.contains(secret), "a secret was printed: {all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_passphrase_no_s3_object_holds_the_password_and_a_wrong_key_changes_nothing() {
    let (emu, s3) = start().await;
    let key = [("GIG_STATE_PASSPHRASE", PASSPHRASE)];
    // Without a key, the password is in the bucket: the search below can fail.
    let (_clear_root, clear_dir) = stack_dir(STACK);
    let clear = s3_gig(&emu, "clear");
    run(&clear, &clear_dir, &["apply", ".", "--auto-approve"], &[]).expect_code(0);
    let clear_pw = password(&clear, &clear_dir, &[]);
    assert!(
        !objects_holding(&s3, "clear/", &clear_pw).await.is_empty(),
        "a clear state on S3 holds the password"
    );

    let (_root, dir) = stack_dir(STACK);
    let gig = s3_gig(&emu, "sealed");
    run(&gig, &dir, &["apply", ".", "--auto-approve"], &key).expect_code(0);
    std::fs::write(dir.join("main.gig"), STACK_GROWN).expect("edit");
    run(&gig, &dir, &["apply", ".", "--auto-approve"], &key).expect_code(0);
    let pw = password(&gig, &dir, &key);
    assert_eq!(
        objects_holding(&s3, "sealed/", &pw).await,
        Vec::<String>::new()
    );
    let stored = objects(&s3, "sealed/").await;
    assert!(
        stored.iter().any(|(k, _)| k.ends_with("/crypt.json")),
        "the key metadata is beside the objects: {:?}",
        stored.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    let history = run(&gig, &dir, &["state", "history", "."], &key)
        .expect_code(0)
        .stdout;
    assert_eq!(history.lines().count(), 2, "{history}");

    // Without a key nothing is read or written in clear; a wrong key is told apart.
    for args in [
        &["plan", "."][..],
        &["apply", ".", "--auto-approve"],
        &["state", "list", "."],
    ] {
        refused(run(&gig, &dir, args, &[]), "gig::E0530", &[&pw]);
        refused(
            run(
                &gig,
                &dir,
                args,
                &[("GIG_STATE_PASSPHRASE", OTHER_PASSPHRASE)],
            ),
            "gig::E0531",
            &[&pw, PASSPHRASE, OTHER_PASSPHRASE],
        );
    }
    assert_eq!(
        objects_holding(&s3, "sealed/", &pw).await,
        Vec::<String>::new()
    );
    let plan = run(&gig, &dir, &["plan", "."], &key).expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    assert_eq!(password(&gig, &dir, &key), pw);

    // Rotation: the new passphrase with the old as fallback, then rekey; afterwards the
    // old passphrase no longer opens the state and the new one alone reads everything.
    let rotating = [
        ("GIG_STATE_PASSPHRASE", OTHER_PASSPHRASE),
        ("GIG_STATE_PASSPHRASE_FALLBACK", PASSPHRASE),
    ];
    let rekey = run(&gig, &dir, &["state", "rekey", "."], &rotating).expect_code(0);
    assert!(rekey.stdout.contains("Encrypted"), "{}", rekey.stdout);
    let new_key = [("GIG_STATE_PASSPHRASE", OTHER_PASSPHRASE)];
    assert_eq!(password(&gig, &dir, &new_key), pw);
    refused(
        run(&gig, &dir, &["state", "list", "."], &key),
        "gig::E0531",
        &[&pw],
    );
    assert_eq!(
        run(&gig, &dir, &["state", "history", "."], &new_key)
            .expect_code(0)
            .stdout,
        history
    );
    assert_eq!(
        objects_holding(&s3, "sealed/", &pw).await,
        Vec::<String>::new()
    );

    // A clear state gets encrypted by its first write with a key.
    std::fs::write(clear_dir.join("main.gig"), STACK_GROWN).expect("edit");
    run(&clear, &clear_dir, &["apply", ".", "--auto-approve"], &key).expect_code(0);
    assert_eq!(
        objects_holding(&s3, "clear/", &clear_pw).await,
        Vec::<String>::new()
    );
    refused(
        run(&clear, &clear_dir, &["state", "list", "."], &[]),
        "gig::E0530",
        &[&clear_pw],
    );
    assert_eq!(password(&clear, &clear_dir, &key), clear_pw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_key_encrypts_the_state_on_s3_and_a_wrong_or_missing_key_is_coded() {
    let (emu, s3) = start().await;
    kms_key(&emu, "gig-state").await;
    kms_key(&emu, "other").await;
    let kms = [("GIG_STATE_KMS_KEY_ID", "alias/gig-state")];
    let (_root, dir) = stack_dir(STACK);
    let gig = s3_gig(&emu, "kms");
    run(&gig, &dir, &["apply", ".", "--auto-approve"], &kms).expect_code(0);
    let pw = password(&gig, &dir, &kms);
    assert_eq!(
        objects_holding(&s3, "kms/", &pw).await,
        Vec::<String>::new()
    );
    let meta = objects(&s3, "kms/")
        .await
        .into_iter()
        .find(|(k, _)| k.ends_with("/crypt.json"))
        .expect("crypt.json");
    let meta = String::from_utf8(meta.1).expect("clear metadata");
    assert!(meta.contains("\"kind\":\"kms\""), "{meta}");
    assert!(meta.contains("\"wrapped\""), "{meta}");

    refused(run(&gig, &dir, &["plan", "."], &[]), "gig::E0530", &[&pw]);
    let other = run(
        &gig,
        &dir,
        &["plan", "."],
        &[("GIG_STATE_KMS_KEY_ID", "alias/other")],
    )
    .expect_code(1);
    let all = other.all();
    assert!(
        all.contains("gig::E0516") || all.contains("gig::E0531"),
        "{all}"
    );
    assert!(!all.contains(&pw), "{all}");
    refused(
        run(
            &gig,
            &dir,
            &["plan", "."],
            &[("GIG_STATE_KMS_KEY_ID", "alias/no-such-key")],
        ),
        "gig::E0516",
        &[&pw],
    );
    // A new state under a key that does not exist is refused before anything is written.
    let (_root2, fresh) = stack_dir(STACK);
    let nowhere = s3_gig(&emu, "nowhere");
    refused(
        run(
            &nowhere,
            &fresh,
            &["apply", ".", "--auto-approve"],
            &[("GIG_STATE_KMS_KEY_ID", "alias/no-such-key")],
        ),
        "gig::E0516",
        &[],
    );
    let plan = run(&gig, &dir, &["plan", "."], &kms).expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);

    // A passphrase-encrypted state on S3 moves to the KMS key with rekey.
    let (_root3, moving_dir) = stack_dir(STACK);
    let moving = s3_gig(&emu, "moving");
    let passphrase = [("GIG_STATE_PASSPHRASE", PASSPHRASE)];
    run(
        &moving,
        &moving_dir,
        &["apply", ".", "--auto-approve"],
        &passphrase,
    )
    .expect_code(0);
    let moving_pw = password(&moving, &moving_dir, &passphrase);
    let both = [
        ("GIG_STATE_KMS_KEY_ID", "alias/gig-state"),
        ("GIG_STATE_PASSPHRASE", PASSPHRASE),
    ];
    run(&moving, &moving_dir, &["state", "rekey", "."], &both).expect_code(0);
    assert_eq!(password(&moving, &moving_dir, &kms), moving_pw);
    refused(
        run(&moving, &moving_dir, &["state", "list", "."], &passphrase),
        "gig::E0531",
        &[&moving_pw],
    );
    assert_eq!(
        objects_holding(&s3, "moving/", &moving_pw).await,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_moves_a_state_directory_from_a_passphrase_to_a_kms_key() {
    let (emu, _s3) = start().await;
    kms_key(&emu, "gig-state").await;
    let (_root, dir) = stack_dir(STACK);
    let gig = Gig::new()
        .with_endpoint(&emu.endpoint)
        .env("AWS_REGION", support::REGION);
    let passphrase = [("GIG_STATE_PASSPHRASE", PASSPHRASE)];
    run(&gig, &dir, &["apply", ".", "--auto-approve"], &passphrase).expect_code(0);
    let pw = password(&gig, &dir, &passphrase);
    let both = [
        ("GIG_STATE_KMS_KEY_ID", "alias/gig-state"),
        ("GIG_STATE_PASSPHRASE", PASSPHRASE),
    ];
    run(&gig, &dir, &["state", "rekey", "."], &both).expect_code(0);
    let kms = [("GIG_STATE_KMS_KEY_ID", "alias/gig-state")];
    assert_eq!(password(&gig, &dir, &kms), pw);
    refused(
        run(&gig, &dir, &["state", "list", "."], &passphrase),
        "gig::E0531",
        &[&pw],
    );
    refused(
        run(&gig, &dir, &["state", "list", "."], &[]),
        "gig::E0530",
        &[&pw],
    );
    let state_dir = gig.only_state_dir("default");
    let mut files = vec![state_dir];
    let mut holding = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
        } else if std::fs::read(&path)
            .expect("file")
            .windows(pw.len())
            .any(|w| w == pw.as_bytes())
        {
            holding.push(path);
        }
    }
    assert_eq!(holding, Vec::<PathBuf>::new());
    refused(
        run(
            &gig,
            &dir,
            &["state", "list", "."],
            &[("GIG_STATE_KMS_KEY_ID", "alias/no-such-key")],
        ),
        "gig::E0516",
        &[&pw],
    );
    // A saved plan is sealed under a data key of its own from the same KMS key.
    std::fs::write(dir.join("main.gig"), STACK_GROWN).expect("edit");
    let plan_file = dir.join("grown.plan");
    let plan_path = plan_file.to_str().expect("utf-8 path");
    run(&gig, &dir, &["plan", ".", "--out", plan_path], &kms).expect_code(0);
    let sealed = std::fs::read(&plan_file).expect("plan file");
    assert!(!sealed.windows(pw.len()).any(|w| w == pw.as_bytes()));
    assert!(String::from_utf8_lossy(&sealed).contains("\"kind\": \"kms\""));
    refused(
        run(&gig, &dir, &["apply", plan_path, "--auto-approve"], &[]),
        "gig::E0530",
        &[&pw],
    );
    run(&gig, &dir, &["apply", plan_path, "--auto-approve"], &kms).expect_code(0);
    let plan = run(&gig, &dir, &["plan", "."], &kms).expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}
