//! Units as droplet and lotus read and print them: FIL amounts, byte sizes, piece sizes,
//! epochs and Go duration strings.

use std::time::Duration;

use crate::bigint::{BigInt, Sign, TokenAmount};
use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder};
use crate::json::{JsonError, LotusJson, Value};

/// A chain height (`abi.ChainEpoch`).
pub type ChainEpoch = i64;
/// An on-chain deal ID (`abi.DealID`).
pub type DealId = u64;
/// Seconds per epoch on every Filecoin network.
pub const EPOCH_DURATION_SECONDS: i64 = 30;
/// Epochs in a day (2880).
pub const EPOCHS_IN_DAY: i64 = 24 * 60 * 60 / EPOCH_DURATION_SECONDS;
/// attoFIL in one FIL.
pub const ATTO_PER_FIL: u64 = 1_000_000_000_000_000_000;

/// A unit string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnitError(pub String);

// ---------------------------------------------------------------- FIL amounts

/// Parse a FIL amount as lotus `types.ParseFIL` does ("1", "0.01fil", "0.01 FIL",
/// "500 attoFIL", "500afil"), and also the milli/micro/nano/pico/femto prefixes that lotus
/// prints but cannot read back ("10 mFIL").
pub fn parse_fil(s: &str) -> Result<TokenAmount, UnitError> {
    let s = s.trim();
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_len);
    let exponent: u32 = match suffix.trim().to_lowercase().as_str() {
        "" | "fil" => 18,
        "mfil" | "millifil" => 15,
        "μfil" | "µfil" | "ufil" | "microfil" => 12,
        "nfil" | "nanofil" => 9,
        "pfil" | "picofil" => 6,
        "ffil" | "femtofil" => 3,
        "afil" | "attofil" => 0,
        _ => {
            return Err(UnitError(format!(
                "unrecognized suffix {suffix:?} in {s:?}: use FIL, mFIL, μFIL, nFIL, pFIL, fFIL or attoFIL"
            )));
        }
    };
    if number.len() > 50 {
        return Err(UnitError(format!("amount {s:?} is too long")));
    }
    let atto = parse_scaled_decimal(number, exponent).ok_or_else(|| {
        if number.is_empty() || number.parse::<f64>().is_err() {
            UnitError(format!("failed to parse {s:?} as a decimal number"))
        } else {
            UnitError(format!(
                "invalid amount {s:?}: smaller than one attoFIL (the smallest unit)"
            ))
        }
    })?;
    Ok(TokenAmount::from_atto(atto))
}

