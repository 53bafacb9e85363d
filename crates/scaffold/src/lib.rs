//! `manifold plugin new`: writes a plugin project for a WIT interface — the WIT copied in, a
//! `[plugins.NAME]` block for `manifold.toml`, a README, and source with one stub per
//! function that answers "not implemented: INTERFACE#FUNCTION" — in one of three kinds
//! (`rust-dylib`, `rust-rpc`, `python-rpc`). Templates are compiled in; nothing is fetched.

mod model;
mod python;
mod rust_dylib;
mod rust_rpc;

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

pub use model::Model;

/// The kinds of project `manifold plugin new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `cdylib` crate on `manifold-plugin-sdk` (`kind = "dylib"`).
    RustDylib,
    /// A `wit-bindgen-wrpc` server (`kind = "rpc"`).
    RustRpc,
    /// A standard-library Python program on `manifold_wrpc.py` (`kind = "rpc"`).
    PythonRpc,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::RustDylib => "rust-dylib",
            Kind::RustRpc => "rust-rpc",
            Kind::PythonRpc => "python-rpc",
        })
    }
}

/// How a `rust-dylib` project depends on `manifold-plugin-sdk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkDep {
    /// A path to the SDK's crate (a checkout of Manifold).
    Path(PathBuf),
    /// A version from a registry.
    Version(String),
}

impl SdkDep {
    /// The SDK next to this build's sources when they are still there (a checkout of
    /// Manifold); otherwise this version from a registry.
    pub fn default_for_this_build() -> SdkDep {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
        match path.canonicalize() {
            Ok(path) if path.join("Cargo.toml").is_file() => SdkDep::Path(path),
            _ => SdkDep::Version(env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    fn dependency(&self) -> String {
        match self {
            SdkDep::Path(path) => format!(
                "manifold-plugin-sdk = {{ path = {} }}",
                toml_string(&path.display().to_string())
            ),
            SdkDep::Version(version) => format!("manifold-plugin-sdk = {}", toml_string(version)),
        }
    }
}

/// What to write.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    /// One `.wit` file.
    pub wit: PathBuf,
    /// Interfaces to serve (`ns:pkg/iface[@version]` or the bare name); all when empty.
    pub interfaces: Vec<String>,
    /// The plugin's name; default: the directory's name.
    pub name: Option<String>,
    /// Where; must not exist or be empty.
    pub dir: PathBuf,
    /// For `rust-dylib`.
    pub sdk: SdkDep,
}

/// What was written.
#[derive(Debug)]
pub struct Scaffold {
    pub name: String,
    pub dir: PathBuf,
    /// Relative to `dir`, in the order written.
    pub files: Vec<String>,
    /// The `[plugins.NAME]` block (also in `plugin.toml`).
    pub manifest: String,
    /// The commands that build the plugin (none for Python), run in `dir`.
    pub build: Option<&'static str>,
}

/// The names templates are filled with.
#[derive(Debug)]
struct Project {
    name: String,
    /// The WIT's file name in `wit/`.
    wit_file: String,
    sdk: SdkDep,
}

/// The message every stub answers with.
pub fn not_implemented(interface: &str, func: &str) -> String {
    format!("not implemented: {interface}#{func}")
}

/// Writes the project `request` asks for. Refuses a `dir` that holds anything, and never
/// replaces a file.
pub fn scaffold(request: &Request) -> anyhow::Result<Scaffold> {
    let wit_file = match request.wit.file_name().and_then(|n| n.to_str()) {
        Some(name) if request.wit.is_file() => name.to_owned(),
        _ if request.wit.is_dir() => bail!(
            "--wit {}: a directory; give the one .wit file that defines the interfaces \
             (a plugin's WIT is one file)",
            request.wit.display()
        ),
        _ => bail!("--wit {}: no such file", request.wit.display()),
    };
    let model = Model::load(&request.wit, &request.interfaces)?;
    let name = match &request.name {
        Some(name) => name.clone(),
        None => request
            .dir
            .canonicalize()
            .unwrap_or_else(|_| request.dir.clone())
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "cannot name the plugin after {}; give --name",
                    request.dir.display()
                )
            })?,
    };
    check_name(&name)?;
    check_empty(&request.dir)?;

    let project = Project {
        name: name.clone(),
        wit_file: wit_file.clone(),
        sdk: request.sdk.clone(),
    };
    let wit_text = std::fs::read_to_string(&request.wit)
        .with_context(|| format!("cannot read {}", request.wit.display()))?;
    let mut files = vec![(format!("wit/{wit_file}"), wit_text)];
    let (source, build) = match request.kind {
        Kind::RustDylib => (
            rust_dylib::render(&model, &project)?,
            Some("cargo build --release"),
        ),
        Kind::RustRpc => (
            rust_rpc::render(&model, &project),
            Some("cargo build --release"),
        ),
        Kind::PythonRpc => (python::render(&model, &project), None),
    };
    files.extend(source);
    let manifest = manifest_block(
        request.kind,
        &model,
        &project,
        !request.interfaces.is_empty(),
    );
    files.push(("plugin.toml".to_owned(), plugin_toml(&manifest)));
    files.push((
        "README.md".to_owned(),
        readme(request.kind, &model, &project, &manifest),
    ));
    if matches!(request.kind, Kind::RustDylib | Kind::RustRpc) {
        files.push((".gitignore".to_owned(), "/target\n".to_owned()));
    }

    std::fs::create_dir_all(&request.dir)
        .with_context(|| format!("cannot create {}", request.dir.display()))?;
    let mut written = Vec::new();
    for (path, contents) in files {
        write_new(&request.dir.join(&path), &tidy(&contents))?;
        written.push(path);
    }
    Ok(Scaffold {
        name,
        dir: request.dir.clone(),
        files: written,
        manifest,
        build,
    })
}

