//! "Did you mean …?" suggestions.

/// The candidate closest to `given`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(given, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        assert_eq!(did_you_mean("titel", ["title", "help"]), Some("title"));
        assert_eq!(
            did_you_mean("recieved", ["received", "draft"]),
            Some("received")
        );
        assert_eq!(did_you_mean("zzz", ["title", "help"]), None);
    }
}
