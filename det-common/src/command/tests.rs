//! Unit tests of the command-line rules on argv forms.

use super::*;

fn argv(s: &str) -> Vec<String> {
    shell_split(s).unwrap()
}

/// (rule id, evidence, fix) of each finding for `cmd` run in `cwd`, without the
/// machine-dependent static-binary info.
fn check(cmd: &str, cwd: Option<&str>) -> Vec<(&'static str, String, String)> {
    analyze_command(
        &argv(cmd),
        cwd.map(Path::new),
        &Location::file("<command line>"),
    )
    .into_iter()
    .filter(|f| !f.evidence.contains("statically linked"))
    .map(|f| {
        (
            f.rule.id,
            f.evidence.clone(),
            f.fix.clone().unwrap_or_default(),
        )
    })
    .collect()
}

fn ids(cmd: &str, cwd: Option<&str>) -> Vec<&'static str> {
    check(cmd, cwd).into_iter().map(|(id, _, _)| id).collect()
}

#[test]
fn classify_families() {
    let cases = [
        ("gcc", Some(ToolFamily::Gcc)),
        ("/usr/bin/x86_64-linux-gnu-gcc-12", Some(ToolFamily::Gcc)),
        ("g++", Some(ToolFamily::Gcc)),
        ("cc", Some(ToolFamily::Gcc)),
        ("c++", Some(ToolFamily::Gcc)),
        ("clang-16", Some(ToolFamily::Clang)),
        ("clang++", Some(ToolFamily::Clang)),
        ("aarch64-linux-gnu-gcc-ar-12", Some(ToolFamily::Ar)),
        ("llvm-ar", Some(ToolFamily::Ar)),
        ("ar", Some(ToolFamily::Ar)),
        ("ranlib", Some(ToolFamily::Ranlib)),
        ("ld.lld", Some(ToolFamily::Linker)),
        ("mold", Some(ToolFamily::Linker)),
        (
            "/home/u/.rustup/toolchains/stable/bin/rustc",
            Some(ToolFamily::Rustc),
        ),
        ("go", Some(ToolFamily::Go)),
        ("distcc", None),
        ("ccache", None),
        ("c++filt", None),
        ("make", None),
    ];
    for (name, want) in cases {
        assert_eq!(classify(&[name.to_owned()]).map(|c| c.0), want, "{name}");
    }
    assert_eq!(
        classify(&argv("zig cc -c a.c")),
        Some((ToolFamily::ZigCc, 2))
    );
    assert_eq!(
        classify(&argv("zig c++ -c a.cc")),
        Some((ToolFamily::ZigCc, 2))
    );
    assert_eq!(classify(&argv("zig build")), None);
}

#[test]
fn debug_info_needs_a_prefix_map_covering_cwd() {
    assert_eq!(
        check("gcc -g -c src/a.c -o a.o", Some("/work/proj")),
        vec![(
            "cmd-missing-prefix-map",
            "gcc -g src/a.c".to_owned(),
            "-ffile-prefix-map=/work/proj=.".to_owned()
        )]
    );
    for ok in [
        "gcc -g -c src/a.c -ffile-prefix-map=/work/proj=.",
        "gcc -g -c src/a.c -fdebug-prefix-map=/work=/build",
        "gcc -g -c src/a.c -ffile-prefix-map=/work/proj/=.",
        "clang -g -c src/a.c -fdebug-compilation-dir=.",
        "gcc -g -g0 -c src/a.c",
        "gcc -c src/a.c",
        "gcc -gsplit-dwarf -c src/a.c",
        "gcc -g a.o -o prog",
    ] {
        assert_eq!(ids(ok, Some("/work/proj")), Vec::<&str>::new(), "{ok}");
    }
    // A map for another directory, or one that only shares a string prefix, is not enough.
    for bad in [
        "gcc -g -c src/a.c -ffile-prefix-map=/work/other=.",
        "gcc -ggdb3 -c src/a.c -ffile-prefix-map=/work/pro=.",
        "gcc -gdwarf-4 -c src/a.c -fmacro-prefix-map=/work/proj=.",
        "zig cc -g -c src/a.c",
        "clang++ -g0 -gline-tables-only -c src/a.cpp",
    ] {
        assert_eq!(
            ids(bad, Some("/work/proj")),
            vec!["cmd-missing-prefix-map"],
            "{bad}"
        );
    }
    // No known working directory: any debug map is trusted, none is reported with $PWD.
    assert_eq!(check("cc -g -c a.c", None)[0].2, "-ffile-prefix-map=$PWD=.");
    assert_eq!(
        check("cc -g -c /src/p/a.c", None)[0].2,
        "-ffile-prefix-map=/src/p=. -ffile-prefix-map=$PWD=."
    );
    assert_eq!(
        ids("cc -g -c a.c -fdebug-prefix-map=/x=.", None),
        Vec::<&str>::new()
    );
}

