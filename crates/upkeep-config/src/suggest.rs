//! "Did you mean …?" for misspelt keys, names and enum values.

/// The known word closest to `input`, if it is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(input: &str, known: &[&'a str]) -> Option<&'a str> {
    let input_lower = input.to_lowercase();
    known
        .iter()
        .map(|k| (*k, strsim::jaro_winkler(&input_lower, &k.to_lowercase())))
        .filter(|(k, score)| {
            *score >= 0.8 || strsim::damerau_levenshtein(&input_lower, &k.to_lowercase()) <= 1
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
}

/// The words between backticks in a serde/toml message, in order: for
/// ``unknown field `nmae`, expected one of `name`, `repo` `` they are `nmae`, `name`, `repo`.
pub(crate) fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("nmae", &["name", "repo"]), Some("name"));
        assert_eq!(
            did_you_mean("base_brnch", &["base_branch", "branch"]),
            Some("base_branch")
        );
        assert_eq!(did_you_mean("zzz", &["name", "repo"]), None);
    }

    #[test]
    fn extracts_backticked_words() {
        assert_eq!(
            backticked("unknown field `nmae`, expected one of `name`, `repo`"),
            vec!["nmae", "name", "repo"]
        );
    }
}
