//! Filecoin addresses: `fvm_shared`'s type, with Go's string rules and our wire impls.
//!
//! `fvm_shared` formats with a process-wide network prefix and *parses only that prefix*;
//! go-address accepts both `f` and `t` whatever the network. [`parse`] does what Go does.

use std::str::FromStr;

pub use fvm_shared::address::{Address, Network, Protocol};

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder};
use crate::json::{JsonError, LotusJson, Value, string_of};

/// Longest binary address go-address reads from CBOR.
pub const MAX_ADDRESS_LEN: u64 = 64;

/// Choose the prefix used when printing addresses (`f` for mainnet, `t` for every testnet).
/// Set once at start-up from `StateNetworkName`, as droplet does.
pub fn set_network(network: Network) {
    fvm_shared::address::set_current_network(network);
}

/// The prefix currently used for printing.
pub fn network() -> Network {
    fvm_shared::address::current_network()
}

/// Parse an address string with either network prefix.
pub fn parse(s: &str) -> Result<Address, fvm_shared::address::Error> {
    let current = match network() {
        Network::Mainnet => 'f',
        Network::Testnet => 't',
    };
    match s.chars().next() {
        Some('f' | 't') => {
            let normalized: String = std::iter::once(current).chain(s.chars().skip(1)).collect();
            Address::from_str(&normalized)
        }
        _ => Err(fvm_shared::address::Error::UnknownNetwork),
    }
}

/// Print an address with the given network's prefix, whatever the process-wide setting.
pub fn format(addr: &Address, network: Network) -> String {
    let s = addr.to_string();
    let prefix = match network {
        Network::Mainnet => 'f',
        Network::Testnet => 't',
    };
    std::iter::once(prefix).chain(s.chars().skip(1)).collect()
}

impl Encode for Address {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&self.to_bytes());
    }
}

impl Decode for Address {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("address", MAX_ADDRESS_LEN)?;
        Address::from_bytes(raw).map_err(|e| DecodeError::Invalid {
            what: "address",
            reason: e.to_string(),
            at,
        })
    }
}

impl LotusJson for Address {
    fn to_json(&self) -> Value {
        Value::String(self.to_string())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let s = string_of(v, "an address string")?;
        parse(&s).map_err(|e| JsonError(format!("invalid address {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{from_slice, to_vec};

    #[test]
    fn both_prefixes_parse_to_the_same_address() {
        let f = parse("f01234").expect("mainnet");
        let t = parse("t01234").expect("testnet");
        assert_eq!(f, t);
        assert_eq!(f, Address::new_id(1234));
        assert!(parse("x01234").is_err());
        assert!(parse("").is_err());
        assert_eq!(format(&f, Network::Testnet), "t01234");
        assert_eq!(format(&f, Network::Mainnet), "f01234");
    }

    #[test]
    fn cbor_is_a_byte_string_of_the_binary_form() {
        let a = Address::new_id(1234);
        assert_eq!(to_vec(&a), vec![0x43, 0x00, 0xd2, 0x09]);
        assert_eq!(from_slice::<Address>(&[0x43, 0x00, 0xd2, 0x09]), Ok(a));
        // Empty, unknown protocol, non-minimal ID varint: all refused.
        assert!(from_slice::<Address>(&[0x40]).is_err());
        assert!(from_slice::<Address>(&[0x42, 0x09, 0x01]).is_err());
        assert!(from_slice::<Address>(&[0x43, 0x00, 0x81, 0x00]).is_err());
    }
}
