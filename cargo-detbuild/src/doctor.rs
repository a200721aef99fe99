//! `cargo det-build doctor`: whether det can make reproducible builds on this machine —
//! the toolchains found (with versions, against the pins), whether a namespace can be made,
//! whether the shim loads into a dynamically linked program, and a behaviour probe: a small
//! C program (through det's wrapper, with each C toolchain found) and a small Rust program
//! (rustc with det's remapping) each compiled twice, in two directories of different path
//! lengths at two different times, and compared. One line per check, the fix for every
//! problem, a verdict; `--strict` counts every fallback as a failure; `--format json`.

use crate::cc::{ZIG_MISSING, host_zig_target};
use anyhow::{Context, Result};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
pub(crate) struct DoctorArgs {
    /// Count every fallback (no namespace, no zig) as a failure
    #[arg(long)]
    strict: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub(crate) const AFTER_HELP: &str = "\
Pins are read where cargo det-build reads them, in the workspace of the working directory
(or the working directory outside a cargo project): rust-toolchain.toml (or rust-toolchain)
for the Rust version, and the `rustc-id`, `zig-version` and `zig-id` keys of the Cargo.toml's
[workspace.metadata.det], else of det.toml.
Exit status: 0 when every check passes (warnings allowed unless --strict), 1 otherwise.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum State {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    state: State,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Serialize)]
struct Report {
    checks: Vec<Check>,
    strict: bool,
    verdict: String,
    ready: bool,
}

fn check(name: &str, state: State, detail: impl Into<String>, fix: Option<String>) -> Check {
    Check {
        name: name.to_string(),
        state,
        detail: detail.into(),
        fix,
    }
}

fn ok_output(cmd: &mut Command) -> Result<Vec<u8>, String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(o.stdout),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

const PROBE_C: &str = "#include <stdio.h>\n\
static const char *where = __FILE__;\n\
int main(void) { printf(\"%s %s %s\\n\", where, __DATE__, __TIME__); return 0; }\n";

const PROBE_RS: &str =
    "fn main() { println!(\"{} {:?}\", file!(), std::env::var(\"SOURCE_DATE_EPOCH\")); }\n";

/// Build `what` in two directories of different path lengths, a second apart, and say
/// whether the outputs are identical.
fn twice(build: impl Fn(&Path) -> Result<Vec<u8>, String>) -> Result<bool, String> {
    let base = tempfile::tempdir().map_err(|e| e.to_string())?;
    let a = base.path().join("a");
    let b = base.path().join("a-much-longer-directory-name/and/deeper");
    std::fs::create_dir_all(&a).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&b).map_err(|e| e.to_string())?;
    let first = build(&a)?;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(&b)?;
    Ok(first == second)
}

/// The C probe through det's wrapper (a link named cc to this binary).
fn c_probe(toolchain: &str, zig: Option<&Path>, sde: &str) -> Result<bool, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let links = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cc = links.path().join("cc");
    std::os::unix::fs::symlink(&exe, &cc).map_err(|e| e.to_string())?;
    // zig's libc start files are built once into this cache (minutes the first time).
    let cache = crate::shim::cache_dir()
        .map(|d| d.join("zig-cache-doctor"))
        .unwrap_or_else(|_| links.path().join("zig-cache"));
    twice(|dir| {
        std::fs::write(dir.join("probe.c"), PROBE_C).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&cc);
        cmd.args(["-O2", "-g", "-o", "probe"])
            .arg(dir.join("probe.c"))
            .current_dir(dir)
            .env("DET_CC_TOOLCHAIN", toolchain)
            .env("DET_ROOT", dir)
            .env("SOURCE_DATE_EPOCH", sde);
        if let Some(z) = zig {
            cmd.env("DET_ZIG", z).env("DET_ZIG_CACHE", &cache);
        }
        ok_output(&mut cmd)?;
        std::fs::read(dir.join("probe")).map_err(|e| e.to_string())
    })
}

fn rust_probe(rustc: &Path, sde: &str) -> Result<bool, String> {
    twice(|dir| {
        std::fs::write(dir.join("probe.rs"), PROBE_RS).map_err(|e| e.to_string())?;
        ok_output(
            Command::new(rustc)
                .args([
                    "--edition",
                    "2021",
                    "-C",
                    "debuginfo=1",
                    "-C",
                    "codegen-units=1",
                ])
                .arg(format!("--remap-path-prefix={}=", dir.display()))
                .args(["-o", "probe", "probe.rs"])
                .current_dir(dir)
                .env("SOURCE_DATE_EPOCH", sde),
        )?;
        std::fs::read(dir.join("probe")).map_err(|e| e.to_string())
    })
}

