//! Escaping of strings that come from artifacts (evidence, file and member names, section
//! names, error messages) for each output format, and the bound on evidence length.
//!
//! An artifact is hostile input: a file name or a string in `.rodata` may hold an ANSI escape
//! sequence that rewrites the user's terminal, a carriage return that hides the line before it,
//! or a bidi override that makes text read differently from what it is ("trojan source").
//! Every renderer passes artifact strings through these functions; det's own text (rule
//! messages and fixes from the rules table) needs none of it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that must never reach a terminal (or a page) raw: C0 controls (ESC starts
/// every escape sequence), DEL, C1 controls (U+0080–U+009F: U+009B is CSI on some
/// terminals), bidi embeddings, overrides, isolates and marks ("trojan source"), line and
/// paragraph separators, and invisible characters that make two different strings look the
/// same: zero-width space, non-joiner and joiner (U+200B–U+200D), word joiner and the
/// invisible operators (U+2060–U+2064), the BOM / zero-width no-break space, the Mongolian
/// vowel separator, Hangul fillers, and the tag characters (U+E0000–U+E007F).
///
/// This is the one test every output uses (text, stderr, JSON, SARIF, HTML): a string from
/// an artifact, a manifest or a project's configuration never reaches a reader raw.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{061c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{3164}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// False when `s` surely holds no unsafe character: a byte scan that rules out the lead
/// bytes of every unsafe character (C0 and DEL; 0xC2 for C1; 0xD8 for U+061C; 0xE1 for
/// U+115F, U+1160, U+180E; 0xE2 for the U+20xx marks and separators; 0xE3 for U+3164; 0xEF
/// for the BOM and U+FFA0; 0xF3 for the tags). Most strings pass it, so the per-character
/// check runs rarely and rendering stays fast on large reports.
pub(crate) fn may_hold_unsafe(s: &str) -> bool {
    s.bytes()
        .any(|b| b < 0x20 || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe1 | 0xe2 | 0xe3 | 0xef | 0xf3))
}

/// `s` made visible line by line: the line breaks of a multi-line message (a TOML parse
/// error with its caret line) are kept, everything else unsafe is escaped.
pub fn visible_lines(s: &str) -> String {
    s.split('\n').map(visible).collect::<Vec<_>>().join("\n")
}

/// `s` made visible (see [`visible`]) between double quotes, for messages that quote a
/// value from a file (a manifest's schema, a Cargo.toml entry).
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", visible(s))
}

/// `s` with every unsafe character replaced by a visible escape: `\n`, `\r`, `\t`, `\x1b`
/// (other ASCII controls and DEL), `\u{202e}` (the rest).
///
/// A backslash is kept as is, so a literal `\x1b` in the input reads the same as an escaped
/// ESC: the alternative (doubling every backslash) would make every Windows path in a report
/// unreadable, and ambiguity in what is displayed is harmless — no control reaches the terminal.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !may_hold_unsafe(s) || !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !is_unsafe_char(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// HTML text and attribute escaping of an artifact string: unsafe characters made visible
/// first (a browser would render bidi overrides, too), then `& < > " '` as entities.
pub fn html(s: &str) -> Cow<'_, str> {
    let vis = visible(s);
    if !vis.contains(['&', '<', '>', '"', '\'']) {
        return vis;
    }
    let mut out = String::with_capacity(vis.len() + 16);
    for c in vis.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Markdown (CommonMark / GitHub Flavored) escaping of an artifact string: unsafe characters
/// made visible, then every ASCII punctuation character that Markdown or GFM gives a meaning
/// (emphasis, code, links, autolinks, HTML, tables, headings, lists, GitHub's `$` math)
/// backslash-escaped.
/// CommonMark allows a backslash before any ASCII punctuation, so the escapes never show.
pub fn markdown(s: &str) -> Cow<'_, str> {
    const SPECIAL: &[char] = &[
        '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '<', '>',
        '~', '&', ':', '@', '"', '\'', '=', '$',
    ];
    let vis = visible(s);
    if !vis.contains(SPECIAL) {
        return vis;
    }
    let mut out = String::with_capacity(vis.len() + 16);
    for c in vis.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// An artifact string as a Markdown code span: unsafe characters made visible, fenced by
/// one backtick more than the longest run of backticks inside (backslash escapes do not work
/// in code spans, and a code span shows everything else literally, `<script>` included).
pub fn markdown_code(s: &str) -> String {
    let vis = visible(s);
    let mut longest = 0;
    let mut run = 0;
    for c in vis.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A space pads content that begins or ends with a backtick (CommonMark strips one).
    let pad = if vis.starts_with('`') || vis.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{vis}{pad}{fence}")
}