/// A plugin name is what `[plugins.NAME]` takes and what Cargo and a file name accept.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        bail!(
            "plugin name {name:?}: use a letter, then letters, digits, `-` or `_` \
             (give another with --name)"
        );
    }
    Ok(())
}

fn check_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; `manifold plugin new` writes only into a new or empty \
                     directory and never replaces files",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            bail!("{} exists and is not a directory", dir.display())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn write_new(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// At most two blank lines in a row, one newline at the end.
fn tidy(text: &str) -> String {
    let mut out = text.trim_end().to_owned();
    while out.contains("\n\n\n\n") {
        out = out.replace("\n\n\n\n", "\n\n\n");
    }
    out.push('\n');
    out
}

/// The `[plugins.NAME]` block, paths relative to the project's directory.
fn manifest_block(kind: Kind, model: &Model, project: &Project, subset: bool) -> String {
    let name = &project.name;
    let wit = format!("wit/{}", project.wit_file);
    let mut block = format!("[plugins.{name}]\n");
    match kind {
        Kind::RustDylib => {
            block += "kind = \"dylib\"\n";
            block += &format!("path = {}\n", toml_string(&rust_dylib::artifact(name)));
        }
        Kind::RustRpc => {
            block += "kind = \"rpc\"\n";
            block += &format!("wit = {}\n", toml_string(&wit));
            block += &format!(
                "command = [{}]\n",
                toml_string(&format!("target/release/{name}"))
            );
        }
        Kind::PythonRpc => {
            block += "kind = \"rpc\"\n";
            block += &format!("wit = {}\n", toml_string(&wit));
            block += "command = [\"python3\", \"plugin.py\"]\n";
        }
    }
    if subset {
        let names: Vec<String> = model
            .interfaces
            .iter()
            .map(|i| toml_string(&i.qualified))
            .collect();
        block += &format!("interfaces = [{}]\n", names.join(", "));
    }
    block
}

fn plugin_toml(block: &str) -> String {
    format!(
        "# Paste into your app's manifold.toml. Paths are relative to the manifest: as written\n\
         # they fit a manifold.toml in this directory; from elsewhere, prefix them with the way\n\
         # from the manifest to here (or make them absolute).\n{block}"
    )
}

const README_DYLIB: &str = include_str!("../templates/rust-dylib/README.md");
const README_RPC: &str = include_str!("../templates/rust-rpc/README.md");
const README_PYTHON: &str = include_str!("../templates/python/README.md");

