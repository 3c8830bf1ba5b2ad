//! Issued letters (an admission, a refusal) as PDF: attached to the mail
//! that issued them and downloaded from the candidature's page. Everything a
//! letter prints was rendered when it was issued; only its date is written
//! out here, in the letter's language.

use guichet_engine::IssuedLetter;
use guichet_pdf::{Letter, PdfError, Rendered};

/// The letter as PDF.
pub fn render(letter: &IssuedLetter) -> Result<Rendered, PdfError> {
    guichet_pdf::render_letter(&printed(letter))
}

/// The name of its file: the letter, the dossier and the candidature, in
/// letters any mail client and browser keep.
pub fn file_name(dossier: &str, letter: &IssuedLetter) -> String {
    let keep = crate::files::name_part;
    format!(
        "{}-{}-{}.pdf",
        keep(&letter.letter.replace('_', "-")),
        keep(dossier),
        keep(&letter.candidature)
    )
}

fn printed(letter: &IssuedLetter) -> Letter {
    let date = long_date(&letter.day, &letter.language);
    let place_and_date = match (&letter.place, letter.language.as_str()) {
        (Some(place), "en") => format!("{place}, {date}"),
        (Some(place), _) => format!("{place}, le {date}"),
        (None, "en") => date,
        (None, _) => format!("Le {date}"),
    };
    Letter {
        institution: letter.institution.clone(),
        recipient: letter.recipient.clone(),
        place_and_date,
        title: letter.title.clone(),
        body: letter.text.clone(),
        signature: letter.signature.clone(),
    }
}

/// `2027-06-10` as `10 juin 2027` or `10 June 2027`; as it is when it is not a date.
fn long_date(day: &str, language: &str) -> String {
    const FRENCH: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const ENGLISH: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let Ok(date) = day.parse::<jiff::civil::Date>() else {
        return day.to_owned();
    };
    let months = if language == "en" { ENGLISH } else { FRENCH };
    let month = months[usize::from(date.month().unsigned_abs()).saturating_sub(1) % 12];
    format!("{} {month} {}", date.day(), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_out_in_the_letters_language() {
        assert_eq!(long_date("2027-06-01", "fr"), "1 juin 2027");
        assert_eq!(long_date("2027-08-15", "en"), "15 August 2027");
        assert_eq!(long_date("not a day", "fr"), "not a day");
    }
}
