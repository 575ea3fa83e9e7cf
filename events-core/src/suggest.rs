//! "Did you mean ...?" for names typed by people: states, media types, topics.

/// The candidate closest to `input`, if one is close enough to be a likely typo.
///
/// Close enough means an edit distance of at most a third of the longer word (and at
/// least 1), or the same letters ignoring case, spaces and punctuation (`timedOut` for
/// `timedout`).
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let folded_input = fold(input);
    candidates
        .into_iter()
        .filter_map(|candidate| {
            if fold(candidate) == folded_input {
                return Some((0, candidate));
            }
            let distance = strsim::damerau_levenshtein(input, candidate);
            let limit = (input.len().max(candidate.len()) / 3).max(1);
            (distance <= limit).then_some((distance, candidate))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_close_names_only() {
        let states = ["offered", "accepted", "rejected", "timedout"];
        assert_eq!(closest("offred", states), Some("offered"));
        assert_eq!(closest("timedOut", states), Some("timedout"));
        assert_eq!(closest("acepted", states), Some("accepted"));
        assert_eq!(closest("banana", states), None);
    }
}
