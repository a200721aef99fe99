//! What `cargo det-verify` varies between runs, and how: the variation names, the
//! reprotest-style `--vary` spec that selects them, and the concrete values of a run —
//! the pinned control values and the varied ones — as environment variables, shim
//! settings, a umask, a source mtime, a build-path slot and a job count.
//!
//! Nothing here needs root or FUSE: the clock, host name and directory order go through
//! the shim (`shim/README.md`), the rest are process attributes set at spawn.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::rules::Category;

/// One thing that may differ between two machines' builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variation {
    /// The absolute path of the source tree (and of its target dir): another depth and length.
    BuildPath,
    /// The wall clock (the shim) and the mtimes of the copied sources.
    Time,
    /// `TZ`.
    Timezone,
    /// `LC_ALL`, `LANG`.
    Locale,
    /// The umask of the build.
    Umask,
    /// `HOME`, `USER`, `LOGNAME` and one extra variable.
    Environment,
    /// The host name, domain name and kernel release (the shim's `uname`).
    Host,
    /// The order directory listings come back in (the shim's readdir, reversed or shuffled).
    FileOrder,
    /// `-j1` against `-jN`.
    Jobs,
    /// Address-space layout randomization (off unless varied); not in the default set.
    Aslr,
}

impl Variation {
    /// Every variation, in report order.
    pub const ALL: [Variation; 10] = [
        Variation::BuildPath,
        Variation::Time,
        Variation::Timezone,
        Variation::Locale,
        Variation::Umask,
        Variation::Environment,
        Variation::Host,
        Variation::FileOrder,
        Variation::Jobs,
        Variation::Aslr,
    ];

    /// The set varied when `--vary` is not given: all but the optional ones.
    pub fn default_set() -> BTreeSet<Variation> {
        Self::ALL
            .into_iter()
            .filter(|v| *v != Variation::Aslr)
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            Variation::BuildPath => "build-path",
            Variation::Time => "time",
            Variation::Timezone => "timezone",
            Variation::Locale => "locale",
            Variation::Umask => "umask",
            Variation::Environment => "environment",
            Variation::Host => "host",
            Variation::FileOrder => "file-order",
            Variation::Jobs => "jobs",
            Variation::Aslr => "aslr",
        }
    }

    /// A name as written on the command line (`build_path` and `build-path` both work).
    pub fn from_name(s: &str) -> Option<Variation> {
        let s = s.replace('_', "-");
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// What a program has to do to depend on this variation, in a few words.
    pub fn description(self) -> &'static str {
        match self {
            Variation::BuildPath => "the absolute path of the sources and the target dir",
            Variation::Time => "the wall clock and the source files' mtimes",
            Variation::Timezone => "the time zone (TZ)",
            Variation::Locale => "the locale (LC_ALL, LANG)",
            Variation::Umask => "the umask (permissions of created files)",
            Variation::Environment => "HOME, USER, LOGNAME and extra environment variables",
            Variation::Host => "the host name, domain name and kernel release",
            Variation::FileOrder => "the order directory listings come back in",
            Variation::Jobs => "the number of parallel jobs",
            Variation::Aslr => "address-space layout randomization",
        }
    }

    /// The shim hooks a program calls when it depends on this variation (the evidence
    /// det-verify reads from the shim's log).
    pub fn shim_hooks(self) -> &'static [&'static str] {
        match self {
            Variation::Time => &["clock_gettime", "gettimeofday", "time", "timespec_get"],
            Variation::Host => &["uname", "gethostname", "getdomainname"],
            Variation::FileOrder => &["opendir", "readdir", "scandir"],
            _ => &[],
        }
    }
}

/// The rule categories of what a build does when it depends on nothing det-verify varies
/// (a HashMap's order, threads, randomness): the fixes to look for when a rebuild with no
/// variation already differs.
pub const INSIDE_BUILD_CATEGORIES: &[Category] = &[Category::Randomness, Category::FileOrder];