#[test]
fn absolute_sources_need_their_own_map() {
    // cmake: build dir /src/p/build, sources under /src/p/src; the common root is mapped.
    assert_eq!(
        check(
            "/usr/bin/cc -g -o x.o -c /src/p/src/a.c",
            Some("/src/p/build")
        ),
        vec![(
            "cmd-missing-prefix-map",
            "cc -g /src/p/src/a.c".to_owned(),
            "-ffile-prefix-map=/src/p=.".to_owned()
        )]
    );
    assert_eq!(
        ids(
            "cc -g -c /src/p/src/a.c -ffile-prefix-map=/src/p/build=.",
            Some("/src/p/build")
        ),
        vec!["cmd-missing-prefix-map"]
    );
    // Without debug info only __FILE__ can leak: the low-severity rule.
    assert_eq!(
        check("cc -O2 -c /src/p/src/a.c -o a.o", Some("/src/p/build")),
        vec![(
            "cmd-missing-macro-prefix-map",
            "cc /src/p/src/a.c".to_owned(),
            "-ffile-prefix-map=/src/p/src=.".to_owned()
        )]
    );
    assert_eq!(
        check(
            "cc -c a.c -I/home/u/lib/include -I /usr/include/x",
            Some("/w")
        ),
        vec![(
            "cmd-missing-macro-prefix-map",
            "cc /home/u/lib/include".to_owned(),
            "-ffile-prefix-map=/home/u/lib/include=.".to_owned()
        )]
    );
    // Debug paths mapped separately: the fix names -fmacro-prefix-map.
    assert_eq!(
        check(
            "cc -g -c /src/p/src/a.c -fdebug-prefix-map=/src/p=.",
            Some("/src/p/build")
        )[0]
        .2,
        "-fmacro-prefix-map=/src/p/src=."
    );
    assert_eq!(
        ids(
            "cc -c /src/p/src/a.c -fmacro-prefix-map=/src/p=.",
            Some("/src/p")
        ),
        Vec::<&str>::new()
    );
    // Relative sources and no debug info: nothing leaks.
    assert_eq!(
        ids("cc -O2 -c src/a.c -Iinclude", Some("/p")),
        Vec::<&str>::new()
    );
}

#[test]
fn native_cpu_forms() {
    assert_eq!(
        check("gcc -O2 -march=native -mtune=native -c a.c", Some("/w")),
        vec![(
            "cmd-native-cpu",
            "gcc -march=native -mtune=native".to_owned(),
            "-march=x86-64-v2 (instead of -march=native; or the oldest CPU you support); -mtune=generic (instead of -mtune=native)".to_owned()
        )]
    );
    assert_eq!(
        ids("clang -mcpu=native -c a.c", Some("/w")),
        vec!["cmd-native-cpu"]
    );
    assert_eq!(
        ids("gcc -march=x86-64-v3 -c a.c", Some("/w")),
        Vec::<&str>::new()
    );
    for rustc in [
        "rustc -C target-cpu=native --remap-path-prefix=/w=. src/lib.rs",
        "rustc -Ctarget-cpu=native --remap-path-prefix=/w=. src/lib.rs",
        "rustc --codegen target-cpu=native --remap-path-prefix=/w=. src/lib.rs",
        "rustc --codegen=target-cpu=native --remap-path-prefix=/w=. src/lib.rs",
    ] {
        assert_eq!(ids(rustc, Some("/w")), vec!["cmd-native-cpu"], "{rustc}");
    }
    assert_eq!(
        ids(
            "rustc -C target-cpu=x86-64-v2 --remap-path-prefix /w=. a.rs",
            Some("/w")
        ),
        Vec::<&str>::new()
    );
}

#[test]
fn gcc_lto_needs_random_seed_clang_does_not() {
    assert_eq!(
        check("gcc -O2 -flto=auto -c a.c -o obj/a.o", Some("/w")),
        vec![(
            "cmd-lto-no-random-seed",
            "gcc -flto=auto".to_owned(),
            "-frandom-seed=a.o".to_owned()
        )]
    );
    assert_eq!(
        check("g++ -flto -c x.cc", Some("/w"))[0].2,
        "-frandom-seed=x.cc"
    );
    assert_eq!(
        ids("gcc -flto -frandom-seed=a.o -c a.c", Some("/w")),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids("gcc -flto -fno-lto -c a.c", Some("/w")),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids("clang -flto=thin -c a.c", Some("/w")),
        Vec::<&str>::new()
    );
    assert_eq!(ids("zig cc -flto -c a.c", Some("/w")), Vec::<&str>::new());
}

