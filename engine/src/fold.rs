//! Text as search compares it: lowercase, without accents.

/// Lowercase, without accents: "Géologie" and "geologie" compare equal.
///
/// The same rule as `fold` in the server's page script (which narrows long
/// lists as one types): canonical decomposition, combining marks
/// U+0300–U+036F dropped, and the ligatures œ and æ written out.
///
/// ```
/// assert_eq!(guichet_engine::fold("Nguyễn Œuvre"), "nguyen oeuvre");
/// ```
pub fn fold(text: &str) -> String {
    // Most names and words are plain ASCII: nothing to decompose.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    // One pass over the decomposed characters into one string: a staff
    // list folds the name of every row it reads.
    let lower = text.to_lowercase();
    let mut folded = String::with_capacity(lower.len());
    let nfd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfd();
    for c in nfd.normalize_iter(lower.chars()) {
        match c {
            '\u{0300}'..='\u{036f}' => {}
            'œ' => folded.push_str("oe"),
            'æ' => folded.push_str("ae"),
            other => folded.push(other),
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn search_ignores_accents_and_case() {
        assert_eq!(fold("Géologie"), "geologie");
        assert_eq!(fold("OCÉANOGRAPHIE"), "oceanographie");
        assert_eq!(fold("Œuvre"), "oeuvre");
        // Beyond French: what the page script folds, the server folds too.
        assert_eq!(fold("Ångström Núñez Łódź"), "angstrom nunez łodz");
        assert_eq!(fold("Curaçao ÆTHER"), "curacao aether");
    }
}