impl Variation {
    /// The rule categories of the leaks this variation reveals (to find the rule and fix
    /// that match a culprit in det-scan's project analysis).
    pub fn categories(self) -> &'static [Category] {
        match self {
            Variation::BuildPath => &[Category::Path],
            Variation::Time => &[Category::Timestamp],
            Variation::Timezone => &[Category::Timestamp, Category::Locale],
            Variation::Locale => &[Category::Locale],
            Variation::Umask => &[Category::Metadata],
            Variation::Environment => &[Category::User, Category::Path],
            Variation::Host => &[Category::Host],
            Variation::FileOrder => &[Category::FileOrder],
            Variation::Jobs => &[Category::FileOrder, Category::Randomness],
            Variation::Aslr => &[Category::Randomness],
        }
    }
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names of a set, comma-separated, in report order.
pub fn names(set: &BTreeSet<Variation>) -> String {
    if set.is_empty() {
        return "none".to_string();
    }
    set.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
}

/// Parse `--vary` values (each a comma-separated list, applied in order) onto the default
/// set: `+x` or `x` adds x, `-x` removes x, `all` stands for every variation (`-all,+time`
/// varies the time alone). An unknown name is an error; so is a spec that leaves no
/// variation unless it ends with `-all` itself (reprotest's trap: a set emptied by accident
/// verifies nothing).
pub fn parse_vary(specs: &[String]) -> Result<BTreeSet<Variation>, String> {
    let mut set = Variation::default_set();
    let mut emptied_on_purpose = false;
    for spec in specs {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (add, name) = match item.as_bytes()[0] {
                b'+' => (true, &item[1..]),
                b'-' => (false, &item[1..]),
                _ => (true, item),
            };
            let which: Vec<Variation> = if name == "all" {
                Variation::ALL.to_vec()
            } else {
                match Variation::from_name(name) {
                    Some(v) => vec![v],
                    None => {
                        return Err(format!(
                            "unknown variation `{name}` in --vary (known: all, {})",
                            Variation::ALL.map(|v| v.name()).join(", ")
                        ));
                    }
                }
            };
            for v in which {
                if add {
                    set.insert(v);
                } else {
                    set.remove(&v);
                }
            }
            emptied_on_purpose = name == "all" && !add;
        }
    }
    if set.is_empty() && !emptied_on_purpose {
        return Err(
            "--vary leaves no variation to vary; say `--vary=-all` to rebuild \
                    without any (a test of nondeterminism inside the build)"
                .to_string(),
        );
    }
    Ok(set)
}

/// The pinned clock of the control run (2023-11-14T22:13:20Z).
pub const CONTROL_EPOCH: u64 = 1_700_000_000;
/// The host name of the control run.
pub const CONTROL_HOST: &str = "det";

/// The concrete conditions of one run: for each variation, the control's pinned value or
/// the `variant`-th varied one. `variant` 0 is the control; a variation not in `varied`
/// keeps the control's value, so two runs differ exactly in the variations they vary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conditions {
    pub varied: BTreeSet<Variation>,
    pub variant: u32,
    /// Environment variables set for the run (and removed: `None`).
    pub env: BTreeMap<String, Option<String>>,
    /// `DET_SHIM_*` settings.
    pub shim: BTreeMap<String, String>,
    pub umask: u32,
    /// The mtime given to every copied source file.
    pub source_mtime: u64,
    /// Which build location: 0 the control's path, k another path of another length.
    pub path_slot: u32,
    pub jobs: u32,
    /// Run with address-space layout randomization off.
    pub no_aslr: bool,
    /// One line per variation: its value in this run (for the report).
    pub values: BTreeMap<Variation, String>,
}

/// What [`Conditions::new`] needs from the machine.
#[derive(Clone, Debug)]
pub struct Host {
    /// The parallel jobs of a normal build (`-jN`), at least 2.
    pub jobs: u32,
    /// A locale other than C that this machine has (`locale -a`), if any.
    pub other_locale: Option<String>,
    /// Where `other_locale` was built (`localedef`), given as LOCPATH to the varied runs.
    pub locale_path: Option<String>,
    /// The control's HOME and the base of varied ones (both created by the caller).
    pub home_control: String,
    pub home_varied: String,
}