#[test]
fn build_id_uuid_in_every_spelling() {
    assert_eq!(
        check("gcc a.o -o prog -Wl,-O1,--build-id=uuid", Some("/w")),
        vec![(
            "cmd-build-id-uuid",
            "gcc --build-id=uuid".to_owned(),
            "-Wl,--build-id=sha1".to_owned()
        )]
    );
    assert_eq!(
        ids("clang a.o -Xlinker --build-id=uuid", Some("/w")),
        vec!["cmd-build-id-uuid"]
    );
    assert_eq!(
        check("ld.lld --build-id=uuid a.o -o prog", Some("/w"))[0].2,
        "--build-id=sha1"
    );
    assert_eq!(
        check(
            "rustc -C link-arg=-Wl,--build-id=uuid --remap-path-prefix=/w=. m.rs",
            Some("/w")
        ),
        vec![(
            "cmd-build-id-uuid",
            "rustc --build-id=uuid".to_owned(),
            "-C link-arg=-Wl,--build-id=sha1".to_owned()
        )]
    );
    assert_eq!(
        ids("gcc a.o -Wl,--build-id=sha1", Some("/w")),
        Vec::<&str>::new()
    );
    assert_eq!(ids("ld --build-id a.o", Some("/w")), Vec::<&str>::new());
}

#[test]
fn ar_modes() {
    assert_eq!(
        check("ar crsU libx.a a.o", None),
        vec![(
            "cmd-ar-nondeterministic",
            "ar crsU".to_owned(),
            "ar crsD".to_owned()
        )]
    );
    assert_eq!(
        check("ar -rcs libx.a a.o", None),
        vec![(
            "cmd-ar-default-mode",
            "ar -rcs".to_owned(),
            "ar -rcsD".to_owned()
        )]
    );
    assert_eq!(
        check(
            "gcc-ar --plugin /usr/lib/liblto_plugin.so rc libx.a a.o",
            None
        ),
        vec![(
            "cmd-ar-default-mode",
            "gcc-ar rc".to_owned(),
            "gcc-ar rcD".to_owned()
        )]
    );
    assert_eq!(ids("ar rcsD libx.a a.o", None), Vec::<&str>::new());
    assert_eq!(ids("ar t libx.a", None), Vec::<&str>::new());
    assert_eq!(ids("ar x libx.a", None), Vec::<&str>::new());
    // llvm-ar is deterministic by default; only U makes it keep metadata.
    assert_eq!(ids("llvm-ar rcs libx.a a.o", None), Vec::<&str>::new());
    assert_eq!(
        ids("llvm-ar rcsU libx.a a.o", None),
        vec!["cmd-ar-nondeterministic"]
    );
    assert_eq!(
        ids("ranlib -U libx.a", None),
        vec!["cmd-ar-nondeterministic"]
    );
    assert_eq!(ids("ranlib libx.a", None), vec!["cmd-ar-default-mode"]);
    assert_eq!(ids("ranlib -D libx.a", None), Vec::<&str>::new());
}

