//! Globs over relative paths (`*` and `?` within a component, `**` across components):
//! the `--outputs` of `cargo det-build exec` and the `--artifacts` of `cargo det-verify`.

use std::path::Path;

/// `*` and `?` within a path component, `**` across components.
pub fn glob_match(pattern: &[u8], path: &[u8]) -> bool {
    match pattern {
        [] => path.is_empty(),
        [b'*', b'*', rest @ ..] => {
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=path.len()).any(|i| {
                (i == 0 || path[i - 1] == b'/' || rest.is_empty()) && glob_match(rest, &path[i..])
            })
        }
        [b'*', rest @ ..] => (0..=path.len())
            .take_while(|&i| i == 0 || path[i - 1] != b'/')
            .any(|i| glob_match(rest, &path[i..])),
        [b'?', rest @ ..] => !path.is_empty() && path[0] != b'/' && glob_match(rest, &path[1..]),
        [c, rest @ ..] => path.first() == Some(c) && glob_match(rest, &path[1..]),
    }
}

/// Regular files under `dir` whose relative path matches one of `globs`, sorted.
pub fn matching_files(dir: &Path, globs: &[String]) -> crate::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let io = |e| crate::Error::io(&d, e);
        for e in std::fs::read_dir(&d).map_err(io)? {
            let e = e.map_err(io)?;
            let p = e.path();
            let t = e.file_type().map_err(io)?;
            let rel = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            if t.is_dir() {
                if rel != ".git" {
                    stack.push(p);
                }
            } else if t.is_file()
                && globs
                    .iter()
                    .any(|g| glob_match(g.as_bytes(), rel.as_bytes()))
            {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
        assert!(m("prog", "prog"));
        assert!(m("*.o", "a.o") && !m("*.o", "sub/a.o"));
        assert!(m("**/*.o", "sub/a.o") && m("**/*.o", "a.o") && m("build/**", "build/x/y"));
        assert!(m("lib?.a", "libx.a") && !m("lib?.a", "lib/.a"));
    }
}
