//! Date arithmetic for conditions, `set` and mails. Dates are texts
//! `YYYY-MM-DD` (what `today` and date fields hold); these functions read
//! them as calendar dates, so `add_days(today, 7)` is a date a week later, and
//! a text that is no date is an error, never a wrong date stored. And where
//! a day starts and ends in the definition's time zone.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};

/// Why a date function refused its arguments.
pub type DateError = String;

fn date(text: &str) -> Result<Date, DateError> {
    crate::units::parse_date(text).map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))
}

fn shifted(text: &str, span: Span) -> Result<String, DateError> {
    let moved = date(text)?
        .checked_add(span)
        .map_err(|e| format!("`{text}` moved by {span}: {e}"))?;
    Ok(moved.to_string())
}

/// `date` moved by `days` (negative: earlier).
pub fn add_days(text: &str, days: i64) -> Result<String, DateError> {
    shifted(text, days.days())
}

/// `date` moved by `months` (the 31st of a shorter month lands on its last day).
pub fn add_months(text: &str, months: i64) -> Result<String, DateError> {
    shifted(text, months.months())
}

/// Days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: &str, to: &str) -> Result<i64, DateError> {
    let days = date(from)?
        .until(date(to)?)
        .map_err(|e| e.to_string())?
        .get_days();
    Ok(i64::from(days))
}

/// Registers the date functions in a rhai engine.
pub(crate) fn register_rhai(engine: &mut rhai::Engine) {
    use rhai::{EvalAltResult, INT};
    type Out<T> = Result<T, Box<EvalAltResult>>;
    engine.register_fn("add_days", |d: &str, n: INT| -> Out<String> {
        add_days(d, n).map_err(Into::into)
    });
    engine.register_fn("add_months", |d: &str, n: INT| -> Out<String> {
        add_months(d, n).map_err(Into::into)
    });
    engine.register_fn("days_between", |a: &str, b: &str| -> Out<INT> {
        days_between(a, b).map_err(Into::into)
    });
}

/// Registers the same as minijinja filters (`{{ today | add_days(8) }}`)
/// and a function (`{{ days_between(a, b) }}`).
pub(crate) fn register_templates(templates: &mut minijinja::Environment<'static>) {
    use minijinja::{Error, ErrorKind};
    let failed = |message: DateError| Error::new(ErrorKind::InvalidOperation, message);
    templates.add_filter("add_days", move |d: String, n: i64| {
        add_days(&d, n).map_err(failed)
    });
    templates.add_filter("add_months", move |d: String, n: i64| {
        add_months(&d, n).map_err(failed)
    });
    templates.add_function("days_between", move |a: String, b: String| {
        days_between(&a, &b).map_err(failed)
    });
}

/// The first instant of `date` in `timezone`.
pub(crate) fn start_of_day_in(timezone: &TimeZone, date: Date) -> Timestamp {
    date.to_zoned(timezone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The first instant after `date` in `timezone`.
pub(crate) fn end_of_day_in(timezone: &TimeZone, date: Date) -> Timestamp {
    date.tomorrow()
        .map(|next| start_of_day_in(timezone, next))
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_by_calendar_days_and_months() {
        assert_eq!(add_days("2027-02-25", 7).unwrap(), "2027-03-04");
        assert_eq!(add_days("2027-03-01", -1).unwrap(), "2027-02-28");
        assert_eq!(add_months("2027-01-31", 1).unwrap(), "2027-02-28");
        assert_eq!(days_between("2027-03-10", "2027-06-15").unwrap(), 97);
        assert_eq!(days_between("2027-06-15", "2027-03-10").unwrap(), -97);
        assert!(add_days("2027-03-107", 1).is_err());
        assert!(days_between("demain", "2027-03-10").is_err());
    }
}
