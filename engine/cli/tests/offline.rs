//! The `gig` binary without any cloud: validate, fmt, offline plans of the reference
//! stack, diagnostics as JSON, exit codes, and secrets kept out of every output.

mod common;

use common::{stack, Gig};

#[test]
fn giggatek_validates_in_every_env() {
    let gig = Gig::new();
    for env in ["staging", "production"] {
        let run = gig
            .run(&["validate", "stacks/giggatek", "--env", env])
            .expect_code(0);
        assert!(run.stdout.contains("Valid:"), "{}", run.stdout);
    }
}

#[test]
fn stacks_are_formatted() {
    Gig::new().run(&["fmt", "--check", "stacks"]).expect_code(0);
}

#[test]
fn fmt_check_lists_files_that_would_change_and_fmt_fixes_them() {
    let dir = stack(&[("main.gig", "let   x =1\n"), ("ok.gig", "let y = 2\n")]);
    let gig = Gig::new();
    let run = gig
        .run_in(dir.path(), &["fmt", "--check", "."])
        .expect_code(1);
    assert!(
        run.stdout.contains("main.gig") && !run.stdout.contains("ok.gig"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.gig")).unwrap(),
        "let   x =1\n"
    );
    gig.run_in(dir.path(), &["fmt", "."]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.gig")).unwrap(),
        "let x = 1\n"
    );
    gig.run_in(dir.path(), &["fmt", "--check", "."])
        .expect_code(0);
}

/// Issue: a plan on empty state without data sources works offline and without credentials.
#[test]
fn giggatek_plans_offline_on_empty_state() {
    let gig = Gig::new()
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "");
    for env in ["staging", "production"] {
        let run = gig
            .run(&[
                "plan",
                "stacks/giggatek",
                "--env",
                env,
                "--detailed-exitcode",
            ])
            .expect_code(2);
        assert!(
            run.stdout
                .contains("to add, 0 to change, 0 to replace, 0 to destroy"),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains("will be updated") && !run.stdout.contains("destroyed"));
        assert!(
            run.stdout.contains("aws.db_instance.main will be created"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn validate_reports_json_diagnostics_with_positions() {
    let dir = stack(&[(
        "main.gig",
        "resource aws.vpc main {\n  cidr_blok = \"10.0.0.0/16\"\n}\n",
    )]);
    let run = Gig::new()
        .run_in(dir.path(), &["validate", ".", "--format", "json"])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON diagnostics");
    let diags = json["diagnostics"].as_array().expect("array");
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "gig::E0312")
        .expect("unknown attribute diagnostic");
    assert_eq!(unknown["line"], 2);
    assert_eq!(unknown["column"], 3);
    assert!(
        unknown["help"]
            .as_str()
            .unwrap_or_default()
            .contains("cidr_block"),
        "{unknown}"
    );
    assert!(
        diags.iter().any(|d| d["code"] == "gig::E0313"),
        "missing required cidr_block: {json}"
    );
}

#[test]
fn bad_input_gets_a_coded_diagnostic_not_a_panic() {
    let deep = format!("let x = {}1{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("utf8", b"let x = \"\xff\xfe\"\n".to_vec()),
        ("unterminated", b"let x = \"abc\n".to_vec()),
        ("deep", deep.into_bytes()),
        (
            "let_cycle",
            b"let a = b\nlet b = a\nresource random.id x { byte_length = a }\n".to_vec(),
        ),
        ("module_self", b"module me from \".\" {}\n".to_vec()),
        ("module_missing", b"module m from \"./nope\" {}\n".to_vec()),
    ];
    for (name, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.gig"), bytes).unwrap();
        let run = Gig::new().run_in(dir.path(), &["validate", "."]);
        assert_eq!(run.code, 1, "{name}: {}", run.all());
        assert!(
            run.stderr.contains("gig::E"),
            "{name}: no coded diagnostic: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.gig"), vec![b'#'; 50 * 1024 * 1024]).unwrap();
    let run = Gig::new().run_in(dir.path(), &["validate", "."]);
    assert_eq!(run.code, 1, "50 MB file: {}", run.all());
    assert!(run.stderr.contains("gig::E0005"), "{}", run.stderr);
}

#[test]
fn secret_params_never_appear_in_any_plan_format() {
    let dir = stack(&[(
        "main.gig",
        r#"param token: string { secret = true }
let header = "Bearer ${token}"
resource random.id a {
  byte_length = 8
  keepers     = { auth = header, plain = "visible" }
}
output auth = header
"#,
    )]);
    let gig = Gig::new().env("GIG_PARAM_token", "s3cr3t-t0ken-value");
    for format in ["text", "json", "markdown"] {
        let run = gig
            .run_in(dir.path(), &["plan", ".", "--format", format])
            .expect_code(0);
        assert!(
            !run.all().contains("s3cr3t-t0ken-value"),
            "{format} leaked the secret:\n{}",
            run.all()
        );
        assert!(run.stdout.contains("(secret)"), "{format}: {}", run.stdout);
    }
    let run = gig
        .run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    assert!(
        !run.all().contains("s3cr3t-t0ken-value"),
        "apply leaked the secret:\n{}",
        run.all()
    );
    for args in [
        &["output", "."][..],
        &["state", "export", "."],
        &["state", "show", "random.id.a", "."],
    ] {
        let run = gig.run_in(dir.path(), args).expect_code(0);
        assert!(
            !run.all().contains("s3cr3t-t0ken-value"),
            "{args:?} leaked the secret:\n{}",
            run.all()
        );
    }
}

#[test]
fn apply_refuses_without_a_terminal_or_auto_approve() {
    let dir = stack(&[("main.gig", "resource random.id a {\n  byte_length = 4\n}\n")]);
    let run = Gig::new()
        .run_in(dir.path(), &["apply", "."])
        .expect_code(1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
}

/// Regression: clap's usage errors exited 2, which CI reads as "changes/drift present"
/// (`gig drift --format promethus` made the drift cron report drift).
#[test]
fn usage_errors_exit_1_never_2() {
    let gig = Gig::new();
    let dir = stack(&[("main.gig", "resource random.id a {\n  byte_length = 4\n}\n")]);
    for args in [
        &["drift", ".", "--format", "promethus"][..],
        &["plan", ".", "--no-such-flag"],
        &["plan", ".", "--parallelism", "many"],
        &["no-such-command"],
        &["apply", ".", "--parallelism", "0"],
    ] {
        let run = gig.run_in(dir.path(), args).expect_code(1);
        assert!(!run.stderr.is_empty(), "{args:?} explains itself");
    }
    gig.run_in(dir.path(), &["--help"]).expect_code(0);
    gig.run_in(dir.path(), &["--version"]).expect_code(0);
}

/// Regression: giggatek base64-encoded launch template user data that the provider
/// encodes again, so instances would boot with base64 text cloud-init does not run.
#[test]
fn validate_warns_when_user_data_is_already_base64() {
    let gig = Gig::new();
    let template = |user_data: &str| {
        format!(
            "provider aws {{\n  region = \"us-east-1\"\n}}\n\nresource aws.launch_template app {{\n  name          = \"app\"\n  image_id      = \"ami-0820d0c589175bc01\"\n  instance_type = \"t3.micro\"\n  user_data     = {user_data}\n}}\n"
        )
    };
    let encoded = stack(&[(
        "main.gig",
        &template(r##"base64encode("#!/bin/bash\necho hello\n")"##),
    )]);
    let run = gig
        .run_in(encoded.path(), &["validate", "."])
        .expect_code(0);
    assert!(run.stderr.contains("gig::E0317"), "{}", run.stderr);
    let plain = stack(&[("main.gig", &template(r##""#!/bin/bash\necho hello\n""##))]);
    let run = gig.run_in(plain.path(), &["validate", "."]).expect_code(0);
    assert!(!run.stderr.contains("E0317"), "{}", run.stderr);
    let run = gig
        .run(&["validate", "stacks/giggatek", "--env", "production"])
        .expect_code(0);
    assert!(!run.stderr.contains("E0317"), "giggatek: {}", run.stderr);
}

/// Regression: a dependency cycle passed `gig validate` (exit 0); only plan and graph
/// found it.
#[test]
fn validate_reports_dependency_cycles() {
    let dir = stack(&[(
        "main.gig",
        "resource random.id a {\n  byte_length = random.id.b.byte_length\n}\n\
         resource random.id b {\n  byte_length = random.id.a.byte_length\n}\n",
    )]);
    let gig = Gig::new();
    let run = gig.run_in(dir.path(), &["validate", "."]).expect_code(1);
    assert!(run.stderr.contains("gig::E0301"), "{}", run.stderr);
    assert!(!run.stdout.contains("Valid"), "{}", run.stdout);
    let run = gig
        .run_in(dir.path(), &["validate", ".", "--format", "json"])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON diagnostics");
    assert!(
        json["diagnostics"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["code"] == "gig::E0301")),
        "{json}"
    );
}

/// Regression: a binary file named `main.gig` printed kilobytes of its bytes as the source
/// snippet of an invalid-UTF-8 error.
#[test]
fn a_binary_gig_file_is_one_short_error() {
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    elf.extend((0..4096u32).map(|i| (i % 251) as u8));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("nul_only", vec![0u8; 4096]),
        ("elf", elf),
        ("nul_in_text", b"let x = 1\n\x00\nlet y = 2\n".to_vec()),
    ];
    for (name, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.gig"), &bytes).unwrap();
        for args in [&["validate", "."][..], &["plan", "."]] {
            let run = Gig::new().run_in(dir.path(), args).expect_code(1);
            assert_eq!(
                run.stderr.matches("gig::E").count(),
                1,
                "{name} {args:?}: {}",
                run.stderr
            );
            assert!(run.stderr.contains("gig::E0019"), "{name}: {}", run.stderr);
            assert!(
                run.all().len() < 1000,
                "{name} {args:?}: short, not the file's bytes: {}",
                run.all()
            );
        }
    }
}

/// Regression: on an env with no state, `drift` said "No drift", `output` and the
/// `state` commands printed nothing, and all exited 0.
#[test]
fn commands_that_show_state_refuse_when_there_is_none() {
    let dir = stack(&[("main.gig", "resource random.id a {\n  byte_length = 4\n}\n")]);
    let gig = Gig::new();
    // A plan on a brand-new stack is normal, and leaves an empty state behind.
    gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    for args in [
        &["drift", "."][..],
        &["output", "."],
        &["state", "list", "."],
        &["state", "show", "random.id.a", "."],
        &["state", "history", "."],
        &["state", "export", "."],
    ] {
        let run = gig.run_in(dir.path(), args).expect_code(1);
        assert!(
            run.stderr.contains("gig::E0361"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    for args in [
        &["drift", "."][..],
        &["output", "."],
        &["state", "list", "."],
    ] {
        gig.run_in(dir.path(), args).expect_code(0);
    }
}

/// Regression: a stack with env files planned and applied against the `default` state
/// when `--env` was forgotten.
#[test]
fn a_stack_with_environments_requires_env_for_state() {
    let dir = stack(&[
        ("main.gig", "resource random.id a {\n  byte_length = 4\n}\n"),
        ("env/staging.gigvars", ""),
        ("env/production.gigvars", ""),
    ]);
    let gig = Gig::new();
    for args in [
        &["plan", "."][..],
        &["apply", ".", "--auto-approve"],
        &["destroy", ".", "--auto-approve"],
        &["drift", "."],
        &["output", "."],
        &["state", "list", "."],
    ] {
        let run = gig.run_in(dir.path(), args).expect_code(1);
        assert!(
            run.stderr.contains("gig::E0360"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("production, staging"),
            "names the envs: {}",
            run.stderr
        );
    }
    gig.run_in(dir.path(), &["validate", "."]).expect_code(0);
    gig.run_in(dir.path(), &["plan", ".", "--env", "staging"])
        .expect_code(0);
}

/// Regression: a damaged state showed sled's internals ("Read corrupted data at file
/// offset None backtrace ()") and no way out.
#[test]
fn a_damaged_state_is_a_coded_error_with_a_recovery_path() {
    let dir = stack(&[("main.gig", "resource random.id a {\n  byte_length = 4\n}\n")]);
    let gig = Gig::new();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    gig.run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    let sled = gig.only_state_dir("default").join("sled");
    let mut damaged = 0;
    for entry in std::fs::read_dir(&sled).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file == "conf" || file.starts_with("snap.") {
            let bytes: Vec<u8> = std::fs::read(&path)
                .unwrap()
                .iter()
                .map(|b| b ^ 0x5A)
                .collect();
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0, "no sled files in {}", sled.display());
    for args in [&["state", "list", "."][..], &["plan", "."]] {
        let run = gig.run_in(dir.path(), args).expect_code(1);
        assert!(
            run.stderr.contains("gig::E0362"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("gig import"), "{}", run.stderr);
        assert!(
            !run.all().contains("corrupted data at file offset")
                && !run.all().contains("backtrace"),
            "no sled internals: {}",
            run.all()
        );
    }
}

/// Regression: `plan --format json` printed nothing on stdout when the configuration had
/// errors, and `--log-format json` left diagnostics as drawn text on stderr.
#[test]
fn json_formats_cover_errors_too() {
    let dir = stack(&[(
        "main.gig",
        "resource aws.vpc main {\n  cidr_blok = \"10.0.0.0/16\"\n}\n",
    )]);
    let gig = Gig::new();
    let run = gig
        .run_in(dir.path(), &["plan", ".", "--format", "json"])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert!(
        json["diagnostics"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["code"] == "gig::E0312" && d["line"] == 2)),
        "{json}"
    );
    let run = gig
        .run_in(dir.path(), &["--log-format", "json", "plan", "."])
        .expect_code(1);
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["code"] == "gig::E0312" && l["level"] == "ERROR"),
        "{}",
        run.stderr
    );
    let envs = stack(&[
        ("main.gig", "resource random.id a {\n  byte_length = 4\n}\n"),
        ("env/staging.gigvars", ""),
    ]);
    let run = gig
        .run_in(envs.path(), &["plan", ".", "--format", "json"])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(json["diagnostics"][0]["code"], "gig::E0360", "{json}");
}

#[test]
fn output_has_format_json_and_keeps_the_json_alias() {
    let dir = stack(&[(
        "main.gig",
        "resource random.id a {\n  byte_length = 4\n}\noutput size = random.id.a.byte_length\noutput name = \"web\"\n",
    )]);
    let gig = Gig::new();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let json = gig
        .run_in(dir.path(), &["output", ".", "--format", "json"])
        .expect_code(0);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(parsed, serde_json::json!({ "name": "web", "size": 4 }));
    let alias = gig
        .run_in(dir.path(), &["output", ".", "--json"])
        .expect_code(0);
    assert_eq!(alias.stdout, json.stdout);
    let text = gig
        .run_in(dir.path(), &["output", ".", "--format", "text"])
        .expect_code(0);
    assert!(text.stdout.contains("name = \"web\""), "{}", text.stdout);
    let help = gig.run_in(dir.path(), &["output", "--help"]).expect_code(0);
    assert!(
        !help.stdout.contains("--json"),
        "the alias is hidden: {}",
        help.stdout
    );
}

/// `gig output --name N --raw` gives scripts the bare value; a secret output is printed
/// only with `--show-secret`, and asking for one by name without it is an error, not a
/// silent `(secret)`.
#[test]
fn output_raw_for_scripts_and_secrets_only_on_request() {
    let gig = Gig::new();
    let dir = stack(&[(
        "main.gig",
        "resource random.id a {\n  byte_length = 4\n}\n\nresource random.password pw {\n  length = 20\n}\n\noutput hex = random.id.a.hex\noutput pw = random.password.pw.result\noutput both = { hex = random.id.a.hex, pw = random.password.pw.result }\n",
    )]);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let hex = gig
        .run_in(dir.path(), &["output", ".", "--name", "hex", "--raw"])
        .expect_code(0);
    assert_eq!(
        hex.stdout.trim().len(),
        8,
        "8 hex digits alone: {:?}",
        hex.stdout
    );
    assert!(!hex.stdout.contains('"'));

    let refused = gig
        .run_in(dir.path(), &["output", ".", "--name", "pw", "--raw"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("--show-secret"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());

    let shown = gig
        .run_in(
            dir.path(),
            &["output", ".", "--name", "pw", "--raw", "--show-secret"],
        )
        .expect_code(0);
    let password = shown.stdout.trim().to_string();
    assert_eq!(password.len(), 20, "{password:?}");
    let all = gig.run_in(dir.path(), &["output", "."]).expect_code(0);
    assert!(all.stdout.contains("(secret)"));
    assert!(
        !all.stdout.contains(&password),
        "no secret without --show-secret"
    );
    let json = gig
        .run_in(
            dir.path(),
            &["output", ".", "--format", "json", "--show-secret"],
        )
        .expect_code(0);
    let j: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(j["pw"], serde_json::json!(password));
    assert_eq!(j["both"]["pw"], serde_json::json!(password));
    gig.run_in(dir.path(), &["output", ".", "--raw"])
        .expect_code(1);
}

/// `gig fmt -` formats standard input to standard output; `--diff` shows what would
/// change without writing; `--check` with either exits 1 when something would change.
#[test]
fn fmt_reads_stdin_and_shows_diffs_without_writing() {
    use std::io::Write as _;
    let messy = "resource random.id a {\nbyte_length=4\n}\n";
    let gig = Gig::new();
    let dir = stack(&[("main.gig", messy)]);
    let mut child = gig
        .command(dir.path(), &["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gig fmt -");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(messy.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("gig fmt - ran");
    assert!(out.status.success());
    let formatted = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(formatted.contains("  byte_length = 4"), "{formatted}");

    let diff = gig
        .run_in(dir.path(), &["fmt", ".", "--diff", "--check"])
        .expect_code(1);
    assert!(diff.stdout.contains("--- a/"), "{}", diff.stdout);
    assert!(diff.stdout.contains("-byte_length=4"), "{}", diff.stdout);
    assert!(
        diff.stdout.contains("+  byte_length = 4"),
        "{}",
        diff.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.gig")).unwrap(),
        messy,
        "--diff writes nothing"
    );
    gig.run_in(dir.path(), &["fmt", "."]).expect_code(0);
    let clean = gig
        .run_in(dir.path(), &["fmt", ".", "--diff", "--check"])
        .expect_code(0);
    assert!(clean.stdout.is_empty(), "{}", clean.stdout);
}

/// `gig providers schema --format json` describes every type the binary ships, with
/// attribute flags and nested block attributes, for editors and migration tools.
#[test]
fn providers_schema_lists_every_type_with_its_attributes() {
    let gig = Gig::new();
    let run = gig
        .run(&["providers", "schema", "--format", "json"])
        .expect_code(0);
    let j: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(j["format_version"], "1.0");
    let vpc = &j["providers"]["aws"]["resources"]["aws.vpc"]["attributes"];
    assert_eq!(vpc["cidr_block"]["type"], "string");
    assert_eq!(vpc["cidr_block"]["required"], true);
    assert_eq!(vpc["id"]["computed"], true);
    let lt = &j["providers"]["aws"]["resources"]["aws.launch_template"]["attributes"];
    assert_eq!(lt["latest_version"]["recomputed_on_update"], true);
    assert_eq!(lt["user_data"]["encoded_by_provider"], true);
    let ingress =
        &j["providers"]["aws"]["resources"]["aws.security_group"]["attributes"]["ingress"];
    assert!(
        ingress["attributes"]["protocol"].is_object(),
        "nested block attributes"
    );
    assert_eq!(
        j["providers"]["random"]["resources"]["random.password"]["attributes"]["result"]["secret"],
        true
    );
    let text = gig.run(&["providers", "schema"]).expect_code(0);
    assert!(
        text.stdout.contains("  resource aws.vpc"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("  data aws.ami"), "{}", text.stdout);
}

/// Shell completions come from the CLI definition itself, so every command and flag is
/// in them; the bash script is valid bash.
#[test]
fn completions_cover_every_command_for_bash_zsh_and_fish() {
    let gig = Gig::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = gig.run(&["completions", shell]).expect_code(0);
        for word in ["plan", "apply", "drift", "detailed-exitcode", "show-secret"] {
            assert!(run.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    let bash = gig.run(&["completions", "bash"]).expect_code(0);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &bash.stdout).expect("write script");
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(file.path())
        .status()
        .expect("bash is installed");
    assert!(status.success(), "bash -n rejects the completion script");
    gig.run(&["completions", "powershell-ish"]).expect_code(1);
}

/// `--policy warn` reports policy errors as warnings and plans anyway (a stack being
/// migrated need not accept every finding first); the default still blocks.
#[test]
fn policy_warn_plans_despite_findings() {
    let gig = Gig::new();
    let dir = stack(&[(
        "main.gig",
        "provider aws {\n  region = \"us-east-1\"\n}\n\nresource aws.db_instance main {\n  identifier        = \"main\"\n  engine            = \"mysql\"\n  instance_class    = \"db.t3.micro\"\n  allocated_storage = 20\n  username          = \"admin\"\n  password          = \"not-a-real-password\"\n  storage_encrypted = false\n  backup_retention_period = 7\n}\n",
    )]);
    let blocked = gig.run_in(dir.path(), &["plan", "."]).expect_code(1);
    assert!(blocked.stderr.contains("gig::E0502"), "{}", blocked.stderr);
    let warned = gig
        .run_in(
            dir.path(),
            &["plan", ".", "--policy", "warn", "--detailed-exitcode"],
        )
        .expect_code(2);
    assert!(warned.stderr.contains("gig::E0502"), "{}", warned.stderr);
    assert!(warned.stdout.contains("1 to add"), "{}", warned.stdout);
}

/// `--target` plans an instance and what it needs, `--exclude` leaves one out with what
/// needs it, both warn that the plan is partial and leave outputs alone; `--replace`
/// replaces an instance nothing forces.
#[test]
fn target_exclude_and_replace() {
    let gig = Gig::new();
    let source = |c_len: u32| {
        format!(
            "resource random.id a {{\n  byte_length = 4\n}}\n\nresource random.id b {{\n  byte_length = 4\n  keepers     = {{ a = random.id.a.hex }}\n}}\n\nresource random.id c {{\n  byte_length = {c_len}\n}}\n\noutput c = random.id.c.hex\n"
        )
    };
    let dir = stack(&[("main.gig", &source(4))]);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let ids = |gig: &Gig| -> serde_json::Value {
        let run = gig
            .run_in(dir.path(), &["state", "export", "."])
            .expect_code(0);
        serde_json::from_str(&run.stdout).expect("state JSON")
    };
    let before = ids(&gig);
    std::fs::write(dir.path().join("main.gig"), source(6)).unwrap();

    let targeted = gig
        .run_in(
            dir.path(),
            &[
                "plan",
                ".",
                "--target",
                "random.id.a",
                "--detailed-exitcode",
            ],
        )
        .expect_code(0);
    assert!(
        targeted.stderr.contains("gig::E0370"),
        "{}",
        targeted.stderr
    );
    assert!(
        targeted.stderr.contains("random.id.c"),
        "names what was left out: {}",
        targeted.stderr
    );
    gig.run_in(
        dir.path(),
        &[
            "plan",
            ".",
            "--exclude",
            "random.id.c",
            "--detailed-exitcode",
        ],
    )
    .expect_code(0);
    gig.run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(2);

    let replaced = gig
        .run_in(
            dir.path(),
            &[
                "apply",
                ".",
                "--replace",
                "random.id.a",
                "--exclude",
                "random.id.c",
                "--auto-approve",
            ],
        )
        .expect_code(0);
    assert!(replaced.stdout.contains("--replace"), "{}", replaced.stdout);
    let after = ids(&gig);
    let id = |s: &serde_json::Value, a: &str| s["resources"][a]["id"].clone();
    assert_ne!(
        id(&after, "random.id.a"),
        id(&before, "random.id.a"),
        "a replaced"
    );
    assert_ne!(
        id(&after, "random.id.b"),
        id(&before, "random.id.b"),
        "b follows a"
    );
    assert_eq!(
        id(&after, "random.id.c"),
        id(&before, "random.id.c"),
        "c excluded"
    );
    assert_eq!(
        after["outputs"], before["outputs"],
        "a partial apply keeps outputs"
    );
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    assert_ne!(
        ids(&gig)["outputs"],
        before["outputs"],
        "a full apply updates them"
    );
    gig.run_in(dir.path(), &["plan", ".", "--target", "aws.vpc[\"x"])
        .expect_code(1);
}

/// A `moved` block into a module and an `import` block, through the binary: the plan
/// names the move and the import, a saved plan carries them, and applying it renames
/// the record and records the imported object without creating anything.
#[test]
fn moved_and_import_blocks_plan_and_apply_through_a_saved_plan() {
    let dir = stack(&[("main.gig", "resource random.id a {\n  byte_length = 4\n}\n")]);
    let gig = Gig::new();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let listed = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    let id = listed
        .stdout
        .split('\t')
        .nth(1)
        .expect("an id")
        .trim()
        .to_string();

    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "net/main.gig",
        "resource random.id a {\n  byte_length = 4\n}\n",
    );
    write(
        "main.gig",
        "module net from \"./net\" {}\n\nresource random.id kept {\n  byte_length = 2\n}\n\n\
         moved {\n  from = random.id.a\n  to   = module.net.random.id.a\n}\n\n\
         import {\n  to = random.id.kept\n  id = \"AAE\"\n}\n",
    );
    let plan = dir.path().join("p.plan");
    let run = gig
        .run_in(dir.path(), &["plan", ".", "--out", plan.to_str().unwrap()])
        .expect_code(0);
    assert!(
        run.stdout
            .contains("module.net.random.id.a moved from random.id.a"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("random.id.kept will be imported (id \"AAE\")"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Plan: 1 to import, 1 to move, 0 to add"),
        "{}",
        run.stdout
    );
    let json = gig
        .run_in(dir.path(), &["plan", ".", "--format", "json"])
        .expect_code(0);
    assert!(
        json.stdout
            .contains("\"previous_address\": \"random.id.a\""),
        "{}",
        json.stdout
    );
    // Only state changes, and still changes for CI.
    gig.run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(2);

    gig.run_in(dir.path(), &["apply", plan.to_str().unwrap()])
        .expect_code(0);
    let listed = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    assert_eq!(
        listed.stdout,
        format!("random.id.kept\tAAE\nmodule.net.random.id.a\t{id}\n")
    );
    let history = gig
        .run_in(dir.path(), &["state", "history", "."])
        .expect_code(0);
    // The old address, the new one and the imported object, written by one session.
    let last = history.stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with("3 resources"), "{}", history.stdout);
    let again = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(again.stderr.contains("gig::E0386"), "{}", again.stderr);
}

/// A module expanded with `for`, read as one value, waited for with `depends_on`, and a
/// record moved into one of its instances: addresses carry the module's key everywhere
/// (plan, state, `state show`), and apply creates only what is new.
#[test]
fn modules_expanded_with_for_plan_apply_and_address_by_key() {
    let dir = stack(&[
        ("main.gig", "resource random.id x {\n  byte_length = 4\n}\n"),
        (
            "ids/main.gig",
            "param n: number = 4\nresource random.id x {\n  byte_length = n\n}\noutput hex = random.id.x.hex\n",
        ),
    ]);
    let gig = Gig::new();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    std::fs::write(
        dir.path().join("main.gig"),
        "module ids from \"./ids\" for k, n in { a = 4, b = 2 } {\n  n = n\n}\n\n\
         resource random.id after {\n  byte_length = 2\n  depends_on  = [module.ids]\n}\n\n\
         moved {\n  from = random.id.x\n  to   = module.ids[\"a\"].random.id.x\n}\n\n\
         output all = module.ids\n",
    )
    .unwrap();
    let run = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(
        run.stdout
            .contains("module.ids[\"a\"].random.id.x moved from random.id.x"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("# module.ids[\"b\"].random.id.x will be created"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Plan: 1 to move, 2 to add, 0 to change"),
        "{}",
        run.stdout
    );
    let graph = gig.run_in(dir.path(), &["graph", "."]).expect_code(0);
    // The dependency every resource of the module gives `after`, dashed as depends_on.
    assert!(
        graph
            .stdout
            .contains(r#""module.ids[\"b\"].random.id.x" -> "random.id.after" [style = dashed];"#),
        "{}",
        graph.stdout
    );

    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let listed = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    let addresses: Vec<&str> = listed
        .stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(
        addresses,
        [
            "random.id.after",
            "module.ids[\"a\"].random.id.x",
            "module.ids[\"b\"].random.id.x"
        ]
    );
    gig.run_in(
        dir.path(),
        &["state", "show", "module.ids[\"b\"].random.id.x", "."],
    )
    .expect_code(0);
    let out = gig.run_in(dir.path(), &["output", "."]).expect_code(0);
    assert!(
        out.stdout.contains("all = { a = { hex = "),
        "{}",
        out.stdout
    );
    let again = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// A string that holds a number converts by itself for a number attribute, and a
/// module argument for a number param does too; a string that does not is an error
/// that suggests `tonumber`.
#[test]
fn strings_holding_numbers_convert_and_other_strings_suggest_tonumber() {
    let dir = stack(&[
        (
            "main.gig",
            "resource random.id a {\n  byte_length = \"4\"\n}\nmodule m from \"./m\" {\n  n = \"2\"\n}\n",
        ),
        ("m/main.gig", "param n: number\nresource random.id b {\n  byte_length = n\n}\n"),
    ]);
    let gig = Gig::new();
    let run = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(run.stdout.contains("+ byte_length = 4\n"), "{}", run.stdout);
    assert!(run.stdout.contains("+ byte_length = 2\n"), "{}", run.stdout);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let again = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    std::fs::write(
        dir.path().join("main.gig"),
        "resource random.id a {\n  byte_length = \"four\"\n}\n",
    )
    .unwrap();
    let run = gig.run_in(dir.path(), &["validate", "."]).expect_code(1);
    assert!(run.stderr.contains("gig::E0315"), "{}", run.stderr);
    assert!(run.stderr.contains("tonumber("), "{}", run.stderr);
}

/// A reader that goes away (`gig apply | head`, a log collector that died) does not stop
/// an apply half-way: output that cannot be written is dropped, every result is
/// recorded, and the exit code is the apply's own.
#[test]
fn apply_finishes_and_records_everything_when_stdout_is_closed() {
    let gig = Gig::new();
    let text: String = (0..30)
        .map(|i| format!("resource random.id r{i} {{\n  byte_length = 4\n}}\n\n"))
        .collect();
    let dir = stack(&[("main.gig", text.as_str())]);
    let mut child = gig
        .command(dir.path(), &["apply", ".", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start gig apply");
    // Close the read end before gig writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("gig apply");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let list = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    assert_eq!(list.stdout.lines().count(), 30, "{}", list.all());
}