/// `number × 10^exponent` as an integer, or None if it is not a decimal or not whole.
fn parse_scaled_decimal(number: &str, exponent: u32) -> Option<BigInt> {
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.chars().all(|c| c.is_ascii_digit()) || !frac_part.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > exponent as usize {
        return None;
    }
    let mut all = String::from(if int_part.is_empty() { "0" } else { int_part });
    all.push_str(frac_trimmed);
    all.extend(std::iter::repeat_n('0', exponent as usize - frac_trimmed.len()));
    let v: BigInt = all.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// Print like lotus `types.FIL.String()`: "0 FIL", "0.01 FIL", "1000.5 FIL".
pub fn format_fil(amount: &TokenAmount) -> String {
    format!("{} FIL", format_fil_unitless(amount))
}

/// Print like lotus `types.FIL.Unitless()`: exact, trailing zeros trimmed.
pub fn format_fil_unitless(amount: &TokenAmount) -> String {
    fixed_point(amount.atto(), &BigInt::from(ATTO_PER_FIL), 18)
}

/// Print like lotus `types.FIL.Short()`: three decimals with a unit prefix ("10 mFIL").
pub fn format_fil_short(amount: &TokenAmount) -> String {
    let atto = amount.atto();
    let abs = if atto.sign() == Sign::Minus {
        -atto.clone()
    } else {
        atto.clone()
    };
    let mut unit = BigInt::from(1u64);
    let mut prefix = "";
    let mut found = false;
    for p in ["a", "f", "p", "n", "μ", "m"] {
        if abs < &unit * 1000u32 {
            prefix = p;
            found = true;
            break;
        }
        unit *= 1000u32;
    }
    if !found {
        prefix = "";
    }
    if atto.sign() == Sign::NoSign {
        return "0".to_string();
    }
    format!("{} {prefix}FIL", fixed_point(atto, &unit, 3))
}

/// `value / unit` with `digits` decimals, rounded half away from zero, trailing zeros trimmed.
fn fixed_point(value: &BigInt, unit: &BigInt, digits: u32) -> String {
    if value.sign() == Sign::NoSign {
        return "0".to_string();
    }
    let negative = value.sign() == Sign::Minus;
    let abs = if negative { -value.clone() } else { value.clone() };
    let scale = BigInt::from(10u64).pow(digits);
    let scaled = &abs * &scale;
    let mut q = &scaled / unit;
    let r = &scaled % unit;
    if &r * 2u32 >= *unit {
        q += 1u32;
    }
    let int_part = &q / &scale;
    let frac_part = &q % &scale;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&int_part.to_string());
    let frac = format!("{:0>width$}", frac_part.to_string(), width = digits as usize);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

// ---------------------------------------------------------------- byte sizes

/// Parse a size as docker `units.RAMInBytes` does, which droplet uses for piece-size flags:
/// binary multipliers whatever the spelling ("512b", "512M", "8MiB", "32GiB", "1.5 GiB").
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let t = s.trim();
    let number_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, suffix) = t.split_at(number_len);
    let suffix = suffix.trim_start().to_ascii_lowercase();
    let suffix = suffix.strip_suffix('b').unwrap_or(&suffix);
    let suffix = suffix.strip_suffix('i').unwrap_or(suffix);
    let shift = match suffix {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => {
            return Err(UnitError(format!(
                "invalid size {s:?}: use a number with an optional unit, e.g. 512B, 8MiB, 32GiB"
            )));
        }
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() || !frac_part.chars().all(|c| c.is_ascii_digit()) {
        return Err(UnitError(format!("invalid size {s:?}: no number")));
    }
    let whole: u128 = int_part.parse().map_err(|_| UnitError(format!("invalid size {s:?}")))?;
    let frac_digits = frac_part.len().min(18) as u32;
    let frac: u128 = if frac_digits == 0 {
        0
    } else {
        frac_part[..frac_digits as usize]
            .parse()
            .map_err(|_| UnitError(format!("invalid size {s:?}")))?
    };
    let too_large = || UnitError(format!("size {s:?} is too large"));
    let bytes = whole
        .checked_mul(1u128 << shift)
        .and_then(|b| b.checked_add((frac << shift) / 10u128.pow(frac_digits)))
        .ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Print like lotus `types.SizeStr`: binary units, four significant digits ("3.969 KiB").
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut f = bytes as f64;
    let mut i = 0;
    while f >= 1024.0 && i + 1 < UNITS.len() {
        f /= 1024.0;
        i += 1;
    }
    format!("{} {}", format_g4(f), UNITS[i])
}

/// Go's `%.4g` for 0 ≤ f < 10000.
fn format_g4(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let magnitude = f.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).max(0) as usize;
    let s = format!("{f:.decimals$}");
    // Rounding may have added a digit (999.95 -> 1000.0): trim as %g would.
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

// ---------------------------------------------------------------- piece sizes

/// A padded piece size (`abi.PaddedPieceSize`): a power of two, at least 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PaddedPieceSize(pub u64);

/// An unpadded piece size (`abi.UnpaddedPieceSize`): 127/128 of a padded size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnpaddedPieceSize(pub u64);

impl PaddedPieceSize {
    pub fn validate(self) -> Result<(), UnitError> {
        if self.0 < 128 {
            return Err(UnitError(format!(
                "padded piece size {} is below the minimum of 128",
                self.0
            )));
        }
        if !self.0.is_power_of_two() {
            return Err(UnitError(format!("padded piece size {} is not a power of two", self.0)));
        }
        Ok(())
    }

    pub fn unpadded(self) -> UnpaddedPieceSize {
        UnpaddedPieceSize(self.0 - self.0 / 128)
    }
}

