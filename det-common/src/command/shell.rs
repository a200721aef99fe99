//! POSIX shell word splitting, enough for compiler command lines as build tools print them
//! (`compile_commands.json` `command` strings, `cargo build -v`, `make V=1`, ninja, `sh -x`).
//!
//! Quotes, backslash escapes and the list operators `&&`, `||`, `;`, `|`, `&` are understood;
//! expansions (`$VAR`, `$(...)`, globs) are kept as written, since the log shows what ran.

use std::fmt;

/// Why a string is not a complete shell command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellError {
    /// A `'` or `"` quote that is never closed.
    UnterminatedQuote(char),
    /// A backslash as the very last character.
    TrailingBackslash,
}

impl fmt::Display for ShellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShellError::UnterminatedQuote(q) => write!(f, "unterminated {q} quote"),
            ShellError::TrailingBackslash => f.write_str("trailing backslash"),
        }
    }
}

impl std::error::Error for ShellError {}

/// Split one command into words as `sh` would (quotes removed, escapes applied). List
/// operators are ordinary characters here: a `compile_commands.json` entry is one command.
pub fn shell_split(s: &str) -> Result<Vec<String>, ShellError> {
    let mut commands = split(s, false)?;
    Ok(commands.pop().unwrap_or_default())
}

/// Split a command list (`cd build && cc -c a.c; ar rcs x.a a.o`) into its simple commands.
pub(crate) fn split_command_list(s: &str) -> Result<Vec<Vec<String>>, ShellError> {
    split(s, true)
}

fn split(s: &str, operators: bool) -> Result<Vec<Vec<String>>, ShellError> {
    let mut commands: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    // A word exists once any character or quote pair was seen: `''` is an empty word.
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => return Err(ShellError::TrailingBackslash),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err(ShellError::UnterminatedQuote('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            // Inside double quotes a backslash escapes only these.
                            Some(&e @ ('$' | '`' | '"' | '\\')) => {
                                word.push(e);
                                chars.next();
                            }
                            Some('\n') => {
                                chars.next();
                            }
                            _ => word.push('\\'),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err(ShellError::UnterminatedQuote('"')),
                    }
                }
            }
            c if c.is_whitespace() && !(operators && c == '\n') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '&' | '|' | ';' | '\n' if operators => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                // `&&` and `||` are one operator; the second character adds nothing.
                if (c == '&' || c == '|') && chars.peek() == Some(&c) {
                    chars.next();
                }
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() || commands.is_empty() {
        commands.push(words);
    }
    if operators {
        commands.retain(|c| !c.is_empty());
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            shell_split(r#"gcc -DNAME="a b" '-DQ=it'"'"'s' x\ y.c -DE=\"q\" """#).unwrap(),
            w(&["gcc", "-DNAME=a b", "-DQ=it's", "x y.c", "-DE=\"q\"", ""])
        );
        assert_eq!(
            shell_split(r#"cc "-DP=\$HOME\\x\n""#).unwrap(),
            w(&["cc", r"-DP=$HOME\x\n"])
        );
        assert_eq!(shell_split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(
            shell_split("cc 'a").unwrap_err(),
            ShellError::UnterminatedQuote('\'')
        );
        assert_eq!(
            shell_split("cc \"a").unwrap_err(),
            ShellError::UnterminatedQuote('"')
        );
        assert_eq!(
            shell_split("cc a\\").unwrap_err(),
            ShellError::TrailingBackslash
        );
        // Operators are plain characters for a single command.
        assert_eq!(shell_split("a&&b").unwrap(), w(&["a&&b"]));
    }

    #[test]
    fn command_lists() {
        assert_eq!(
            split_command_list("cd /x/build && /usr/bin/cc -c 'a;b.c' ; ar rcs l.a a.o || true")
                .unwrap(),
            vec![
                w(&["cd", "/x/build"]),
                w(&["/usr/bin/cc", "-c", "a;b.c"]),
                w(&["ar", "rcs", "l.a", "a.o"]),
                w(&["true"])
            ]
        );
        assert_eq!(
            split_command_list("cc -c a.c \\\n  -g").unwrap(),
            vec![w(&["cc", "-c", "a.c", "-g"])]
        );
        assert_eq!(split_command_list(";;").unwrap(), Vec::<Vec<String>>::new());
    }
}
