//! The command-line contract every binary keeps: `--version`, `--help`, and clear refusals.

use std::path::Path;
use std::process::{Command, Output};

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", bin.display()))
}

/// `--version` prints `<name> <version>` and succeeds.
pub fn assert_version(bin: &Path, name: &str, version: &str) {
    let out = run(bin, &["--version"]);
    assert!(out.status.success(), "{name} --version failed");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{name} {version}"));
}

/// `--help` succeeds and mentions each of `needles`.
pub fn assert_help_mentions(bin: &Path, needles: &[&str]) {
    let out = run(bin, &["--help"]);
    assert!(out.status.success(), "--help failed");
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in needles {
        assert!(text.contains(needle), "--help does not mention {needle:?}:\n{text}");
    }
}

/// A call without a command exits 2 and points at `--help`.
pub fn assert_no_command_is_refused(bin: &Path) {
    let out = run(bin, &["--repo", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--help"));
}

/// An unknown flag is refused.
pub fn assert_unknown_flag_is_refused(bin: &Path) {
    assert!(!run(bin, &["--no-such-flag"]).status.success());
}

/// The CLI contract as tests, for a binary of the calling package: `cli_contract_tests!("droplet");`
#[macro_export]
macro_rules! cli_contract_tests {
    ($name:literal) => {
        fn bin() -> &'static std::path::Path {
            std::path::Path::new(env!(concat!("CARGO_BIN_EXE_", $name)))
        }

        #[test]
        fn version_names_the_binary_and_version() {
            $crate::cli::assert_version(bin(), $name, env!("CARGO_PKG_VERSION"));
        }

        #[test]
        fn help_describes_the_tool_and_its_repo_flag() {
            $crate::cli::assert_help_mentions(bin(), &["Filecoin storage and retrieval market", "--repo"]);
        }

        #[test]
        fn no_command_is_an_error_with_a_hint() {
            $crate::cli::assert_no_command_is_refused(bin());
        }

        #[test]
        fn unknown_flags_are_refused() {
            $crate::cli::assert_unknown_flag_is_refused(bin());
        }
    };
}