pub(crate) fn run(args: DoctorArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("the working directory")?;
    let env = |k: &str| std::env::var_os(k);
    let sde = "1704067200";
    let fallback = if args.strict {
        State::Fail
    } else {
        State::Warn
    };
    let mut checks = Vec::new();
    // The pins where det-build reads them: the workspace's `[workspace.metadata.det]`,
    // then det.toml beside it (outside a cargo project: det.toml here).
    let (ws, ws_metadata) = crate::cargo_build::workspace_of(&cwd);
    let pins = match crate::cargo_build::det_pins(&ws, &ws_metadata) {
        Ok(p) => p,
        Err(e) => {
            checks.push(check(
                "pins",
                State::Fail,
                format!("{e:#}"),
                Some(format!(
                    "fix the TOML syntax of {}",
                    ws.join("det.toml").display()
                )),
            ));
            Vec::new()
        }
    };
    let pin = |k: &str| pins.iter().find(|p| p.key == k);

    // rustc, cargo, and the Rust pins.
    let rustc = det_common::toolchain::find_rustc(&env);
    let mut rustc_ok = None;
    match rustc
        .as_deref()
        .map(|r| (r, det_common::toolchain::identify_rustc(r)))
    {
        Some((r, Ok(t))) => {
            checks.push(check(
                "rustc",
                State::Ok,
                format!(
                    "rustc {} at {} (id {})",
                    t.version,
                    t.path.display(),
                    &t.id[..16]
                ),
                None,
            ));
            if let Some((channel, file)) = crate::cargo_build::toolchain_file_channel(&ws)
                && let Some(v) = det_common::toolchain::Version::parse(&channel)
                && v != t.version
                && !(channel.matches('.').count() == 1
                    && v.major == t.version.major
                    && v.minor == t.version.minor)
            {
                checks.push(check(
                    "rustc pin",
                    State::Fail,
                    format!(
                        "{} pins Rust {channel}, found {}",
                        file.display(),
                        t.version
                    ),
                    Some(format!("rustup toolchain install {channel}")),
                ));
            }
            if let Some(p) = pin("rustc-id") {
                let state = if p.value == t.id {
                    State::Ok
                } else {
                    State::Fail
                };
                checks.push(check(
                    "rustc pin",
                    state,
                    format!("{} pins rustc-id {}; found {}", p.place(), p.value, t.id),
                    (state == State::Fail).then(|| {
                        format!(
                            "install the toolchain the pin was made with, or set rustc-id = \"{}\" in {}",
                            t.id,
                            p.place()
                        )
                    }),
                ));
            }
            rustc_ok = Some(r.to_path_buf());
        }
        Some((r, Err(e))) => checks.push(check(
            "rustc",
            State::Fail,
            format!("{}: {e}", r.display()),
            Some("rustup default stable".into()),
        )),
        None => checks.push(check(
            "rustc",
            State::Fail,
            "not found (RUSTC, PATH)",
            Some("curl https://sh.rustup.rs -sSf | sh".into()),
        )),
    }
    match ok_output(Command::new(env("CARGO").unwrap_or_else(|| "cargo".into())).arg("-V")) {
        Ok(v) => checks.push(check(
            "cargo",
            State::Ok,
            String::from_utf8_lossy(&v).trim().to_string(),
            None,
        )),
        Err(e) => checks.push(check(
            "cargo",
            State::Fail,
            e,
            Some("rustup component add cargo".into()),
        )),
    }

    // C toolchains.
    let zig = det_common::toolchain::find_zig();
    match zig.as_deref().map(det_common::toolchain::identify_zig) {
        Some(Ok(t)) => {
            checks.push(check(
                "zig",
                State::Ok,
                format!(
                    "zig {} at {} (id {}), target {}",
                    t.version,
                    t.path.display(),
                    &t.id[..16],
                    host_zig_target()
                ),
                None,
            ));
            for (key, found) in [
                ("zig-version", t.version.to_string()),
                ("zig-id", t.id.clone()),
            ] {
                if let Some(p) = pin(key) {
                    let want = &p.value;
                    let state = if *want == found {
                        State::Ok
                    } else {
                        State::Fail
                    };
                    checks.push(check(
                        "zig pin",
                        state,
                        format!("{} pins {key} {want}; found {found}", p.place()),
                        (state == State::Fail).then(|| {
                            if key == "zig-version" {
                                format!("python3 -m pip install ziglang=={want}")
                            } else {
                                format!(
                                    "install the zig the pin was made with, or set zig-id = \"{found}\" in {}",
                                    p.place()
                                )
                            }
                        }),
                    ));
                }
            }
        }
        Some(Err(e)) => checks.push(check(
            "zig",
            fallback,
            e.to_string(),
            Some("python3 -m pip install --force-reinstall ziglang".into()),
        )),
        None => checks.push(check(
            "zig",
            fallback,
            "not found: --cc zig is not available (--cc system is)",
            Some(
                ZIG_MISSING
                    .trim_start_matches("zig not found: ")
                    .to_string(),
            ),
        )),
    }
    let cc = det_common::toolchain::find_cc(&env);
    match cc.as_deref().map(det_common::toolchain::c_compiler_info) {
        Some(Ok(info)) => checks.push(check(
            "system C compiler",
            State::Ok,
            format!(
                "{} {} at {}",
                info.family.name(),
                info.version,
                cc.as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            None,
        )),
        Some(Err(e)) => checks.push(check(
            "system C compiler",
            State::Fail,
            e.to_string(),
            Some("apt-get install gcc (or set CC)".into()),
        )),
        None => checks.push(check(
            "system C compiler",
            if zig.is_some() { fallback } else { State::Fail },
            "no cc, gcc or clang on PATH",
            Some("apt-get install gcc".into()),
        )),
    }

    // The canonical root and the shim.
    match det_common::sandbox::probe(true) {
        Ok(()) => checks.push(check(
            "namespace",
            State::Ok,
            format!("a mount namespace can be made: the canonical root {} works", det_common::sandbox::SRC),
            None,
        )),
        Err(why) => checks.push(check(
            "namespace",
            fallback,
            format!("no namespace ({}): builds fall back to path remapping", why.0),
            Some("sudo sysctl -w kernel.unprivileged_userns_clone=1 kernel.apparmor_restrict_unprivileged_userns=0 (or run in a container that allows unshare)".into()),
        )),
    }
    match crate::shim::shim_path() {
        Ok(shim) => {
            let date = ok_output(
                Command::new("date")
                    .arg("+%s")
                    .env("LD_PRELOAD", &shim)
                    .env("DET_SHIM_TIME", sde),
            );
            match date {
                Ok(out) if String::from_utf8_lossy(&out).trim() == sde => checks.push(check(
                    "shim",
                    State::Ok,
                    format!("{} loads into date(1) and pins its clock", shim.display()),
                    None,
                )),
                Ok(out) => checks.push(check(
                    "shim",
                    State::Fail,
                    format!(
                        "date(1) under the shim said {}, not {sde}",
                        String::from_utf8_lossy(&out).trim()
                    ),
                    Some("check that date is dynamically linked and LD_PRELOAD is not blocked (secure-execution mode)".into()),
                )),
                Err(e) => checks.push(check(
                    "shim",
                    State::Fail,
                    format!("date(1) under the shim failed: {e}"),
                    Some("run `cargo det-build shim-path` and check the library loads (ldd)".into()),
                )),
            }
        }
        Err(e) => checks.push(check(
            "shim",
            State::Fail,
            format!("{e:#}"),
            Some("set DET_CACHE_DIR to a writable directory".into()),
        )),
    }

    // Behaviour: the same program twice, elsewhere and later.
    let mut probes: Vec<(&str, &str, Option<PathBuf>)> = Vec::new();
    if cc.is_some() {
        probes.push(("C probe (system)", "system", None));
    }
    if let Some(z) = &zig {
        probes.push(("C probe (zig)", "zig", Some(z.clone())));
    }
    for (name, toolchain, z) in probes {
        checks.push(match c_probe(toolchain, z.as_deref(), sde) {
            Ok(true) => check(name, State::Ok, "identical in two directories at two times", None),
            Ok(false) => check(
                name,
                State::Fail,
                "the two builds differ",
                Some("run `cargo det-build exec -- cc ...` twice and compare with `cargo det-verify`".into()),
            ),
            Err(e) => check(name, State::Fail, format!("did not build: {e}"), None),
        });
    }
    if let Some(r) = &rustc_ok {
        checks.push(match rust_probe(r, sde) {
            Ok(true) => check(
                "Rust probe",
                State::Ok,
                "identical in two directories at two times",
                None,
            ),
            Ok(false) => check(
                "Rust probe",
                State::Fail,
                "the two builds differ",
                Some("report it: rustc with --remap-path-prefix should be reproducible".into()),
            ),
            Err(e) => check(
                "Rust probe",
                State::Fail,
                format!("did not build: {e}"),
                None,
            ),
        });
    }

    let failures = checks.iter().filter(|c| c.state == State::Fail).count();
    let warnings = checks.iter().filter(|c| c.state == State::Warn).count();
    let ready = failures == 0;
    let verdict = match (failures, warnings) {
        (0, 0) => "ready: det can make reproducible builds here".to_string(),
        (0, w) => format!("ready, with {w} fallback(s): see the warnings"),
        (f, _) => format!("not ready: {f} problem(s), each with its fix above"),
    };
    let report = Report {
        checks,
        strict: args.strict,
        verdict,
        ready,
    };
    match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report)?;
            s.push('\n');
            print!("{s}");
        }
        Format::Text => print_text(&report),
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(r: &Report) {
    let color = det_common::report::color_wanted(std::io::stdout().is_terminal());
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    for c in &r.checks {
        let mark = match c.state {
            State::Ok => paint("32", "✓"),
            State::Warn => paint("33", "!"),
            State::Fail => paint("31", "✗"),
        };
        println!("{mark} {:<18} {}", c.name, c.detail);
        if let Some(f) = &c.fix {
            println!("  {:<18} fix: {f}", "");
        }
    }
    println!();
    println!(
        "{}",
        if r.ready {
            paint("1;32", &r.verdict)
        } else {
            paint("1;31", &r.verdict)
        }
    );
}
