//! "Did you mean ...?" for names typed by people: states, media types, topics.

/// The candidate closest to `input`, if one is close enough to be a likely typo.
///
/// Close enough means an edit distance of at most a third of the longer word (and at
/// least 1), or the same letters ignoring case, spaces and punctuation (`timedOut` for
/// `timedout`). The distance is the optimal-string-alignment one (a transposition of
/// neighbours counts one), as in [`closest_index`]. On a tie, the first candidate.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter_map(|candidate| {
            if folded_eq(input.as_bytes(), candidate.as_bytes()) {
                return Some((0, candidate));
            }
            let distance = strsim::osa_distance(input, candidate);
            (distance <= limit(input.len(), candidate.len())).then_some((distance, candidate))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// The farthest a likely typo may be from a name: a third of the longer one's length in
/// bytes, and at least 1.
const fn limit(input_len: usize, candidate_len: usize) -> usize {
    let longer = if input_len > candidate_len {
        input_len
    } else {
        candidate_len
    };
    if longer / 3 > 1 {
        longer / 3
    } else {
        1
    }
}

/// The longest name [`closest_index`] compares; past it, it suggests nothing.
const CONST_MAX_LEN: usize = 64;

/// [`closest`] for `const` evaluation, where a compile-time topic names an unknown state:
/// the index of the candidate closest to `input`, by the same rule.
///
/// The distance is the optimal-string-alignment distance, `strsim::osa_distance`,
/// counted in bytes (the same for ASCII names). Names longer than 64 bytes get no
/// suggestion. On a tie, the first candidate.
pub const fn closest_index(input: &str, candidates: &[&str]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < candidates.len() {
        let candidate = candidates[i];
        let distance = if folded_eq(input.as_bytes(), candidate.as_bytes()) {
            Some(0)
        } else {
            match osa_distance(input.as_bytes(), candidate.as_bytes()) {
                Some(d) if d <= limit(input.len(), candidate.len()) => Some(d),
                _ => None,
            }
        };
        if let Some(d) = distance {
            best = match best {
                Some((_, best_distance)) if best_distance <= d => best,
                _ => Some((i, d)),
            };
        }
        i += 1;
    }
    match best {
        Some((index, _)) => Some(index),
        None => None,
    }
}

/// Whether `a` and `b` have the same ASCII letters and digits, ignoring case and the rest.
const fn folded_eq(a: &[u8], b: &[u8]) -> bool {
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && !a[i].is_ascii_alphanumeric() {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if i == a.len() || j == b.len() {
            return i == a.len() && j == b.len();
        }
        if !a[i].eq_ignore_ascii_case(&b[j]) {
            return false;
        }
        i += 1;
        j += 1;
    }
}

/// The optimal-string-alignment distance, three rows of dynamic programming; `None` past
/// [`CONST_MAX_LEN`] bytes.
const fn osa_distance(a: &[u8], b: &[u8]) -> Option<usize> {
    if a.len() > CONST_MAX_LEN || b.len() > CONST_MAX_LEN {
        return None;
    }
    let mut before = [0usize; CONST_MAX_LEN + 1];
    let mut previous = [0usize; CONST_MAX_LEN + 1];
    let mut current = [0usize; CONST_MAX_LEN + 1];
    let mut j = 0;
    while j <= b.len() {
        previous[j] = j;
        j += 1;
    }
    let mut i = 1;
    while i <= a.len() {
        current[0] = i;
        let mut j = 1;
        while j <= b.len() {
            let cost = if a[i - 1] == b[j - 1] { 0 } else { 1 };
            let mut d = previous[j - 1] + cost;
            if previous[j] + 1 < d {
                d = previous[j] + 1;
            }
            if current[j - 1] + 1 < d {
                d = current[j - 1] + 1;
            }
            if i > 1
                && j > 1
                && a[i - 1] == b[j - 2]
                && a[i - 2] == b[j - 1]
                && before[j - 2] + 1 < d
            {
                d = before[j - 2] + 1;
            }
            current[j] = d;
            j += 1;
        }
        before = previous;
        previous = current;
        i += 1;
    }
    Some(previous[b.len()])
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

    /// The const version agrees with the run-time one on every one-edit typo of the
    /// built-in names (and on a few that are too far off).
    #[test]
    fn the_const_version_agrees_on_typos() {
        use super::closest_index;
        // The state spellings of the built-in `webchat` and `contentoffer`, and `all`.
        let names: Vec<&str> = vec![
            "offered",
            "accepted",
            "rejected",
            "ignored",
            "timedout",
            "timed out",
            "timedOut",
            "errored",
            "started",
            "engaged",
            "abandoned",
            "all",
        ];
        let mut typos: Vec<String> = vec!["banana".into(), "".into(), "x".repeat(80)];
        for name in &names {
            let bytes = name.as_bytes();
            for i in 0..bytes.len() {
                let mut deleted = bytes.to_vec();
                deleted.remove(i);
                let mut replaced = bytes.to_vec();
                replaced[i] = b'q';
                let mut inserted = bytes.to_vec();
                inserted.insert(i, b'e');
                typos.extend([deleted, replaced, inserted].map(|t| String::from_utf8(t).unwrap()));
                if i + 1 < bytes.len() {
                    let mut swapped = bytes.to_vec();
                    swapped.swap(i, i + 1);
                    typos.push(String::from_utf8(swapped).unwrap());
                }
            }
            typos.push(name.to_uppercase());
        }
        for typo in &typos {
            let expected = closest(typo, names.iter().copied());
            let got = closest_index(typo, &names).map(|i| names[i]);
            assert_eq!(got, expected, "typo {typo:?}");
        }
        assert!(typos.len() > 300, "{} typos", typos.len());
    }
}
