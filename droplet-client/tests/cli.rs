//! The binary starts, answers --version and --help, and refuses a call without a command.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_droplet-client"))
}

#[test]
fn version_names_the_binary_and_version() {
    let out = bin().arg("--version").output().expect("run binary");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), format!("droplet-client {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_describes_the_tool_and_its_repo_flag() {
    let out = bin().arg("--help").output().expect("run binary");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Filecoin storage and retrieval market"), "{text}");
    assert!(text.contains("--repo"), "{text}");
}

#[test]
fn no_command_is_an_error_with_a_hint() {
    let out = bin().arg("--repo").arg("/nonexistent").output().expect("run binary");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--help"));
}

#[test]
fn unknown_flags_are_refused() {
    let out = bin().arg("--no-such-flag").output().expect("run binary");
    assert!(!out.status.success());
}
