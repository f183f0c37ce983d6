//! How derived numbers are written, wherever they leave the service (API
//! answers, CSV, events): every float rounded to [`DECIMALS`] decimal
//! places and never a negative zero. Rounding happens only when writing,
//! so what is computed (and cached) is unchanged.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

/// Decimal places of every derived number written.
pub const DECIMALS: i32 = 4;

/// `value` rounded to [`DECIMALS`] places; `-0` becomes `0`.
pub fn round(value: f64) -> f64 {
    let scale = 10f64.powi(DECIMALS);
    // Beyond this a double has no fractional digits left to round.
    if !value.is_finite() || value.abs() >= 1e15 {
        return value;
    }
    let rounded = (value * scale).round() / scale;
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}

/// serde_json's compact output with every float rounded.
struct Rounding;

impl Formatter for Rounding {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        CompactFormatter.write_f64(writer, round(value))
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        CompactFormatter.write_f64(writer, round(f64::from(value)))
    }
}

/// `value` as compact JSON with every float rounded.
pub fn to_json(value: &impl Serialize) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(1024);
    let mut serializer = serde_json::Serializer::with_formatter(&mut body, Rounding);
    value.serialize(&mut serializer)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_noise_and_negative_zero_are_gone() {
        let body = to_json(&serde_json::json!({
            "score": 90.00000000000001,
            "coverage": 0.44999999999999996,
            "hhi": -0.0,
            "tiny": -0.00001,
            "count": 3,
            "big": 1.0e20_f64,
        }))
        .unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"big":1e+20,"count":3,"coverage":0.45,"hhi":0.0,"score":90.0,"tiny":0.0}"#
        );
        assert_eq!(round(58.73125), 58.7313);
        assert_eq!(round(-1.23456), -1.2346);
    }
}
