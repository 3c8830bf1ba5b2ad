//! Sizes, durations and dates as written in definitions.

use jiff::civil::Date;
use jiff::Span;

/// Parses a size such as `2MB`, `500 KB`, `1.5MiB` or `2000000` (bytes).
///
/// `KB`, `MB`, `GB` are powers of 1000 (also written `ko`, `Mo`, `Go`);
/// `KiB`, `MiB`, `GiB` powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "o" => 1,
        "kb" | "ko" => 1_000,
        "mb" | "mo" => 1_000_000,
        "gb" | "go" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => return Err(format!("`{other}` is not a size unit")),
    };
    let bytes = number * factor as f64;
    if !(1.0..1e15).contains(&bytes) {
        return Err(format!("`{text}` is not a usable size"));
    }
    Ok(bytes.round() as u64)
}

/// The longest duration a definition may write: a deadline further away
/// is a typo, and one past the calendar's end (year 9999) has no moment.
pub(crate) const LONGEST_DURATION_YEARS: i16 = 100;

/// Parses a duration such as `8 days`, `48 hours`, `2 weeks`: positive, and
/// at most a hundred years.
pub fn parse_duration(text: &str) -> Result<Span, String> {
    let span: Span = text
        .trim()
        .parse()
        .map_err(|error| format!("`{text}` is not a duration ({error})"))?;
    if span.is_negative() || span.is_zero() {
        return Err(format!("`{text}` must be a positive duration"));
    }
    // Compared from a fixed day: months and years have no length of their own.
    let from = jiff::civil::date(2000, 1, 1);
    let longest = Span::new().years(LONGEST_DURATION_YEARS);
    let too_long = match span.compare((longest, from)) {
        Ok(order) => order.is_gt(),
        Err(_) => true,
    };
    if too_long {
        return Err(format!(
            "`{text}` is longer than a procedure waits (at most {LONGEST_DURATION_YEARS} years)"
        ));
    }
    Ok(span)
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let strict = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    let date = if strict {
        text.parse::<Date>().ok()
    } else {
        None
    };
    date.ok_or_else(|| format!("`{text}` is not a valid date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("2 Mo"), Ok(2_000_000));
        assert_eq!(parse_size("500KB"), Ok(500_000));
        assert_eq!(parse_size("1.5MiB"), Ok(1_572_864));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert!(parse_size("2 parsecs").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("0MB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("8 days").map(|s| s.get_days()), Ok(8));
        assert!(parse_duration("48 hours").is_ok());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0 days").is_err());
        assert!(parse_duration("36524 days").is_ok());
        assert!(parse_duration("100 years").is_ok());
        // Past the calendar's end from any date: a deadline never reached.
        let too_long = parse_duration("3000000 days").unwrap_err();
        assert!(too_long.contains("at most 100 years"), "{too_long}");
        assert!(parse_duration("101 years").is_err());
        assert!(parse_duration("1300 months").is_err());
    }

    #[test]
    fn dates() {
        assert!(parse_date("2027-02-28").is_ok());
        assert!(parse_date("2027-02-30").is_err());
        assert!(parse_date("1/3/2027").is_err());
    }
}