/// Evidence bounded to `max_chars` characters: a longer string is cut at a character
/// boundary and ends with `…[N chars]`, N being the original length in characters.
/// `max_chars == 0` means no bound. The cut is made before any escaping, so an escape is
/// never split.
pub fn bounded(s: &str, max_chars: usize) -> Cow<'_, str> {
    if max_chars == 0 {
        return Cow::Borrowed(s);
    }
    match s.char_indices().nth(max_chars) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => {
            let total = max_chars + s[cut..].chars().count();
            Cow::Owned(format!("{}…[{} chars]", &s[..cut], total))
        }
    }
}

/// A `/`-separated path as a SARIF `artifactLocation.uri`: a relative path stays a relative
/// URI reference, an absolute one (`/x`, `C:/x`) becomes a `file://` URI. Every byte outside
/// RFC 3986's unreserved set and `/` is percent-encoded (UTF-8), so spaces, `%`, `#`, `?`,
/// `:` (which would otherwise read as a scheme) and non-ASCII names all survive.
pub fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let rest = if path.starts_with('/') {
        out.push_str("file://");
        path
    } else if is_drive_path(path) {
        out.push_str("file:///");
        out.push_str(&path[..2]);
        &path[2..]
    } else {
        path
    };
    for &b in rest.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `C:/...` or `C:\...`: a Windows absolute path.
fn is_drive_path(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'/' | b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_escapes_controls_and_bidi() {
        assert_eq!(visible("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(
            visible("x\ry\nz\t\x07\x08\x7f"),
            "x\\ry\\nz\\t\\x07\\x08\\x7f"
        );
        assert_eq!(
            visible("\u{9b}1m\u{202e}txt\u{2066}"),
            "\\u{9b}1m\\u{202e}txt\\u{2066}"
        );
        assert_eq!(visible("/home/jürgen/é.c"), "/home/jürgen/é.c");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        // Invisible characters that make different strings look alike.
        assert_eq!(
            visible("a\u{200b}b\u{2060}c\u{e0041}d\u{feff}\u{200d}"),
            "a\\u{200b}b\\u{2060}c\\u{e0041}d\\u{feff}\\u{200d}"
        );
        for c in [
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{e007f}',
            '\u{2064}',
        ] {
            assert!(is_unsafe_char(c), "{c:?}");
            assert!(may_hold_unsafe(&c.to_string()), "{c:?}");
        }
        assert_eq!(quoted("\x1b]0;pwned\x07"), "\"\\x1b]0;pwned\\x07\"");
    }

    #[test]
    fn html_escapes_markup_after_controls() {
        assert_eq!(
            html("<script>alert('x')</script>&\"\x1b"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\\x1b"
        );
    }

    #[test]
    fn markdown_escapes_significant_punctuation() {
        assert_eq!(markdown("*a* [l](u) `c`"), "\\*a\\* \\[l\\]\\(u\\) \\`c\\`");
        assert_eq!(markdown("https://x.y"), "https\\://x\\.y");
        assert_eq!(markdown("<b>\u{202e}"), "\\<b\\>\\\\u\\{202e\\}");
    }

    #[test]
    fn markdown_code_fences_around_backticks() {
        assert_eq!(markdown_code("a<b>"), "`a<b>`");
        assert_eq!(markdown_code("x``y"), "```x``y```");
        assert_eq!(markdown_code("`q"), "`` `q ``");
        assert_eq!(markdown_code("\x1b[0m"), "`\\x1b[0m`");
    }

    #[test]
    fn bounded_cuts_at_char_boundary_and_notes_length() {
        assert_eq!(bounded("abcdef", 0), "abcdef");
        assert_eq!(bounded("abcdef", 6), "abcdef");
        assert_eq!(bounded("abcdef", 4), "abcd…[6 chars]");
        assert_eq!(bounded("ééééé", 2), "éé…[5 chars]");
    }

    #[test]
    fn uri_reference_encodes_and_marks_absolute() {
        assert_eq!(uri_reference("dist/x.whl"), "dist/x.whl");
        assert_eq!(uri_reference("a b/%#?.so"), "a%20b/%25%23%3F.so");
        assert_eq!(uri_reference("c:d"), "c%3Ad");
        assert_eq!(uri_reference("/abs/x y"), "file:///abs/x%20y");
        assert_eq!(uri_reference("C:/w/x"), "file:///C:/w/x");
        assert_eq!(uri_reference("é"), "%C3%A9");
    }
}