#[test]
fn rustc_remap_covers_working_dir_and_cargo_home() {
    assert_eq!(
        check(
            "rustc --crate-name app --edition=2021 src/main.rs",
            Some("/ws")
        ),
        vec![(
            "cmd-rustc-no-remap",
            "rustc --crate-name app src/main.rs (cwd /ws)".to_owned(),
            "--remap-path-prefix=/ws=.".to_owned()
        )]
    );
    assert_eq!(
        ids("rustc --remap-path-prefix=/ws=. src/main.rs", Some("/ws")),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids("rustc --remap-path-prefix /=/ src/main.rs", Some("/ws")),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids(
            "rustc --remap-path-prefix=/elsewhere=. src/main.rs",
            Some("/ws")
        ),
        vec!["cmd-rustc-no-remap"]
    );
    // Cargo's environment gives the working directory: the workspace root of a member.
    assert_eq!(
        check(
            "CARGO_MANIFEST_DIR=/ws/macros rustc --crate-name m macros/src/lib.rs",
            None
        )[0]
        .2,
        "--remap-path-prefix=/ws=."
    );
    // A registry crate: cargo runs rustc in the package directory under CARGO_HOME.
    let reg = "CARGO_MANIFEST_DIR=/h/.cargo/registry/src/idx/cc-1.2.0 rustc --crate-name cc --remap-path-prefix=/ws=. /h/.cargo/registry/src/idx/cc-1.2.0/src/lib.rs";
    assert_eq!(
        check(reg, None),
        vec![(
            "cmd-rustc-no-remap",
            "rustc --crate-name cc /h/.cargo/registry/src/idx/cc-1.2.0/src/lib.rs (CARGO_HOME /h/.cargo)".to_owned(),
            "--remap-path-prefix=/h/.cargo=/cargo".to_owned()
        )]
    );
    assert_eq!(
        ids(&format!("{reg} --remap-path-prefix=/h/.cargo=/cargo"), None),
        Vec::<&str>::new()
    );
    // Nothing compiled from a file: no path finding.
    assert_eq!(ids("rustc -vV", None), Vec::<&str>::new());
    assert_eq!(
        check("rustc -C incremental=/ws/target/debug/incremental --remap-path-prefix=/ws=. src/lib.rs", Some("/ws")),
        vec![(
            "cmd-rustc-incremental",
            "rustc -C incremental=/ws/target/debug/incremental".to_owned(),
            "drop -C incremental=/ws/target/debug/incremental: CARGO_INCREMENTAL=0 (or incremental = false in the profile)".to_owned()
        )]
    );
}

#[test]
fn go_needs_trimpath_and_is_out_of_the_shims_reach() {
    assert_eq!(
        ids("go build ./cmd/x", Some("/w")),
        vec!["cmd-go-no-trimpath", "shim-unreachable"]
    );
    assert_eq!(
        ids("go build -trimpath ./cmd/x", Some("/w")),
        vec!["shim-unreachable"]
    );
    assert_eq!(
        ids("GOFLAGS='-mod=vendor -trimpath' go build .", Some("/w")),
        vec!["shim-unreachable"]
    );
    assert_eq!(ids("go version", Some("/w")), Vec::<&str>::new());
}

#[test]
fn env_wrappers_and_prefixes_are_peeled() {
    for cmd in [
        "CC=gcc CFLAGS=-O2 gcc -march=native -c a.c",
        "env -i PATH=/usr/bin gcc -march=native -c a.c",
        "ccache gcc -march=native -c a.c",
        "/usr/bin/time -v gcc -march=native -c a.c",
    ] {
        assert_eq!(ids(cmd, Some("/w")), vec!["cmd-native-cpu"], "{cmd}");
    }
    assert_eq!(ids("make -j4", Some("/w")), Vec::<&str>::new());
    // Truncated prefixes end quietly.
    for cmd in [
        "env -u",
        "env",
        "ccache",
        "A=b",
        "sh -c",
        "zig",
        "ar",
        "ar --plugin",
    ] {
        assert_eq!(ids(cmd, Some("/w")), Vec::<&str>::new(), "{cmd}");
    }
    assert_eq!(ids("", Some("/w")), Vec::<&str>::new());
}

#[test]
fn prefix_map_roots_pick_a_deep_common_ancestor() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        prefix_map_roots(&s(&["/home/u/p/build", "/home/u/p/src"])),
        s(&["/home/u/p"])
    );
    assert_eq!(
        prefix_map_roots(&s(&["/a/x", "/b/y", "/a/x/z"])),
        s(&["/a/x", "/b/y"])
    );
    assert_eq!(
        strip_shared_suffix("/ws/macros", "macros/src/lib.rs"),
        "/ws"
    );
    assert_eq!(strip_shared_suffix("/ws", "src/main.rs"), "/ws");
    assert_eq!(strip_shared_suffix("/ws/a/b", "a/b/build.rs"), "/ws");
}

