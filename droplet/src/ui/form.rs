//! Reading the values of the UI's forms, with errors that name the field.

use market_types::units::parse_fil;
use market_types::{Address, TokenAmount};

use super::Ui;

pub fn addr(s: &str, what: &str) -> Result<Address, String> {
    market_types::address::parse(s.trim()).map_err(|e| format!("{what} {s:?} is not an address: {e}"))
}

pub fn amount(s: &str, what: &str) -> Result<TokenAmount, String> {
    parse_fil(s.trim()).map_err(|e| format!("{what}: {s:?} is not an amount of FIL: {e}"))
}

/// The miner of a form, which this droplet must serve.
pub fn served(ui: &Ui, s: &str) -> Result<Address, String> {
    let m = addr(s, "miner")?;
    if !ui.api.miners.contains(&m) {
        return Err(format!("miner {m} is not served by this droplet"));
    }
    Ok(m)
}
