//! The binary starts, answers --version and --help, and refuses a call without a command.

tests::cli_contract_tests!("droplet");
