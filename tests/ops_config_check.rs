//! `mailscore config check`, as an operator runs it before a restart: the
//! real binary on real files. A good configuration exits 0 with a summary;
//! a bad config file, a bad rule table or an unusable TLS pair exits
//! non-zero with a message naming the file and the problem, and nothing
//! is started or written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "mailscore-config-check-{}",
            mailscore::test_id::generate()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailscore"))
        .args(["config", "check"])
        .args(args)
        .env_clear()
        .output()
        .expect("run mailscore config check")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn default_rules() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scoring-rules/default.toml"),
    )
    .unwrap()
}

#[test]
fn good_config_and_rules_pass_with_a_one_line_summary() {
    let scratch = Scratch::new();
    let data_dir = scratch.0.join("data");
    let rules = scratch.write("rules/default.toml", &default_rules());
    let config = scratch.write(
        "mailscore.toml",
        &format!(
            "domain = \"Test.Example.COM\"\nsmtp_listen = \"0.0.0.0:25\"\ndata_dir = {:?}\nrules = {:?}\nproxy_trusted = [\"10.0.0.0/8\"]\nlog_format = \"json\"\n",
            data_dir,
            rules.parent().unwrap()
        ),
    );
    let out = config_check(&["--config", config.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("config ok: "), "{stdout}");
    assert!(stdout.contains("@test.example.com"), "{stdout}");
    assert!(stdout.contains("SMTP 0.0.0.0:25"), "{stdout}");
    let embedded_count = default_rules().matches("\n[[rule]]\n").count();
    assert!(
        stdout.contains(&format!("{embedded_count} rules")),
        "{stdout}"
    );
    // Nothing was started or written: no data directory, no TLS pair.
    assert!(!data_dir.exists(), "config check created {data_dir:?}");

    // Without any file: the defaults and the embedded table.
    let out = config_check(&["--data-dir", data_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(embedded)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_config_file_is_named_with_its_problem() {
    let scratch = Scratch::new();
    let typo = scratch.write("typo.toml", "domian = \"test.example.com\"\n");
    let out = config_check(&["--config", typo.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("config check failed"), "{stderr}");
    assert!(stderr.contains("typo.toml"), "{stderr}");
    assert!(stderr.contains("domian"), "{stderr}");

    let invalid = scratch.write("invalid.toml", "max_message_size = 10\n");
    let out = config_check(&["--config", invalid.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("max_message_size"), "{stderr}");

    let missing = scratch.0.join("missing.toml");
    let out = config_check(&["--config", missing.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn bad_rule_table_is_named_with_its_problem() {
    let scratch = Scratch::new();
    // A rule on a field the SPF check does not have.
    let unknown_fact = default_rules().replacen(
        "\n[[rule]]\n",
        "\n[[rule]]\nid = \"NO_SUCH_FIELD\"\ncheck = \"spf\"\nwhen = { colour = \"red\" }\npoints = 1.0\ntitle = { en = \"x\", ja = \"x\" }\nadvice = { en = \"x\", ja = \"x\" }\n\n[[rule]]\n",
        1,
    );
    let rules = scratch.write("bad-rules/default.toml", &unknown_fact);
    let out = config_check(&["--rules", rules.parent().unwrap().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad-rules/default.toml"), "{stderr}");
    assert!(stderr.contains("NO_SUCH_FIELD"), "{stderr}");

    let broken = scratch.write("broken-rules/10-extra.toml", "[[rule]\nid = \n");
    let out = config_check(&["--rules", broken.parent().unwrap().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("10-extra.toml"), "{stderr}");

    let empty = scratch.0.join("empty-rules");
    std::fs::create_dir_all(&empty).unwrap();
    let out = config_check(&["--rules", empty.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("empty-rules") && stderr.contains("no .toml"),
        "{stderr}"
    );
}

#[test]
fn unusable_tls_files_are_named() {
    let scratch = Scratch::new();
    let cert = scratch.write("cert.pem", "not a certificate\n");
    let key = scratch.write("key.pem", "not a key\n");
    let out = config_check(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cert.pem"), "{stderr}");
}
