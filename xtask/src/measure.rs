//! How the benchmarks measure, in one place: a command's wall time, CPU time and peak
//! memory (from `wait4`, so the figures belong to that command and its children alone),
//! repeated runs summarised by their medians, and the one table every part of
//! `cargo xtask bench` adds its figures to, printed at the end and written to
//! `target/bench.json`.

use anyhow::{Context, Result, bail};
use serde_json::json;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One run of one command.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// User plus system time of the command and the children it waited for.
    pub cpu: Duration,
    /// The largest resident set of the command or any child it waited for, in KiB.
    pub max_rss_kib: u64,
}

/// A command's output with its measurement.
pub struct Measured {
    pub sample: Sample,
    pub status: ExitStatus,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` to its end, its output discarded and its errors kept, and measures it with `wait4`.
pub fn measure(cmd: &mut Command) -> Result<Measured> {
    Ok(measure_limited(cmd, None)?.expect("no limit"))
}

/// GNU time, which reports the peak memory of the command it runs alone. The peak `wait4`
/// gives for a child of this process is useless: on `exec` the kernel records the forked
/// copy's resident set, so every command would weigh at least what xtask weighs (about
/// 150 MiB). GNU time is small, and its child's figure is the command's own.
const GNU_TIME: &str = "/usr/bin/time";

/// `cmd` run under GNU time writing the peak (KiB) to `out`, in a process group of its own
/// so that a limit stops the command and not only the wrapper.
fn under_time(cmd: &Command, out: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut w = Command::new(GNU_TIME);
    w.args(["-f", "%M", "-o"])
        .arg(out)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .process_group(0);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        w.current_dir(d);
    }
    w
}

/// [`measure`], but the command is killed after `limit` (then `None`).
pub fn measure_limited(cmd: &mut Command, limit: Option<Duration>) -> Result<Option<Measured>> {
    use std::os::unix::process::ExitStatusExt;
    let peak_file = tempfile::NamedTempFile::new().context("a temporary file for GNU time")?;
    let timed = Path::new(GNU_TIME).is_file();
    let mut wrapped = timed.then(|| under_time(cmd, peak_file.path()));
    let run: &mut Command = match wrapped.as_mut() {
        Some(w) => w,
        None => cmd,
    };
    let start = Instant::now();
    let mut child = run
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {cmd:?}"))?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes only the status and the rusage it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if limit.is_some() { libc::WNOHANG } else { 0 };
    let r = loop {
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if r == 0 {
            // Still running (WNOHANG): past the limit it is stopped and reaped.
            if limit.is_some_and(|l| start.elapsed() >= l) {
                if timed {
                    // SAFETY: a signal to the process group this command leads.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        break r;
    };
    let wall = start.elapsed();
    if r != pid {
        bail!("waiting for {cmd:?}: {}", std::io::Error::last_os_error());
    }
    // The child is reaped: `child` must not be waited for again (dropping it does not).
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(Some(Measured {
        sample: Sample {
            wall,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            // GNU time's last line is the peak (after any "Command exited with non-zero
            // status" line); without it the peak is unknown (0), never xtask's own.
            max_rss_kib: std::fs::read_to_string(peak_file.path())
                .ok()
                .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
                .unwrap_or(0),
        },
        status: ExitStatus::from_raw(status),
        stderr: err.join().unwrap_or_default(),
    }))
}

/// Runs `cmd` and fails unless it exits with a status `ok` accepts.
pub fn measure_ok(cmd: &mut Command, ok: impl Fn(Option<i32>) -> bool) -> Result<Sample> {
    let m = measure(cmd)?;
    if !ok(m.status.code()) {
        bail!(
            "{cmd:?} failed ({}): {}",
            m.status,
            tail(&String::from_utf8_lossy(&m.stderr), 20)
        );
    }
    Ok(m.sample)
}

/// Success only.
pub fn success(code: Option<i32>) -> bool {
    code == Some(0)
}

/// A finding tool's "found something" (1) is not a failure of the benchmark; 2 or a signal is.
pub fn not_error(code: Option<i32>) -> bool {
    code.is_some_and(|c| c < 2)
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Repeated runs of one tool on one case, summarised.
#[derive(Clone, Debug)]
pub struct Stats {
    pub runs: usize,
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_kib: u64,
}

impl Stats {
    /// Medians of wall and CPU time (the lower middle for an even count), the largest peak memory.
    pub fn of(samples: &[Sample]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let med = |mut v: Vec<Duration>| {
            v.sort();
            v[(v.len() - 1) / 2]
        };
        Stats {
            runs: samples.len(),
            wall: med(samples.iter().map(|s| s.wall).collect()),
            cpu: med(samples.iter().map(|s| s.cpu).collect()),
            max_rss_kib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        }
    }

    /// A figure measured as a plain duration (in-process work, a sum of batches).
    pub fn of_durations(walls: &[Duration]) -> Stats {
        Stats::of(
            &walls
                .iter()
                .map(|&wall| Sample {
                    wall,
                    cpu: Duration::ZERO,
                    max_rss_kib: 0,
                })
                .collect::<Vec<_>>(),
        )
    }
}

/// `warmup` unmeasured runs, then `n` measured ones.
pub fn repeat(warmup: usize, n: usize, mut f: impl FnMut() -> Result<Sample>) -> Result<Stats> {
    for _ in 0..warmup {
        f()?;
    }
    let samples = (0..n).map(|_| f()).collect::<Result<Vec<_>>>()?;
    Ok(Stats::of(&samples))
}

/// Several tools on one case, interleaved round by round so that a machine getting busier
/// hurts them alike; `warmup` rounds are not counted.
pub fn interleaved(
    warmup: usize,
    n: usize,
    fs: &mut [&mut dyn FnMut() -> Result<Sample>],
) -> Result<Vec<Stats>> {
    let samples = interleaved_samples(warmup, n, fs)?;
    Ok(samples.iter().map(|s| Stats::of(s)).collect())
}

/// [`interleaved`], each tool's samples in round order (for [`round_ratio`]).
pub fn interleaved_samples(
    warmup: usize,
    n: usize,
    fs: &mut [&mut dyn FnMut() -> Result<Sample>],
) -> Result<Vec<Vec<Sample>>> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); fs.len()];
    for round in 0..warmup + n {
        for (i, f) in fs.iter_mut().enumerate() {
            let s = f()?;
            if round >= warmup {
                samples[i].push(s);
            }
        }
    }
    Ok(samples)
}

/// The ratios `a / b` of wall time, round by round (the samples of the same round side by
/// side): their median, lowest and highest. On a machine whose speed drifts from one minute
/// to the next (a shared VM) the median of these ratios is steadier than the ratio of the
/// medians: each ratio compares runs made seconds apart.
pub fn round_ratio(a: &[Sample], b: &[Sample]) -> (f64, f64, f64) {
    let mut r: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.wall.as_secs_f64() / b.wall.as_secs_f64())
        .collect();
    assert!(!r.is_empty(), "no rounds");
    r.sort_by(f64::total_cmp);
    (r[(r.len() - 1) / 2], r[0], r[r.len() - 1])
}

/// One line of the table: one tool measured on one case.
#[derive(Clone, Debug)]
pub struct Row {
    /// The part of det: scan, diff, build, verify, normalize, store, shim, hash.
    pub area: &'static str,
    /// What was measured, e.g. "registry sources, 525 MiB text".
    pub case: String,
    pub tool: String,
    pub stats: Stats,
    /// Bytes processed, for a throughput column.
    pub bytes: Option<u64>,
    /// Another row of the same case this one is compared with (its tool name), and the goal
    /// for `this wall / that wall` when the issue names one.
    pub against: Option<(String, Option<f64>)>,
    /// A figure that is not a time (e.g. "4 extra builds for 9 variations").
    pub note: Option<String>,
}

/// Every figure of one `cargo xtask bench` run.
#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    pub fn add(&mut self, area: &'static str, case: &str, tool: &str, stats: Stats) -> &mut Row {
        self.rows.push(Row {
            area,
            case: case.to_string(),
            tool: tool.to_string(),
            stats,
            bytes: None,
            against: None,
            note: None,
        });
        self.rows.last_mut().expect("just pushed")
    }

    fn wall_of(&self, area: &str, case: &str, tool: &str) -> Option<Duration> {
        self.rows
            .iter()
            .find(|r| r.area == area && r.case == case && r.tool == tool)
            .map(|r| r.stats.wall)
    }

    /// `this wall / baseline wall`, when the row names a baseline that was measured.
    pub fn ratio(&self, r: &Row) -> Option<f64> {
        let (base, _) = r.against.as_ref()?;
        let b = self.wall_of(r.area, &r.case, base)?;
        (b > Duration::ZERO).then(|| r.stats.wall.as_secs_f64() / b.as_secs_f64())
    }

    /// The table, for people.
    pub fn print(&self) {
        if self.rows.is_empty() {
            return;
        }
        println!(
            "\n== det bench: every figure of this run (medians; peak memory is the largest run) ==\n"
        );
        println!(
            "{:<9} {:<44} {:<34} {:>4} {:>9} {:>9} {:>9} {:>9}  against",
            "area", "case", "tool", "runs", "wall", "cpu", "peak MiB", "MiB/s"
        );
        for r in &self.rows {
            let secs = |d: Duration| {
                if d.is_zero() {
                    "-".to_string()
                } else {
                    format!("{:.3}s", d.as_secs_f64())
                }
            };
            let rss = if r.stats.max_rss_kib == 0 {
                "-".to_string()
            } else {
                format!("{:.0}", r.stats.max_rss_kib as f64 / 1024.0)
            };
            let tput = match r.bytes {
                Some(b) if !r.stats.wall.is_zero() => {
                    format!("{:.0}", b as f64 / 1048576.0 / r.stats.wall.as_secs_f64())
                }
                _ => "-".to_string(),
            };
            let mut against = String::new();
            if let (Some((base, goal)), Some(x)) = (&r.against, self.ratio(r)) {
                against = if x < 0.5 {
                    format!("{x:.3}x {base} ({:.0}x faster)", 1.0 / x)
                } else {
                    format!("{x:.2}x {base}")
                };
                if let Some(g) = goal {
                    against += &format!(
                        " (goal <= {g:.2}x: {})",
                        if x <= *g { "met" } else { "missed" }
                    );
                }
            }
            if let Some(n) = &r.note {
                if !against.is_empty() {
                    against += "; ";
                }
                against += n;
            }
            println!(
                "{:<9} {:<44} {:<34} {:>4} {:>9} {:>9} {:>9} {:>9}  {}",
                r.area,
                clip(&r.case, 44),
                clip(&r.tool, 34),
                r.stats.runs,
                secs(r.stats.wall),
                secs(r.stats.cpu),
                rss,
                tput,
                against
            );
        }
    }

    /// The table, for programs: `det-bench/1`, rows in the order they were measured.
    pub fn to_json(&self) -> serde_json::Value {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let rows: Vec<_> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "area": r.area,
                    "case": r.case,
                    "tool": r.tool,
                    "runs": r.stats.runs,
                    "wall_s": (!r.stats.wall.is_zero()).then(|| round(r.stats.wall.as_secs_f64())),
                    "cpu_s": (!r.stats.cpu.is_zero()).then(|| round(r.stats.cpu.as_secs_f64())),
                    "peak_rss_kib": (r.stats.max_rss_kib > 0).then_some(r.stats.max_rss_kib),
                    "bytes": r.bytes,
                    "against": r.against.as_ref().map(|(b, _)| b),
                    "goal_ratio": r.against.as_ref().and_then(|(_, g)| *g),
                    "ratio": self.ratio(r).map(round),
                    "note": r.note,
                })
            })
            .collect();
        json!({
            "schema": "det-bench/1",
            "machine": {
                "threads": threads,
                "load_average_1m": load_average(),
            },
            "rows": rows,
        })
    }

    /// Prints the table and writes `bench.json` (atomically) in the target directory.
    pub fn finish(&self, ws: &Path) -> Result<()> {
        self.print();
        let target = super::target_dir(ws);
        std::fs::create_dir_all(&target)
            .with_context(|| format!("creating {}", target.display()))?;
        let path = target.join("bench.json");
        let mut text = serde_json::to_string_pretty(&self.to_json())?;
        text.push('\n');
        // det's error names the file and the cause already.
        det_common::atomic_file::write(&path, text.as_bytes()).map_err(anyhow::Error::msg)?;
        println!("\nwritten to {}", path.display());
        Ok(())
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}

/// The one-minute load average: a figure measured on a busy machine says so.
pub fn load_average() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64) -> Sample {
        Sample {
            wall: Duration::from_millis(ms),
            cpu: Duration::from_millis(ms / 2),
            max_rss_kib: ms,
        }
    }

    #[test]
    fn stats_are_medians_and_the_largest_peak() {
        let st = Stats::of(&[s(30), s(10), s(20)]);
        assert_eq!(st.wall, Duration::from_millis(20));
        assert_eq!(st.cpu, Duration::from_millis(10));
        assert_eq!(st.max_rss_kib, 30);
        // An even count takes the lower middle, never an average that was not measured.
        assert_eq!(Stats::of(&[s(40), s(10)]).wall, Duration::from_millis(10));
    }

    #[test]
    fn a_child_is_measured_alone_and_a_limit_stops_it() {
        assert!(
            Path::new(GNU_TIME).is_file(),
            "{GNU_TIME} is missing: apt-get install time (cargo xtask test installs it)"
        );
        // This process's own weight must not count: the child's peak is its own (a fork
        // records the parent's resident set, 200 MiB here, as the child's peak).
        let heavy = vec![1u8; 200 << 20];
        let small = measure(Command::new("true").env("X", "1")).unwrap();
        assert_eq!(
            heavy
                .iter()
                .step_by(4096)
                .map(|&b| b as usize)
                .sum::<usize>(),
            51200
        );
        assert!(small.sample.max_rss_kib > 0, "{:?}", small.sample);
        assert!(small.sample.max_rss_kib < 16 * 1024, "{:?}", small.sample);
        // A child that allocates and touches 64 MiB: its peak is seen, not this process's.
        let m = measure(Command::new("python3").args([
            "-c",
            "b = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1",
        ]))
        .unwrap();
        assert!(m.status.success());
        assert!(m.sample.max_rss_kib >= 64 * 1024, "{:?}", m.sample);
        assert!(m.sample.max_rss_kib < 160 * 1024, "{:?}", m.sample);
        assert!(m.sample.cpu > Duration::ZERO);
        // The limit stops the command itself, not only GNU time around it.
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("still-running");
        let start = Instant::now();
        let r = measure_limited(
            Command::new("sh")
                .args(["-c", "sleep 2; touch \"$0\""])
                .arg(&flag),
            Some(Duration::from_millis(300)),
        )
        .unwrap();
        assert!(r.is_none(), "the limit must stop the command");
        assert!(start.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!flag.exists(), "the command outlived its limit");
        let e = measure_ok(
            Command::new("sh").args(["-c", "echo broken >&2; exit 2"]),
            not_error,
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("broken"), "{e:#}");
    }

    #[test]
    fn the_table_compares_a_row_with_its_baseline() {
        let mut t = Table::default();
        t.add("scan", "text", "ripgrep", Stats::of(&[s(200)]));
        t.add("scan", "text", "det-scan", Stats::of(&[s(100)]))
            .against = Some(("ripgrep".into(), Some(1.0)));
        t.add("scan", "binaries", "det-scan", Stats::of(&[s(50)]))
            .against = Some(("ripgrep".into(), Some(1.0)));
        let j = t.to_json();
        assert_eq!(j["schema"], "det-bench/1");
        let rows = j["rows"].as_array().unwrap();
        assert_eq!(rows[1]["ratio"], 0.5);
        assert_eq!(rows[1]["goal_ratio"], 1.0);
        // The baseline of another case is not this case's: no ratio.
        assert!(rows[2]["ratio"].is_null());
        assert_eq!(rows[0]["wall_s"], 0.2);
        assert_eq!(rows[0]["peak_rss_kib"], 200);
    }
}