impl UnpaddedPieceSize {
    pub fn validate(self) -> Result<(), UnitError> {
        if self.0 < 127 {
            return Err(UnitError(format!(
                "unpadded piece size {} is below the minimum of 127",
                self.0
            )));
        }
        if !(self.0 + self.0 / 127).is_power_of_two() {
            return Err(UnitError(format!(
                "unpadded piece size {} is not 127/128 of a power of two",
                self.0
            )));
        }
        Ok(())
    }

    pub fn padded(self) -> PaddedPieceSize {
        PaddedPieceSize(self.0 + self.0 / 127)
    }

    /// The smallest unpadded piece size holding `payload` bytes (go-padreader `PaddedSize`).
    pub fn for_payload(payload: u64) -> UnpaddedPieceSize {
        if payload <= 127 {
            return UnpaddedPieceSize(127);
        }
        let padded = payload.div_ceil(127).saturating_mul(128);
        PaddedPieceSize(padded.checked_next_power_of_two().unwrap_or(1 << 63)).unpadded()
    }
}

macro_rules! transparent_u64 {
    ($t:ident) => {
        impl Encode for $t {
            fn encode(&self, e: &mut Encoder) {
                e.u64(self.0)
            }
        }
        impl Decode for $t {
            fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
                d.u64().map($t)
            }
            fn missing() -> Option<Self> {
                Some($t(0))
            }
        }
        impl LotusJson for $t {
            fn to_json(&self) -> Value {
                Value::from(self.0)
            }
            fn from_json(v: Value) -> Result<Self, JsonError> {
                u64::from_json(v).map($t)
            }
            fn json_missing() -> Option<Self> {
                Some($t(0))
            }
        }
    };
}
transparent_u64!(PaddedPieceSize);
transparent_u64!(UnpaddedPieceSize);

// ---------------------------------------------------------------- durations

/// Parse a Go `time.Duration` string ("1h0m0s", "30s", "1.5h", "300ms", "0").
pub fn parse_go_duration(s: &str) -> Result<Duration, UnitError> {
    let bad = || {
        UnitError(format!(
            "invalid duration {s:?}: use Go syntax such as 1h0m0s, 30s or 336h"
        ))
    };
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(bad());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let nanos_per: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let frac_digits = frac_part.len().min(18) as u32;
        let frac: u128 = if frac_digits == 0 {
            0
        } else {
            frac_part[..frac_digits as usize].parse().map_err(|_| bad())?
        };
        total = total
            .checked_add(whole.checked_mul(nanos_per).ok_or_else(bad)?)
            .and_then(|v| v.checked_add(frac * nanos_per / 10u128.pow(frac_digits)))
            .ok_or_else(bad)?;
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Print a duration as Go's `time.Duration.String()` does ("1h0m0s", "336h0m0s", "1.5s", "100ms").
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, per) = if nanos < 1_000 {
            ("ns", 1u128)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", frac_str(nanos, per));
    }
    let total_secs = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let secs = format!("{}s", frac_str((total_secs % 60) * 1_000_000_000 + sub, 1_000_000_000));
    let minutes = total_secs / 60;
    if minutes == 0 {
        return secs;
    }
    let hours = minutes / 60;
    if hours == 0 {
        return format!("{}m{secs}", minutes % 60);
    }
    format!("{hours}h{}m{secs}", minutes % 60)
}

