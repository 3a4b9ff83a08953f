//! `$bucketAuto`'s `granularity`: bucket boundaries rounded to a preferred number
//! series (Renard R5 to R80, 1-2-5, E6 to E192, each value times powers of ten) or
//! to powers of two, as MongoDB rounds them: up to the next value strictly above,
//! down to the next strictly below; zero stays zero. Doubles and integers round
//! in doubles (giving doubles), decimals in decimal; powers of two are computed as
//! `$pow: [2, exponent]` computes them.

use bson::{doc, Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{self, type_name, Expr, Variables};

/// The series, as MongoDB lists them (scaled to whole numbers).
const SERIES: &[(&str, &[f64])] = &[
    ("R5", &[10.0, 16.0, 25.0, 40.0, 63.0]),
    ("R10", &[100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0, 500.0, 630.0, 800.0]),
    (
        "R20",
        &[
            100.0, 112.0, 125.0, 140.0, 160.0, 180.0, 200.0, 224.0, 250.0, 280.0, 315.0, 355.0, 400.0, 450.0, 500.0,
            560.0, 630.0, 710.0, 800.0, 900.0,
        ],
    ),
    (
        "R40",
        &[
            100.0, 106.0, 112.0, 118.0, 125.0, 132.0, 140.0, 150.0, 160.0, 170.0, 180.0, 190.0, 200.0, 212.0, 224.0,
            236.0, 250.0, 265.0, 280.0, 300.0, 315.0, 355.0, 375.0, 400.0, 425.0, 450.0, 475.0, 500.0, 530.0, 560.0,
            600.0, 630.0, 670.0, 710.0, 750.0, 800.0, 850.0, 900.0, 950.0,
        ],
    ),
    (
        "R80",
        &[
            103.0, 109.0, 115.0, 122.0, 128.0, 136.0, 145.0, 155.0, 165.0, 175.0, 185.0, 195.0, 206.0, 218.0, 230.0,
            243.0, 258.0, 272.0, 290.0, 307.0, 325.0, 345.0, 365.0, 387.0, 412.0, 437.0, 462.0, 487.0, 515.0, 545.0,
            575.0, 615.0, 650.0, 690.0, 730.0, 775.0, 825.0, 875.0, 925.0, 975.0,
        ],
    ),
    ("1-2-5", &[10.0, 20.0, 50.0]),
    ("E6", &[10.0, 15.0, 22.0, 33.0, 47.0, 68.0]),
    ("E12", &[10.0, 12.0, 15.0, 18.0, 22.0, 27.0, 33.0, 39.0, 47.0, 56.0, 68.0, 82.0]),
    (
        "E24",
        &[
            10.0, 11.0, 12.0, 13.0, 15.0, 16.0, 18.0, 20.0, 22.0, 24.0, 27.0, 30.0, 33.0, 36.0, 39.0, 43.0, 47.0, 51.0,
            56.0, 62.0, 68.0, 75.0, 82.0, 91.0,
        ],
    ),
    (
        "E48",
        &[
            100.0, 105.0, 110.0, 115.0, 121.0, 127.0, 133.0, 140.0, 147.0, 154.0, 162.0, 169.0, 178.0, 187.0, 196.0,
            205.0, 215.0, 226.0, 237.0, 249.0, 261.0, 274.0, 287.0, 301.0, 316.0, 332.0, 348.0, 365.0, 383.0, 402.0,
            422.0, 442.0, 464.0, 487.0, 511.0, 536.0, 562.0, 590.0, 619.0, 649.0, 681.0, 715.0, 750.0, 787.0, 825.0,
            866.0, 909.0, 953.0,
        ],
    ),
    (
        "E96",
        &[
            100.0, 102.0, 105.0, 107.0, 110.0, 113.0, 115.0, 118.0, 121.0, 124.0, 127.0, 130.0, 133.0, 137.0, 140.0,
            143.0, 147.0, 150.0, 154.0, 158.0, 162.0, 165.0, 169.0, 174.0, 178.0, 182.0, 187.0, 191.0, 196.0, 200.0,
            205.0, 210.0, 215.0, 221.0, 226.0, 232.0, 237.0, 243.0, 249.0, 255.0, 261.0, 267.0, 274.0, 280.0, 287.0,
            294.0, 301.0, 309.0, 316.0, 324.0, 332.0, 340.0, 348.0, 357.0, 365.0, 374.0, 383.0, 392.0, 402.0, 412.0,
            422.0, 432.0, 442.0, 453.0, 464.0, 475.0, 487.0, 499.0, 511.0, 523.0, 536.0, 549.0, 562.0, 576.0, 590.0,
            604.0, 619.0, 634.0, 649.0, 665.0, 681.0, 698.0, 715.0, 732.0, 750.0, 768.0, 787.0, 806.0, 825.0, 845.0,
            866.0, 887.0, 909.0, 931.0, 953.0, 976.0,
        ],
    ),
    (
        "E192",
        &[
            100.0, 101.0, 102.0, 104.0, 105.0, 106.0, 107.0, 109.0, 110.0, 111.0, 113.0, 114.0, 115.0, 117.0, 118.0,
            120.0, 121.0, 123.0, 124.0, 126.0, 127.0, 129.0, 130.0, 132.0, 133.0, 135.0, 137.0, 138.0, 140.0, 142.0,
            143.0, 145.0, 147.0, 149.0, 150.0, 152.0, 154.0, 156.0, 158.0, 160.0, 162.0, 164.0, 165.0, 167.0, 169.0,
            172.0, 174.0, 176.0, 178.0, 180.0, 182.0, 184.0, 187.0, 189.0, 191.0, 193.0, 196.0, 198.0, 200.0, 203.0,
            205.0, 208.0, 210.0, 213.0, 215.0, 218.0, 221.0, 223.0, 226.0, 229.0, 232.0, 234.0, 237.0, 240.0, 243.0,
            246.0, 249.0, 252.0, 255.0, 258.0, 261.0, 264.0, 267.0, 271.0, 274.0, 277.0, 280.0, 284.0, 287.0, 291.0,
            294.0, 298.0, 301.0, 305.0, 309.0, 312.0, 316.0, 320.0, 324.0, 328.0, 332.0, 336.0, 340.0, 344.0, 348.0,
            352.0, 357.0, 361.0, 365.0, 370.0, 374.0, 379.0, 383.0, 388.0, 392.0, 397.0, 402.0, 407.0, 412.0, 417.0,
            422.0, 427.0, 432.0, 437.0, 442.0, 448.0, 453.0, 459.0, 464.0, 470.0, 475.0, 481.0, 487.0, 493.0, 499.0,
            505.0, 511.0, 517.0, 523.0, 530.0, 536.0, 542.0, 549.0, 556.0, 562.0, 569.0, 576.0, 583.0, 590.0, 597.0,
            604.0, 612.0, 619.0, 626.0, 634.0, 642.0, 649.0, 657.0, 665.0, 673.0, 681.0, 690.0, 698.0, 706.0, 715.0,
            723.0, 732.0, 741.0, 750.0, 759.0, 768.0, 777.0, 787.0, 796.0, 806.0, 816.0, 825.0, 835.0, 845.0, 856.0,
            866.0, 876.0, 887.0, 898.0, 909.0, 920.0, 931.0, 942.0, 953.0, 965.0, 976.0, 988.0,
        ],
    ),
];

/// How boundaries are rounded.
#[derive(Debug, Clone, Copy)]
pub(super) enum Granularity {
    Series(&'static [f64]),
    PowersOfTwo,
}

impl Granularity {
    /// The granularity `name` names, if MongoDB knows it.
    pub(super) fn named(name: &str) -> Option<Granularity> {
        if name == "POWERSOF2" {
            return Some(Granularity::PowersOfTwo);
        }
        SERIES.iter().find(|(n, _)| *n == name).map(|(_, series)| Granularity::Series(series))
    }

    /// The next value of the granularity strictly above `value`.
    pub(super) fn round_up(self, value: &Bson) -> Result<Bson> {
        self.round(value, true)
    }

    /// The next value of the granularity strictly below `value`.
    pub(super) fn round_down(self, value: &Bson) -> Result<Bson> {
        self.round(value, false)
    }

    fn round(self, value: &Bson, up: bool) -> Result<Bson> {
        let number = checked(value)?;
        if number == 0.0 {
            return Ok(value.clone());
        }
        match self {
            Granularity::Series(series) => match value {
                Bson::Decimal128(d) => {
                    expr::round_to_series(d, series, up).map(Bson::Decimal128).ok_or_else(not_finite)
                }
                _ => {
                    let rounded = if up { series_up(number, series) } else { series_down(number, series) };
                    rounded.map(Bson::Double).ok_or_else(|| out_of_range(number))
                }
            },
            Granularity::PowersOfTwo => power_of_two(value, number, up),
        }
    }
}

/// A number too small or too large for the series' powers of ten (a subnormal
/// double, whose multiplier would underflow to zero).
fn out_of_range(number: f64) -> Error {
    Error::command(ErrorCode::BadValue, format!("A granularity rounder cannot round {number}"))
}

/// Whether a multiplier can still scale the series (neither zero nor infinite).
fn usable(multiplier: f64) -> bool {
    multiplier > 0.0 && multiplier.is_finite()
}

fn not_finite() -> Error {
    Error::command(ErrorCode::Location11785400, "A granularity rounder can only round finite numbers")
}

/// The value as a double, refused unless a finite number not below zero.
fn checked(value: &Bson) -> Result<f64> {
    let Some(number) = expr::Num::of(Some(value)).map(|n| n.to_f64()) else {
        return Err(Error::command(
            ErrorCode::Location40262,
            format!("A granularity rounder can only round numeric values, but found type: {}", type_name(Some(value))),
        ));
    };
    if number.is_nan() {
        return Err(Error::command(ErrorCode::Location40263, "A granularity rounder cannot round NaN"));
    }
    if number < 0.0 {
        return Err(Error::command(
            ErrorCode::Location40268,
            "A granularity rounder can only round non-negative numbers",
        ));
    }
    if number.is_infinite() {
        return Err(not_finite());
    }
    Ok(number)
}

/// The smallest series value above `number`, in MongoDB's double arithmetic (the
/// multiplier made by repeated multiplication or division by ten); `None` when
/// the multiplier underflows or overflows on the way.
fn series_up(number: f64, series: &[f64]) -> Option<f64> {
    let (first, last) = (series[0], series[series.len() - 1]);
    let mut multiplier = 1.0;
    while number >= last * multiplier {
        multiplier *= 10.0;
        if !usable(multiplier) {
            return None;
        }
    }
    while number < first * multiplier {
        let previous = first * multiplier;
        multiplier /= 10.0;
        if !usable(multiplier) {
            return None;
        }
        if number >= last * multiplier {
            return Some(previous);
        }
    }
    Some(series.iter().map(|s| s * multiplier).find(|&value| number < value).unwrap_or(last * multiplier))
}

/// The largest series value below `number`.
fn series_down(number: f64, series: &[f64]) -> Option<f64> {
    let (first, last) = (series[0], series[series.len() - 1]);
    let mut multiplier = 1.0;
    while number <= first * multiplier {
        multiplier /= 10.0;
        if !usable(multiplier) {
            return None;
        }
    }
    while number > last * multiplier {
        let previous = last * multiplier;
        multiplier *= 10.0;
        if !usable(multiplier) {
            return None;
        }
        if number <= first * multiplier {
            return Some(previous);
        }
    }
    Some(series.iter().rev().map(|s| s * multiplier).find(|&value| value < number).unwrap_or(first * multiplier))
}

/// The next power of two above (or below) `value`: the exponent from the value's
/// type (bits of an integer, the logarithm of a double or decimal), the power as
/// `$pow` gives it.
fn power_of_two(value: &Bson, number: f64, up: bool) -> Result<Bson> {
    let exponent = match value {
        Bson::Int32(_) | Bson::Int64(_) => {
            let n = expr::integral(Some(value)).unwrap_or(0);
            let bits = 64 - n.leading_zeros() as i32;
            let power = n.count_ones() == 1;
            Bson::Int32(match (up, power) {
                (true, _) => bits,
                (false, true) => bits - 2,
                (false, false) => bits - 1,
            })
        }
        Bson::Decimal128(_) => {
            let log = number.log2();
            let exponent = if up { log.floor() + 1.0 } else { log.ceil() - 1.0 };
            Bson::Decimal128((exponent as i32).to_string().parse().map_err(|_| not_finite())?)
        }
        _ => {
            let log = number.log2();
            Bson::Int32(if up { log.floor() as i32 + 1 } else { log.ceil() as i32 - 1 })
        }
    };
    let power: Document = doc! {"$pow": [2, exponent]};
    Expr::parse(&Bson::Document(power), &Variables::none())?.evaluate(&Document::new())
}

#[cfg(test)]
mod tests {
    use bson::{Bson, Decimal128};

    use super::Granularity;

    /// Extreme values end with an answer or an error, never a loop.
    #[test]
    fn extreme_values_are_answered() {
        let r5 = Granularity::named("R5").expect("R5");
        let two = Granularity::named("POWERSOF2").expect("POWERSOF2");
        let decimal = |s: &str| Bson::Decimal128(s.parse::<Decimal128>().expect("decimal"));
        for value in [
            Bson::Double(5e-324),
            Bson::Double(1e-320),
            Bson::Double(f64::MAX),
            decimal("1E-6176"),
            decimal("9.999999999999999999999999999999999E+6144"),
            decimal("1E+6000"),
        ] {
            let _ = r5.round_up(&value);
            let _ = r5.round_down(&value);
            let _ = two.round_up(&value);
            let _ = two.round_down(&value);
        }
        assert_eq!(r5.round_up(&Bson::Int32(1)).expect("1.6"), Bson::Double(16.0 * 0.1));
        assert_eq!(r5.round_down(&Bson::Int32(1)).expect("0.63"), Bson::Double(63.0 * (1.0 / 10.0 / 10.0)));
    }
}