impl Conditions {
    /// The conditions of run `variant` (0: the control) with `varied` varied.
    pub fn new(varied: &BTreeSet<Variation>, variant: u32, host: &Host) -> Conditions {
        let k = variant;
        let on = |v: Variation| k > 0 && varied.contains(&v);
        let mut env: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut shim = BTreeMap::new();
        let mut values = BTreeMap::new();
        let mut value = |v: Variation, s: String| {
            values.insert(v, s);
        };

        // Time: a frozen clock, another year, day, hour, minute and second per variant, so
        // dates and times printed at any resolution differ; sources an hour older.
        let epoch = if on(Variation::Time) {
            CONTROL_EPOCH + u64::from(k) * (366 * 86_400 + 3 * 3600 + 17 * 60 + 23)
        } else {
            CONTROL_EPOCH
        };
        shim.insert("DET_SHIM_TIME".into(), epoch.to_string());
        let source_mtime = epoch - 3600;
        value(
            Variation::Time,
            format!("clock {epoch}, sources' mtime {source_mtime}"),
        );

        let tz = if on(Variation::Timezone) {
            ["Etc/GMT-14", "Etc/GMT+12", "Asia/Kathmandu"][(k as usize - 1) % 3]
        } else {
            "UTC"
        };
        env.insert("TZ".into(), Some(tz.into()));
        value(Variation::Timezone, format!("TZ={tz}"));

        let locale = if on(Variation::Locale) {
            host.other_locale
                .clone()
                .unwrap_or_else(|| "fr_CH.UTF-8".to_string())
        } else {
            "C.UTF-8".to_string()
        };
        env.insert("LC_ALL".into(), Some(locale.clone()));
        env.insert("LANG".into(), Some(locale.clone()));
        env.insert("LANGUAGE".into(), None);
        let locpath = host.locale_path.clone().filter(|_| on(Variation::Locale));
        match &locpath {
            Some(p) => value(Variation::Locale, format!("LC_ALL={locale}, LOCPATH={p}")),
            None => value(Variation::Locale, format!("LC_ALL={locale}")),
        }
        env.insert("LOCPATH".into(), locpath);

        let umask = if on(Variation::Umask) { 0o002 } else { 0o022 };
        value(Variation::Umask, format!("{umask:04o}"));

        if on(Variation::Environment) {
            let user = format!("det-verify-user{k}");
            env.insert(
                "HOME".into(),
                Some(format!("{}-{k}", host.home_varied.trim_end_matches('/'))),
            );
            env.insert("USER".into(), Some(user.clone()));
            env.insert("LOGNAME".into(), Some(user.clone()));
            env.insert(
                "DET_VERIFY_EXTRA".into(),
                Some(format!("an extra variable {k}")),
            );
            value(
                Variation::Environment,
                format!("HOME={}-{k}, USER={user}", host.home_varied),
            );
        } else {
            env.insert("HOME".into(), Some(host.home_control.clone()));
            env.insert("USER".into(), Some("det".into()));
            env.insert("LOGNAME".into(), Some("det".into()));
            env.insert("DET_VERIFY_EXTRA".into(), None);
            value(
                Variation::Environment,
                format!("HOME={}, USER=det", host.home_control),
            );
        }

        if on(Variation::Host) {
            let name = format!("det-verify-varied-host-{k}");
            shim.insert("DET_SHIM_HOSTNAME".into(), name.clone());
            shim.insert("DET_SHIM_DOMAINNAME".into(), format!("varied{k}.example"));
            shim.insert("DET_SHIM_UNAME_RELEASE".into(), format!("9.{k}.0-varied"));
            shim.insert(
                "DET_SHIM_UNAME_VERSION".into(),
                format!("#{k} SMP PREEMPT_DYNAMIC varied"),
            );
            value(Variation::Host, format!("host name {name}"));
        } else {
            shim.insert("DET_SHIM_HOSTNAME".into(), CONTROL_HOST.into());
            shim.insert("DET_SHIM_DOMAINNAME".into(), "(none)".into());
            shim.insert("DET_SHIM_UNAME_RELEASE".into(), "6.0.0-det".into());
            shim.insert("DET_SHIM_UNAME_VERSION".into(), "#1 SMP det".into());
            value(Variation::Host, format!("host name {CONTROL_HOST}"));
        }

        let order = if on(Variation::FileOrder) {
            if k == 1 {
                "reverse".to_string()
            } else {
                format!("shuffle:{k}")
            }
        } else {
            "sorted".to_string()
        };
        shim.insert("DET_SHIM_READDIR".into(), order.clone());
        value(Variation::FileOrder, format!("directory order {order}"));

        let jobs = if on(Variation::Jobs) { 1 } else { host.jobs };
        value(Variation::Jobs, format!("-j{jobs}"));

        let path_slot = if on(Variation::BuildPath) { k } else { 0 };
        value(
            Variation::BuildPath,
            if path_slot == 0 {
                "the control's path".to_string()
            } else {
                format!("path {path_slot}")
            },
        );

        // Pinned off unless varied, so the control never depends on the kernel's dice.
        let no_aslr = !on(Variation::Aslr);
        value(
            Variation::Aslr,
            if no_aslr { "off" } else { "randomized" }.to_string(),
        );

        Conditions {
            varied: if k == 0 {
                BTreeSet::new()
            } else {
                varied.clone()
            },
            variant: k,
            env,
            shim,
            umask,
            source_mtime,
            path_slot,
            jobs,
            no_aslr,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host {
            jobs: 4,
            other_locale: None,
            locale_path: None,
            home_control: "/t/home".into(),
            home_varied: "/t/home-varied".into(),
        }
    }

    fn vary(s: &[&str]) -> Result<BTreeSet<Variation>, String> {
        parse_vary(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn vary_spec_adds_removes_and_never_empties_silently() {
        let d = Variation::default_set();
        assert_eq!(vary(&[]).unwrap(), d);
        let mut no_jobs = d.clone();
        no_jobs.remove(&Variation::Jobs);
        assert_eq!(vary(&["+all,-jobs,-aslr"]).unwrap(), no_jobs);
        assert_eq!(vary(&["-jobs"]).unwrap(), no_jobs);
        assert!(vary(&["+all"]).unwrap().contains(&Variation::Aslr));
        assert_eq!(
            vary(&["-all,+time", "build_path"]).unwrap(),
            BTreeSet::from([Variation::Time, Variation::BuildPath])
        );
        assert!(vary(&["-all"]).unwrap().is_empty());
        let e = vary(&["-all,+time,-time"]).unwrap_err();
        assert!(e.contains("leaves no variation"), "{e}");
        let e = vary(&["+tme"]).unwrap_err();
        assert!(e.contains("unknown variation `tme`"), "{e}");
    }

    #[test]
    fn a_run_differs_from_the_control_exactly_in_what_it_varies() {
        let all: BTreeSet<_> = Variation::ALL.into_iter().collect();
        let control = Conditions::new(&all, 0, &host());
        let one = Conditions::new(&BTreeSet::from([Variation::Time]), 1, &host());
        assert_ne!(control.shim["DET_SHIM_TIME"], one.shim["DET_SHIM_TIME"]);
        assert_ne!(control.source_mtime, one.source_mtime);
        assert_eq!(control.env, one.env);
        assert_eq!(control.umask, one.umask);
        assert_eq!(control.path_slot, one.path_slot);
        for v in Variation::ALL {
            let c = Conditions::new(&BTreeSet::from([v]), 1, &host());
            let differs: Vec<Variation> = Variation::ALL
                .into_iter()
                .filter(|w| {
                    c.values[w] != Conditions::new(&BTreeSet::from([v]), 0, &host()).values[w]
                })
                .collect();
            assert_eq!(differs, [v], "{v}");
        }
    }
}