fn frac_str(value: u128, per: u128) -> String {
    let whole = value / per;
    let frac = value % per;
    if frac == 0 {
        return whole.to_string();
    }
    let width = per.ilog10() as usize;
    let digits = format!("{frac:0>width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Whole epochs in a duration (rounded down; saturating).
pub fn duration_epochs(d: std::time::Duration) -> ChainEpoch {
    ChainEpoch::try_from(d.as_secs() / EPOCH_DURATION_SECONDS as u64).unwrap_or(ChainEpoch::MAX)
}

/// Parse a deal duration in epochs: "518400", "180 days", "180d", or a Go duration ("4320h").
pub fn parse_epochs(s: &str) -> Result<ChainEpoch, UnitError> {
    let t = s.trim();
    if let Ok(n) = t.parse::<ChainEpoch>() {
        return Ok(n);
    }
    let lower = t.to_ascii_lowercase();
    for suffix in [" days", " day", "days", "day", "d"] {
        if let Some(n) = lower.strip_suffix(suffix)
            && let Ok(days) = n.trim().parse::<ChainEpoch>()
        {
            return days
                .checked_mul(EPOCHS_IN_DAY)
                .ok_or_else(|| UnitError(format!("duration {s:?} is too long")));
        }
    }
    let d = parse_go_duration(t).map_err(|_| {
        UnitError(format!(
            "invalid duration {s:?}: give epochs (518400), days (180 days) or hours (4320h)"
        ))
    })?;
    ChainEpoch::try_from(d.as_secs() / EPOCH_DURATION_SECONDS as u64)
        .map_err(|_| UnitError(format!("duration {s:?} is too long")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fil(s: &str) -> TokenAmount {
        parse_fil(s).expect(s)
    }

    #[test]
    fn fil_amounts_parse_as_droplet_accepts_them() {
        assert_eq!(fil("0.01fil"), TokenAmount::from_atto(10_000_000_000_000_000u64));
        assert_eq!(fil("0.01 FIL"), TokenAmount::from_atto(10_000_000_000_000_000u64));
        assert_eq!(fil("500 attoFIL"), TokenAmount::from_atto(500));
        assert_eq!(fil("500afil"), TokenAmount::from_atto(500));
        assert_eq!(fil("1"), TokenAmount::from_atto(ATTO_PER_FIL));
        assert_eq!(fil("10 mFIL"), TokenAmount::from_atto(10_000_000_000_000_000u64));
        assert_eq!(fil("0 FIL"), TokenAmount::from_atto(0));
        assert_eq!(fil(".5"), TokenAmount::from_atto(ATTO_PER_FIL / 2));
        assert!(parse_fil("1.5 attoFIL").is_err());
        assert!(parse_fil("1 XFIL").is_err());
        assert!(parse_fil("abc").is_err());
        assert!(parse_fil("").is_err());
        assert!(parse_fil("0.0000000000000000001").is_err());
    }

    #[test]
    fn fil_amounts_print_as_lotus_does() {
        assert_eq!(format_fil(&TokenAmount::from_atto(0)), "0 FIL");
        assert_eq!(format_fil(&fil("0.01")), "0.01 FIL");
        assert_eq!(format_fil(&fil("1000.5")), "1000.5 FIL");
        assert_eq!(format_fil(&TokenAmount::from_atto(500)), "0.0000000000000005 FIL");
        assert_eq!(format_fil_short(&TokenAmount::from_atto(500)), "500 aFIL");
        assert_eq!(format_fil_short(&fil("0.01")), "10 mFIL");
        assert_eq!(format_fil_short(&fil("2.5")), "2.5 FIL");
        assert_eq!(format_fil_short(&TokenAmount::from_atto(1234567)), "1.235 pFIL");
        assert_eq!(format_fil_short(&TokenAmount::from_atto(0)), "0");
    }

    #[test]
    fn sizes_parse_with_binary_multipliers() {
        assert_eq!(parse_size("512b"), Ok(512));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("32GiB"), Ok(32 << 30));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert!(parse_size("12 apples").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999P").is_err());
        // A number so large that shifting it would drop bits must not wrap to a small size.
        assert!(parse_size("309485009821345068724781061P").is_err());
    }

    #[test]
    fn sizes_print_as_lotus_does() {
        assert_eq!(format_size(4064), "3.969 KiB");
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(32 << 30), "32 GiB");
        assert_eq!(format_size(2048), "2 KiB");
        assert_eq!(format_size(1_065_353_216), "1016 MiB");
    }

    #[test]
    fn piece_sizes() {
        assert_eq!(PaddedPieceSize(2048).unpadded(), UnpaddedPieceSize(2032));
        assert_eq!(UnpaddedPieceSize(2032).padded(), PaddedPieceSize(2048));
        assert!(PaddedPieceSize(2048).validate().is_ok());
        assert!(PaddedPieceSize(3000).validate().is_err());
        assert!(PaddedPieceSize(64).validate().is_err());
        assert!(UnpaddedPieceSize(2032).validate().is_ok());
        assert!(UnpaddedPieceSize(2048).validate().is_err());
        for (payload, want) in [
            (0, 127),
            (127, 127),
            (128, 254),
            (254, 254),
            (255, 508),
            (4064, 4064),
            (4065, 8128),
        ] {
            assert_eq!(
                UnpaddedPieceSize::for_payload(payload),
                UnpaddedPieceSize(want),
                "{payload}"
            );
        }
    }

    #[test]
    fn go_durations() {
        for (s, secs) in [
            ("1h0m0s", 3600),
            ("24h", 86400),
            ("336h0m0s", 1_209_600),
            ("30s", 30),
            ("1m", 60),
            ("0", 0),
            ("0s", 0),
        ] {
            assert_eq!(parse_go_duration(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert!(parse_go_duration("1 hour").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(1_209_600)), "336h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(format_go_duration(Duration::from_micros(1)), "1µs");
    }

    #[test]
    fn epoch_durations() {
        assert_eq!(parse_epochs("180 days"), Ok(518_400));
        assert_eq!(parse_epochs("180d"), Ok(518_400));
        assert_eq!(parse_epochs("518400"), Ok(518_400));
        assert_eq!(parse_epochs("24h"), Ok(2880));
        assert!(parse_epochs("soon").is_err());
    }
}

// ---------------------------------------------------------------- config values

/// A duration written as Go writes it in config files (`"1h0m0s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub Duration);

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_duration(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        parse_go_duration(&s).map(GoDuration).map_err(serde::de::Error::custom)
    }
}

impl GoDuration {
    pub fn from_secs(s: u64) -> Self {
        GoDuration(Duration::from_secs(s))
    }
}

/// An amount written as lotus writes FIL in config files (`"0 FIL"`, `"0.5 FIL"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fil(pub TokenAmount);

impl serde::Serialize for Fil {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_fil(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Fil {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        parse_fil(&s).map(Fil).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod config_value_tests {
    use super::*;

    #[test]
    fn go_duration_and_fil_round_trip_as_strings() {
        let d: GoDuration = serde_json::from_str("\"336h\"").expect("duration");
        assert_eq!(d.0, Duration::from_secs(336 * 3600));
        assert_eq!(serde_json::to_string(&d).expect("ser"), "\"336h0m0s\"");
        assert!(serde_json::from_str::<GoDuration>("\"soon\"").is_err());
        let f: Fil = serde_json::from_str("\"0.5 FIL\"").expect("fil");
        assert_eq!(serde_json::to_string(&f).expect("ser"), "\"0.5 FIL\"");
        let z: Fil = serde_json::from_str("\"0 FIL\"").expect("zero");
        assert_eq!(serde_json::to_string(&z).expect("ser"), "\"0 FIL\"");
    }
}

/// Seconds since 1970 as RFC 3339 UTC (Go's `time.Time` JSON).
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since 1970 of an RFC 3339 time as Go writes it (`2023-06-07T15:35:19.485691+08:00`,
/// `…Z`; fractions dropped); None when it is not one, or before 1970.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, rest) = s.split_at_checked(10)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let num =
        |t: &str| -> Option<i64> { (t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty()).then(|| t.parse().ok())? };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.split(':');
    let (hh, mm, ss) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let off = match offset {
        "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            sign * (num(oh)? * 3600 + num(om)? * 60)
        }
    };
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss - off).ok()
}

#[cfg(test)]
mod rfc3339_tests {
    #[test]
    fn go_times_read_back() {
        for secs in [0, 951_782_400, 1_795_000_000, 1_686_123_319] {
            assert_eq!(super::parse_rfc3339(&super::rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            super::parse_rfc3339("2023-06-07T15:35:19.485691+08:00"),
            Some(1_686_123_319)
        );
        assert_eq!(super::parse_rfc3339("2023-06-07T07:35:19-00:00"), Some(1_686_123_319));
        for bad in [
            "",
            "2023-06-07",
            "2023-13-07T00:00:00Z",
            "yesterday",
            "2023-06-07T00:00:00",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(super::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
