//! The hostile-input harness shared by det-scan's and det-verify's suites: each input is made
//! by the test itself (small files that used to crash det, hang it or drive it to GiBs), and
//! every case runs as a child process of the real binary under a bound on CPU time and on
//! peak RSS (the child's `ru_utime + ru_stime` and `ru_maxrss` from `wait4`). CPU time is the
//! work an input costs whatever else the machine runs (a wall-time bound failed on a loaded
//! machine: 5.9 s of wall for 1 s of work); a hang that does not spin (a blocked open) is
//! caught by the wall-time kill.
//!
//! `DET_HOSTILE_BIN` runs the cases against another binary (a build of an older commit:
//! that is how the before/after table of issue 7 was measured); `DET_HOSTILE_REPORT=1`
//! prints one line per case (name, wall and CPU seconds, peak MiB, exit status) instead of asserting.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The bounds every case must stay within (issue 7): CPU seconds, all threads together.
pub const MAX_SECONDS: f64 = 5.0;
/// Past this much wall time a run is a hang and is killed.
pub const HANG_SECONDS: f64 = 60.0;
pub const MAX_RSS_MIB: u64 = 512;

/// What one run of the binary took.
#[derive(Debug)]
pub struct Run {
    /// Wall time.
    pub seconds: f64,
    /// User + system CPU time of the child, all its threads.
    pub cpu_seconds: f64,
    pub peak_rss_mib: u64,
    /// The exit status, or `None` when the harness killed it (over its limits) or a signal did.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub killed_by_harness: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The binary to run: `DET_HOSTILE_BIN` when set, else `default`.
pub fn binary(default: &str) -> PathBuf {
    std::env::var_os("DET_HOSTILE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// A size for a case: `ci` under `cargo test` (a debug build must stay within the bounds),
/// `bench` when measuring (`DET_HOSTILE_REPORT`, release binaries: the before/after table).
pub fn size(ci: usize, bench: usize) -> usize {
    if report_only() { bench } else { ci }
}

/// Whether the run only measures (the before/after table) rather than asserting.
pub fn report_only() -> bool {
    std::env::var_os("DET_HOSTILE_REPORT").is_some()
}

/// Run `bin args` in `dir` (reaped by `wait4` below, for its rusage), killing it past `kill_after` seconds or `kill_rss_mib` of RSS
/// (so that a regression fails the test instead of taking the machine down), and measure.
#[allow(clippy::zombie_processes)]
pub fn run_bounded(
    bin: &Path,
    args: &[&str],
    dir: &Path,
    kill_after: f64,
    kill_rss_mib: u64,
) -> Run {
    let child = spawn(bin, args, dir, &[]);
    wait_bounded(child, kill_after, kill_rss_mib)
}

/// A child started by [`spawn`], to be reaped by [`wait_bounded`].
pub struct Child {
    pub pid: libc::pid_t,
    start: Instant,
    out_path: PathBuf,
    err_path: PathBuf,
}

/// Start `bin args` in `dir` with `env` added, its output to `.hostile-stdout` and
/// `.hostile-stderr` in `dir`.
#[allow(clippy::zombie_processes)]
pub fn spawn(bin: &Path, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Child {
    let out_path = dir.join(".hostile-stdout");
    let err_path = dir.join(".hostile-stderr");
    let mut cmd = Command::new(bin);
    // SAFETY: the closure does nothing. Having one makes std fork() instead of posix_spawn
    // (vfork): a vforked child shares this process's memory until exec, and Linux then
    // counts this test process's peak RSS as the child's `ru_maxrss`.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| Ok(()));
    }
    let child = cmd
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    Child {
        pid: child.id() as libc::pid_t,
        start: Instant::now(),
        out_path,
        err_path,
    }
}

/// Reap `child`, killing it past `kill_after` seconds or `kill_rss_mib` of RSS, and measure.
pub fn wait_bounded(child: Child, kill_after: f64, kill_rss_mib: u64) -> Run {
    let Child {
        pid,
        start,
        out_path,
        err_path,
    } = child;
    let mut killed = None;
    let (status, rusage) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, filled by the kernel.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child only.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break (status, ru);
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        let elapsed = start.elapsed().as_secs_f64();
        let rss = rss_mib(pid);
        if killed.is_none() && (elapsed > kill_after || rss > kill_rss_mib) {
            killed = Some(if elapsed > kill_after {
                format!("killed after {kill_after} s")
            } else {
                format!("killed at {rss} MiB RSS")
            });
            // SAFETY: signals our own child, still unreaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let seconds = start.elapsed().as_secs_f64();
    // ru_maxrss is in KiB on Linux.
    let peak_rss_mib = (rusage.ru_maxrss as u64).div_ceil(1024);
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu_seconds = tv(rusage.ru_utime) + tv(rusage.ru_stime);
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    Run {
        seconds,
        cpu_seconds,
        peak_rss_mib,
        code,
        signal,
        killed_by_harness: killed,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

fn rss_mib(pid: libc::pid_t) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// Cases run one at a time (generation included): parallel cases would share two cores and
/// this process's memory, and the bounds would measure the neighbours.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run one case and check the bounds (or, with `DET_HOSTILE_REPORT`, print its figures).
/// Returns the run for the case's own checks, or `None` in report-only mode.
pub fn case(name: &str, bin: &Path, args: &[&str], dir: &Path) -> Option<Run> {
    let report = report_only();
    // A binary from before issue 7 has no --max-memory: `DET_HOSTILE_BASELINE=1` drops it.
    let mut args = args.to_vec();
    if std::env::var_os("DET_HOSTILE_BASELINE").is_some()
        && let Some(i) = args.iter().position(|a| *a == "--max-memory")
    {
        args.drain(i..i + 2);
    }
    let args = &args[..];
    let (kill_after, kill_rss) = if report {
        (60.0, 3072)
    } else {
        (HANG_SECONDS, MAX_RSS_MIB * 2)
    };
    let run = run_bounded(bin, args, dir, kill_after, kill_rss);
    let outcome = match (&run.killed_by_harness, run.code, run.signal) {
        (Some(k), _, _) => k.clone(),
        (None, Some(c), _) => format!("exit {c}"),
        (None, None, Some(s)) => format!("signal {s}"),
        _ => "?".into(),
    };
    if report {
        println!(
            "HOSTILE {name:<34} {:>8.2} s {:>8.2} s CPU {:>6} MiB  {outcome}",
            run.seconds, run.cpu_seconds, run.peak_rss_mib
        );
        let _ = std::io::stdout().flush();
        return None;
    }
    assert!(
        run.killed_by_harness.is_none()
            && run.cpu_seconds <= MAX_SECONDS
            && run.peak_rss_mib <= MAX_RSS_MIB,
        "{name}: {:.2} s CPU ({:.2} s wall), {} MiB peak RSS ({outcome}); bounds {MAX_SECONDS} s CPU, {MAX_RSS_MIB} MiB\nstderr: {}",
        run.cpu_seconds,
        run.seconds,
        run.peak_rss_mib,
        tail(&run.stderr())
    );
    assert!(
        run.code.is_some(),
        "{name}: ended by signal {:?}\nstderr: {}",
        run.signal,
        tail(&run.stderr())
    );
    Some(run)
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(2000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

// ---- input builders ----

/// A section of [`elf64`]: its name, type, flags and the range of the blob it covers.
pub struct ElfSection {
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
}

pub const SHT_PROGBITS: u32 = 1;
pub const SHT_NOTE: u32 = 7;
pub const SHF_ALLOC: u64 = 2;
pub const SHF_WRITE: u64 = 1;
pub const SHF_COMPRESSED: u64 = 0x800;

/// A relocatable x86-64 ELF: header, `blob` (section offsets are relative to it), a section
/// name table and the section headers.
pub fn elf64(blob: &[u8], sections: &[ElfSection]) -> Vec<u8> {
    let blob_at = 64u64;
    let mut shstrtab = vec![0u8];
    let mut name_at = std::collections::HashMap::new();
    for s in sections
        .iter()
        .map(|s| s.name.as_str())
        .chain([".shstrtab"])
    {
        name_at.entry(s.to_owned()).or_insert_with(|| {
            let at = shstrtab.len() as u32;
            shstrtab.extend_from_slice(s.as_bytes());
            shstrtab.push(0);
            at
        });
    }
    let strtab_at = blob_at + blob.len() as u64;
    let shoff = (strtab_at + shstrtab.len() as u64).div_ceil(8) * 8;
    let shnum = sections.len() + 2;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    f.extend_from_slice(&62u16.to_le_bytes()); // x86-64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes()); // entry
    f.extend_from_slice(&0u64.to_le_bytes()); // phoff
    f.extend_from_slice(&shoff.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes()); // flags
    f.extend_from_slice(&64u16.to_le_bytes()); // ehsize
    f.extend_from_slice(&0u16.to_le_bytes()); // phentsize
    f.extend_from_slice(&0u16.to_le_bytes()); // phnum
    f.extend_from_slice(&64u16.to_le_bytes()); // shentsize
    f.extend_from_slice(&(shnum as u16).to_le_bytes());
    f.extend_from_slice(&((shnum - 1) as u16).to_le_bytes()); // shstrndx
    assert_eq!(f.len(), 64);
    f.extend_from_slice(blob);
    f.extend_from_slice(&shstrtab);
    f.resize(shoff as usize, 0);
    let sh = |name: u32, ty: u32, flags: u64, off: u64, size: u64, f: &mut Vec<u8>| {
        f.extend_from_slice(&name.to_le_bytes());
        f.extend_from_slice(&ty.to_le_bytes());
        f.extend_from_slice(&flags.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes()); // addr
        f.extend_from_slice(&off.to_le_bytes());
        f.extend_from_slice(&size.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes()); // link
        f.extend_from_slice(&0u32.to_le_bytes()); // info
        f.extend_from_slice(&1u64.to_le_bytes()); // addralign
        f.extend_from_slice(&0u64.to_le_bytes()); // entsize
    };
    sh(0, 0, 0, 0, 0, &mut f);
    for s in sections {
        sh(
            name_at[&s.name],
            s.sh_type,
            s.flags,
            blob_at + s.offset,
            s.size,
            &mut f,
        );
    }
    sh(
        name_at[".shstrtab"],
        3,
        0,
        strtab_at,
        shstrtab.len() as u64,
        &mut f,
    );
    f
}

/// An ELF compression header (Elf64_Chdr, zlib) followed by the zlib stream of `data`.
pub fn elf_compressed(data: &[u8], claimed_size: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&1u32.to_le_bytes()); // ELFCOMPRESS_ZLIB
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&claimed_size.to_le_bytes());
    v.extend_from_slice(&1u64.to_le_bytes());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    v.extend_from_slice(&z.finish().unwrap());
    v
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// A zip whose central directory lists `names.len()` entries that all point at one local
/// member holding `content` (deflated): the overlapped-components construction.
pub fn zip_overlapping(content: &[u8], names: &[String]) -> Vec<u8> {
    let comp = deflate(content);
    let crc = crc32(content);
    let mut z = Vec::new();
    let local = |z: &mut Vec<u8>, name: &[u8], method: u16, crc: u32, csize: u32, usize_: u32| {
        z.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        z.extend_from_slice(&20u16.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(&method.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(&0x21u16.to_le_bytes());
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&csize.to_le_bytes());
        z.extend_from_slice(&usize_.to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name);
    };
    local(
        &mut z,
        b"a",
        8,
        crc,
        comp.len() as u32,
        content.len() as u32,
    );
    z.extend_from_slice(&comp);
    let cd_at = z.len();
    for name in names {
        z.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        z.extend_from_slice(&0x031eu16.to_le_bytes());
        z.extend_from_slice(&20u16.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(&8u16.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(&0x21u16.to_le_bytes());
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&(comp.len() as u32).to_le_bytes());
        z.extend_from_slice(&(content.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes()); // extra
        z.extend_from_slice(&0u16.to_le_bytes()); // comment
        z.extend_from_slice(&0u16.to_le_bytes()); // disk
        z.extend_from_slice(&0u16.to_le_bytes()); // internal
        z.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes()); // local header at 0
        z.extend_from_slice(name.as_bytes());
    }
    let cd_len = z.len() - cd_at;
    z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(&(names.len() as u16).to_le_bytes());
    z.extend_from_slice(&(names.len() as u16).to_le_bytes());
    z.extend_from_slice(&(cd_len as u32).to_le_bytes());
    z.extend_from_slice(&(cd_at as u32).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// One ustar header block (checksum filled in).
pub fn tar_header(name: &str, typeflag: u8, size: usize) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.as_bytes();
    h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0001750\0");
    h[116..124].copy_from_slice(b"0001750\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"14665113160\0");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar member: header then content padded to blocks.
pub fn tar_member(out: &mut Vec<u8>, name: &str, typeflag: u8, content: &[u8]) {
    out.extend_from_slice(&tar_header(name, typeflag, content.len()));
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A pax record `"%d %s=%s\n"` (the length counts itself).
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len = body + len.to_string().len();
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    assert_eq!(r.len(), len);
    r
}

/// A universal Mach-O of `n` slices that all cover the whole file, header included.
pub fn macho_fat_self(n: u32) -> Vec<u8> {
    let total = 8 + 20 * n + 4;
    let mut v = 0xcafe_babeu32.to_be_bytes().to_vec();
    v.extend(n.to_be_bytes());
    for i in 0..n {
        for x in [0x0100_0007 + (i << 8), 3, 0, total, 0] {
            v.extend(x.to_be_bytes());
        }
    }
    v.extend(b"/home/alice/x".iter().take(4));
    v
}

/// A tar of `members` (name, content), each name given in a pax `path` record (so names
/// longer than ustar's 100 bytes are kept whole).
pub fn tar_long_names(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = Vec::new();
    for (name, content) in members {
        tar_member(
            &mut t,
            "PaxHeader",
            b'x',
            &pax_record("path", name.as_bytes()),
        );
        tar_member(&mut t, "member", b'0', content);
    }
    t.extend_from_slice(&[0u8; 1024]);
    t
}

/// A thin 64-bit little-endian Mach-O whose symbol table holds `n` N_OSO stabs, entry `i`
/// naming string `i % strings.len()` (object paths as a linker's debug map records them)
/// with a non-zero mtime.
pub fn macho_oso(n: usize, strings: &[Vec<u8>]) -> Vec<u8> {
    const N_OSO: u8 = 0x66;
    let header = 32;
    let symtab_cmd = 24;
    let symoff = header + symtab_cmd;
    let stroff = symoff + 16 * n;
    let mut strtab = vec![0u8];
    let mut at = Vec::new();
    for s in strings {
        at.push(strtab.len() as u32);
        strtab.extend_from_slice(s);
        strtab.push(0);
    }
    let mut f = Vec::with_capacity(stroff + strtab.len());
    for x in [
        0xfeed_facfu32,
        0x0100_0007, // x86_64
        3,
        2, // MH_EXECUTE
        1, // one load command
        symtab_cmd as u32,
        0,
        0,
    ] {
        f.extend(x.to_le_bytes());
    }
    for x in [
        2u32, // LC_SYMTAB
        symtab_cmd as u32,
        symoff as u32,
        n as u32,
        stroff as u32,
        strtab.len() as u32,
    ] {
        f.extend(x.to_le_bytes());
    }
    for i in 0..n {
        f.extend(at[i % at.len()].to_le_bytes());
        f.push(N_OSO);
        f.push(0); // n_sect
        f.extend(1u16.to_le_bytes()); // n_desc
        f.extend((1_700_000_000u64 + i as u64).to_le_bytes()); // the object's mtime
    }
    f.extend_from_slice(&strtab);
    f
}