fn readme(kind: Kind, model: &Model, project: &Project, manifest: &str) -> String {
    let template = match kind {
        Kind::RustDylib => README_DYLIB,
        Kind::RustRpc => README_RPC,
        Kind::PythonRpc => README_PYTHON,
    };
    let functions: Vec<String> = model
        .interfaces
        .iter()
        .flat_map(|i| {
            i.functions
                .iter()
                .map(move |f| format!("- `{}#{}`", i.qualified, f.rpc_name))
        })
        .collect();
    let first = model
        .interfaces
        .iter()
        .find_map(|i| {
            i.functions
                .first()
                .map(|f| not_implemented(&i.qualified, &f.rpc_name))
        })
        .unwrap_or_default();
    template
        .replace("{{NAME}}", &project.name)
        .replace("{{KIND}}", &kind.to_string())
        .replace("{{WIT_FILE}}", &project.wit_file)
        .replace("{{FUNCTIONS}}", &functions.join("\n"))
        .replace("{{MANIFEST}}", manifest.trim_end())
        .replace("{{NOT_IMPLEMENTED}}", &first)
        .replace("{{ARTIFACT}}", &rust_dylib::artifact(&project.name))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A snake-case name as a Rust identifier, keywords suffixed with `_` as wit-bindgen does.
fn rust_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
    ];
    if KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRICKY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tricky.wit");

    fn render(kind: Kind, wit: &str, interfaces: &[&str]) -> (tempfile::TempDir, Scaffold) {
        let root = tempfile::tempdir().unwrap();
        let done = scaffold(&Request {
            kind,
            wit: PathBuf::from(wit),
            interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
            name: Some("tricky".into()),
            dir: root.path().join("p"),
            sdk: SdkDep::Version("0.1.0".into()),
        })
        .unwrap();
        (root, done)
    }

    fn read(done: &Scaffold, file: &str) -> String {
        std::fs::read_to_string(done.dir.join(file)).unwrap()
    }

    #[test]
    fn python_names_dodge_keywords_and_share_constants_across_use() {
        let (_root, done) = render(Kind::PythonRpc, TRICKY, &[]);
        let py = read(&done, "plugin.py");
        assert!(py.contains("def type(self, in_):"), "{py}");
        assert!(py.contains("def blob_read(handle, n):"), "{py}");
        assert!(py.contains("HANDLER = record((\"id\", U32))"), "{py}");
        assert!(
            !py.contains("HANDLER_2"),
            "a used type is one constant:\n{py}"
        );
        assert!(
            py.contains("@server.func(INTERFACE_BASE, \"[drop]blob\", params=[HANDLE])"),
            "{py}"
        );
        assert!(py.contains("results=[result(None, STRING)]"), "{py}");
    }

    #[test]
    fn async_funcs_are_scaffolded_in_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        let wit = dir.path().join("async.wit");
        std::fs::write(
            &wit,
            "package a:b@0.1.0; interface i { later: async func(x: u64) -> u64; \
             resource r { constructor(); poke: async func() -> u32; } }",
        )
        .unwrap();
        let wit = wit.to_str().unwrap();
        let (_root, done) = render(Kind::RustDylib, wit, &[]);
        let rs = read(&done, "src/lib.rs");
        for needle in [
            "fn later(&self, x: u64) -> u64 {",
            "fn poke(&self) -> u32 {",
        ] {
            assert!(rs.contains(needle), "{needle}\n{rs}");
        }
        let (_root, done) = render(Kind::RustRpc, wit, &[]);
        let rs = read(&done, "src/plugin.rs");
        assert!(rs.contains("async fn later("), "{rs}");
        assert!(rs.contains("not implemented: a:b/i@0.1.0#later"), "{rs}");
        let (_root, done) = render(Kind::PythonRpc, wit, &[]);
        let py = read(&done, "plugin.py");
        assert!(py.contains("not implemented: a:b/i@0.1.0#r.poke"), "{py}");
    }

    #[test]
    fn rust_rpc_follows_wit_bindgen_wrpc_names() {
        let (_root, done) = render(Kind::RustRpc, TRICKY, &[]);
        let rs = read(&done, "src/plugin.rs");
        for needle in [
            "async fn type_(&self, _cx: C, _self: u32, _in: api::Kind) -> anyhow::Result<Result<(), ()>>",
            "async fn new(&self, _cx: C, _data: Bytes) -> anyhow::Result<ResourceOwn<base::Blob>>",
            "_h: api::Handler_",
            "impl<C: Send> base::Handler<C> for Plugin {}",
            "anyhow::bail!(\"not implemented: acme:tricky/base@0.2.0#blob.read\")",
        ] {
            assert!(rs.contains(needle), "{needle}\n{rs}");
        }
        let main = read(&done, "src/main.rs");
        assert!(
            main.contains("(\"acme:tricky/base@0.2.0\", \"blob\")"),
            "{main}"
        );
        assert!(main.contains("export acme:tricky/api@0.2.0;"), "{main}");
    }

    #[test]
    fn rust_dylib_implements_every_trait_generate_makes_with_its_signatures() {
        let (_root, done) = render(Kind::RustDylib, TRICKY, &["api"]);
        let rs = read(&done, "src/lib.rs");
        for expected in [
            "manifold_plugin_sdk::generate!(\"wit/tricky.wit\");",
            "export_plugin!(Exports<Tricky>);",
            "#[derive(Default)]\npub struct Tricky;",
            "impl api::Interface for Tricky {",
            "fn r#type(&self, self_: u32, r#in: api::Kind) -> Result<(), ()> {",
            "panic!(\"not implemented: acme:tricky/api@0.2.0#type\")",
            "fn take(\n        &self,\n        b: <Self as base::Interface>::Blob,\n        \
             h: api::Handler,\n    ) -> Result<(), String> {",
            "fn peek(&self, b: &<Self as base::Interface>::Blob) -> (api::Alias, api::V) {",
            "fn nothing(&self) {",
            "fn flagged(&self, f: api::Bits) -> api::Bits {",
            // Not picked, but `Exports` needs it.
            "impl base::Interface for Tricky {",
            "type Blob = Blob;",
            "impl base::Blob for Blob {",
            "fn new(data: Vec<u8>) -> Self {",
            "fn read(&self, n: u32) -> Option<Vec<u8>> {",
            "fn make() -> Self {",
            "panic!(\"not implemented: acme:tricky/base@0.2.0#blob.read\")",
        ] {
            assert!(rs.contains(expected), "no {expected:?} in:\n{rs}");
        }
        assert!(read(&done, "Cargo.toml").contains("manifold-plugin-sdk = \"0.1.0\""));
        assert!(
            done.manifest
                .contains("interfaces = [\"acme:tricky/api@0.2.0\"]"),
            "{}",
            done.manifest
        );
    }

    #[test]
    fn rust_dylib_names_do_not_shadow_what_the_signatures_use() {
        let root = tempfile::tempdir().unwrap();
        let done = scaffold(&Request {
            kind: Kind::RustDylib,
            wit: PathBuf::from(TRICKY),
            interfaces: vec![],
            name: Some("string".into()),
            dir: root.path().join("p"),
            sdk: SdkDep::Version("0.1.0".into()),
        })
        .unwrap();
        let rs = read(&done, "src/lib.rs");
        assert!(rs.contains("pub struct String2;"), "{rs}");
        assert!(rs.contains("impl api::Interface for String2 {"), "{rs}");
        assert!(rs.contains("export_plugin!(Exports<String2>);"), "{rs}");
    }

    #[test]
    fn rust_dylib_refuses_what_generate_cannot_serve() {
        let root = tempfile::tempdir().unwrap();
        let wit = root.path().join("x.wit");
        std::fs::write(
            &wit,
            "package a:b; interface i { resource r; record h { r: r } f: func(h: h); }",
        )
        .unwrap();
        let err = scaffold(&Request {
            kind: Kind::RustDylib,
            wit: wit.clone(),
            interfaces: vec![],
            name: Some("x".into()),
            dir: root.path().join("p"),
            sdk: SdkDep::Version("0.1.0".into()),
        })
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("typed bindings (generate!)"), "{err}");
        assert!(err.contains("type `h` holds a resource handle"), "{err}");
        assert!(!root.path().join("p/src").exists(), "nothing written");
    }

    #[test]
    fn types_plugins_cannot_carry_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for (wit, expected) in [
            (
                "package a:b; interface i { f: func(s: stream<u8>); }",
                "stream types are not supported",
            ),
            (
                "package a:b; interface i { record r { x: u8 } }",
                "has no functions",
            ),
            (
                "package a:b; world w { export f: func(); }",
                "defines no interface",
            ),
        ] {
            let path = root.path().join("x.wit");
            std::fs::write(&path, wit).unwrap();
            let err = Model::load(&path, &[]).unwrap_err();
            assert!(format!("{err:#}").contains(expected), "{wit}: {err:#}");
        }
    }

    #[test]
    fn names_are_checked_and_toml_is_quoted() {
        assert!(check_name("billing-2_x").is_ok());
        for bad in ["", "2x", "a b", "a/b", "ü"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
