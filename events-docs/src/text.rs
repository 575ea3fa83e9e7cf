//! Small text helpers shared by the generators: doc comments into table cells, comments
//! and string literals of the target languages.

/// A doc comment as one line: lines and paragraphs joined with single spaces.
pub(super) fn one_line(docs: &str) -> String {
    docs.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A doc comment as one Markdown table cell: one line, `|` escaped, never empty.
pub(super) fn table_cell(docs: &str) -> String {
    let line = one_line(docs).replace('|', "\\|");
    if line.is_empty() {
        "—".to_owned()
    } else {
        line
    }
}

/// A JSDoc comment (`/** ... */`) of `docs` at `indent`, or nothing when `docs` is empty.
pub(super) fn js_doc(docs: &str, indent: &str) -> String {
    let docs = docs.trim();
    if docs.is_empty() {
        return String::new();
    }
    // `*/` inside the text would end the comment early.
    let docs = docs.replace("*/", "*\\/");
    if !docs.contains('\n') {
        return format!("{indent}/** {docs} */\n");
    }
    let mut out = format!("{indent}/**\n");
    for line in docs.lines() {
        if line.trim().is_empty() {
            out.push_str(&format!("{indent} *\n"));
        } else {
            out.push_str(&format!("{indent} * {}\n", line.trim_end()));
        }
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

/// A single-quoted JavaScript/TypeScript string literal, the quoting the vendor's
/// examples use.
pub(super) fn js_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Rust string literal.
pub(super) fn rust_string(value: &str) -> String {
    format!("{value:?}")
}

/// `` `a`, `b` `` for a list of names, or `—` when it is empty.
pub(super) fn code_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if list.is_empty() {
        "—".to_owned()
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_stay_on_one_line_and_escape_pipes() {
        assert_eq!(table_cell("a | b\nc\n\nd"), "a \\| b c d");
        assert_eq!(table_cell("  "), "—");
    }

    #[test]
    fn js_strings_escape_quotes() {
        assert_eq!(js_string("it's"), "'it\\'s'");
        assert_eq!(js_string("a\\b"), "'a\\\\b'");
    }

    #[test]
    fn js_doc_cannot_close_early() {
        assert_eq!(js_doc("a */ b", ""), "/** a *\\/ b */\n");
        assert_eq!(js_doc("a\n\nb", " "), " /**\n  * a\n  *\n  * b\n  */\n");
        assert_eq!(js_doc("", "  "), "");
    }
}