#[test]
fn static_elf_detection() {
    assert_eq!(elf_without_interp(b"not elf"), None);
    assert_eq!(elf_without_interp(b"\x7fELF\x02\x01"), None);
    // A 64-bit executable header whose program-header offset overflows: no panic.
    let mut hdr = vec![0u8; 64];
    hdr[..6].copy_from_slice(b"\x7fELF\x02\x01");
    hdr[16] = 2;
    hdr[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    hdr[54] = 56;
    hdr[56] = 2;
    assert_eq!(elf_without_interp(&hdr), None);
    // The dynamically linked gcc driver on this machine has an interpreter.
    let gcc = resolve_program("gcc", None, &BTreeMap::new()).expect("gcc on PATH");
    assert!(!is_static_elf(&gcc));
}

#[test]
fn cargo_rustflags_and_incremental() {
    assert_eq!(
        check("RUSTFLAGS='-Ctarget-cpu=native --remap-path-prefix=/w=.' cargo build --release", Some("/w")),
        vec![(
            "cmd-native-cpu",
            "RUSTFLAGS -Ctarget-cpu=native".to_owned(),
            "-C target-cpu=x86-64-v2 in RUSTFLAGS (instead of target-cpu=native; or the oldest CPU you support)".to_owned()
        )]
    );
    assert_eq!(
        ids("RUSTFLAGS='-C target-cpu=native' cargo +stable b", None),
        vec!["cmd-native-cpu"]
    );
    assert_eq!(
        ids("CARGO_INCREMENTAL=1 cargo build --release", None),
        vec!["cmd-rustc-incremental"]
    );
    assert_eq!(
        ids("RUSTFLAGS='-C target-cpu=native' cargo metadata", None),
        Vec::<&str>::new()
    );
    assert_eq!(
        ids("RUSTFLAGS='-C opt-level=3' cargo build", None),
        Vec::<&str>::new()
    );
    assert_eq!(
        classify(&argv("cargo build")).map(|c| c.0),
        Some(ToolFamily::Cargo)
    );
}

#[test]
fn shells_and_libtool_are_followed() {
    assert_eq!(
        check(
            "sh -ec 'cd sub && gcc -g -c a.c; ar rcsU l.a a.o'",
            Some("/w/p")
        ),
        vec![
            (
                "cmd-missing-prefix-map",
                "gcc -g a.c".to_owned(),
                "-ffile-prefix-map=/w/p/sub=.".to_owned()
            ),
            (
                "cmd-ar-nondeterministic",
                "ar rcsU".to_owned(),
                "ar rcsD".to_owned()
            ),
        ]
    );
    assert_eq!(
        ids(
            "/bin/bash ../libtool --tag=CC --mode=compile gcc -march=native -c x.c",
            Some("/w")
        ),
        vec!["cmd-native-cpu"]
    );
    // Nesting is followed a few levels, not forever.
    let mut cmd = "gcc -march=native -c a.c".to_owned();
    for _ in 0..3 {
        cmd = format!("sh -c {}", shell_quote(&cmd));
    }
    assert_eq!(ids(&cmd, Some("/w")), vec!["cmd-native-cpu"]);
    for _ in 0..3 {
        cmd = format!("sh -c {}", shell_quote(&cmd));
    }
    assert_eq!(ids(&cmd, Some("/w")), Vec::<&str>::new());
    let broken: Vec<String> = ["sh", "-c", "gcc -march=native 'a.c"]
        .map(String::from)
        .to_vec();
    assert_eq!(analyze_command(&broken, None, &Location::file("x")), vec![]);
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Random command lines and logs from a token soup: analysis never panics.
#[test]
fn random_inputs_never_panic() {
    const TOKENS: &[&str] = &[
        "gcc",
        "zig",
        "cc",
        "rustc",
        "go",
        "build",
        "ar",
        "ranlib",
        "ld",
        "cargo",
        "sh",
        "-c",
        "env",
        "A=b",
        "cd",
        "/",
        "..",
        "&&",
        "||",
        ";",
        "|",
        "'",
        "\"",
        "\\",
        " ",
        "\n",
        "-g",
        "-g0",
        "-o",
        "-I",
        "-Wl,",
        "--build-id",
        "=uuid",
        "-flto",
        "-march=native",
        "-C",
        "incremental=",
        "--remap-path-prefix",
        "=",
        "src/a.c",
        "/abs/b.c",
        "a.rs",
        "rcsU",
        "D",
        "-ffile-prefix-map=",
        "Running `",
        "`",
        "[1/2] ",
        "libtool: compile: ",
        "+ ",
        "make: Entering directory '",
        "[p 1] running: ",
        "Compiling p v1 (/x)",
        "é",
        "\u{1b}[1m",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 24) as usize;
        let text: String = (0..len)
            .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
            .collect();
        let _ = log::analyze_build_log_text(&text, "fuzz.log");
        let _ = log::analyze_compile_commands_text(&text, "cc.json");
        if let Ok(argv) = shell_split(&text) {
            let _ = analyze_command(&argv, Some(Path::new("/w")), &Location::file("x"));
            let _ = analyze_command(&argv, None, &Location::file("x"));
        }
    }
}
