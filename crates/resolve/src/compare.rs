//! Structural comparison of WIT types across two [`Resolve`]s: the component's (decoded from
//! its binary) and a provider's (parsed from its WIT).
//!
//! The rules follow what the component model (and Wasmtime's linker) checks: primitives by
//! kind; lists, options, results, tuples by their parts; records by field names and types;
//! variants, enums and flags by case names (and payloads); handles by own/borrow and the
//! resource's name and interface. Aliases (`type container-name = string`, `use`d types)
//! are looked through, and parameter names do not matter. WIT types cannot be recursive
//! except through resources, which are compared by name, so the walk terminates.

use wit_parser::{Function, FunctionKind, Handle, Resolve, Type, TypeDefKind, TypeOwner};

use crate::signature;

/// Where two types first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    /// The named types the difference lies in, outermost first (empty: the difference is
    /// visible in the signatures themselves).
    pub path: Vec<String>,
    /// The component's side: the innermost named type's definition, or the differing type.
    pub expected: String,
    /// The provider's side, likewise.
    pub found: String,
}

/// Compares types of the component (`ours`) with types of a provider (`theirs`).
pub(crate) struct Compare<'a> {
    pub ours: &'a Resolve,
    pub theirs: &'a Resolve,
}

impl Compare<'_> {
    /// Whether the provider's `theirs` can serve a call the component makes to `ours`.
    pub fn function(&self, ours: &Function, theirs: &Function) -> Result<(), Difference> {
        let mismatch = || Difference {
            path: Vec::new(),
            expected: signature::function(self.ours, ours),
            found: signature::function(self.theirs, theirs),
        };
        if kind_class(&ours.kind) != kind_class(&theirs.kind)
            || ours.params.len() != theirs.params.len()
        {
            return Err(mismatch());
        }
        for (a, b) in ours.params.iter().zip(&theirs.params) {
            self.ty(&a.ty, &b.ty).map_err(|d| shallow(d, mismatch))?;
        }
        match (&ours.result, &theirs.result) {
            (None, None) => Ok(()),
            (Some(a), Some(b)) => self.ty(a, b).map_err(|d| shallow(d, mismatch)),
            _ => Err(mismatch()),
        }
    }

    /// Whether `ours` and `theirs` are the same resource (by name and interface).
    pub fn same_resource(&self, ours: Type, theirs: Type) -> bool {
        let (Type::Id(a), Type::Id(b)) = (self.ours_unaliased(ours), self.theirs_unaliased(theirs))
        else {
            return false;
        };
        let (a, b) = (&self.ours.types[a], &self.theirs.types[b]);
        matches!(a.kind, TypeDefKind::Resource)
            && matches!(b.kind, TypeDefKind::Resource)
            && a.name == b.name
            && owner_name(self.ours, &a.owner) == owner_name(self.theirs, &b.owner)
    }

    fn ours_unaliased(&self, t: Type) -> Type {
        unalias(self.ours, t)
    }

    fn theirs_unaliased(&self, t: Type) -> Type {
        unalias(self.theirs, t)
    }

    pub fn ty(&self, ours: &Type, theirs: &Type) -> Result<(), Difference> {
        let (a, b) = (self.ours_unaliased(*ours), self.theirs_unaliased(*theirs));
        let differ = || Difference {
            path: Vec::new(),
            expected: signature::ty(self.ours, ours),
            found: signature::ty(self.theirs, theirs),
        };
        let (a_id, b_id) = match (a, b) {
            (Type::Id(a_id), Type::Id(b_id)) => (a_id, b_id),
            (Type::Id(_), _) | (_, Type::Id(_)) => return Err(differ()),
            (a, b) if a == b => return Ok(()),
            _ => return Err(differ()),
        };
        let (a_def, b_def) = (&self.ours.types[a_id], &self.theirs.types[b_id]);
        let result = self.kinds(&a_def.kind, &b_def.kind);
        match (result, &a_def.name) {
            (Ok(()), _) => Ok(()),
            // Inside a named type: say which, and show both definitions if the difference
            // is not deeper still.
            (Err(mut d), Some(name)) => {
                if d.path.is_empty() {
                    d.expected = signature::definition(self.ours, &a);
                    d.found = signature::definition(self.theirs, &b);
                }
                d.path.insert(0, name.clone());
                Err(d)
            }
            (Err(d), None) if d.path.is_empty() => Err(differ()),
            (Err(d), None) => Err(d),
        }
    }

    fn opt(&self, ours: &Option<Type>, theirs: &Option<Type>) -> Result<(), Difference> {
        match (ours, theirs) {
            (None, None) => Ok(()),
            (Some(a), Some(b)) => self.ty(a, b),
            _ => Err(Difference {
                path: Vec::new(),
                expected: describe_opt(self.ours, ours),
                found: describe_opt(self.theirs, theirs),
            }),
        }
    }

    fn all(&self, ours: &[Type], theirs: &[Type]) -> Result<(), Difference> {
        if ours.len() != theirs.len() {
            return Err(plain());
        }
        ours.iter().zip(theirs).try_for_each(|(a, b)| self.ty(a, b))
    }

    /// Compares two type definitions; a difference found directly here has an empty path
    /// and placeholder texts that [`Compare::ty`] fills in.
    fn kinds(&self, ours: &TypeDefKind, theirs: &TypeDefKind) -> Result<(), Difference> {
        use TypeDefKind as K;
        let same_names = |a: Vec<&str>, b: Vec<&str>| if a == b { Ok(()) } else { Err(plain()) };
        match (ours, theirs) {
            (K::Record(a), K::Record(b)) => {
                same_names(
                    a.fields.iter().map(|f| f.name.as_str()).collect(),
                    b.fields.iter().map(|f| f.name.as_str()).collect(),
                )?;
                a.fields
                    .iter()
                    .zip(&b.fields)
                    .try_for_each(|(x, y)| self.ty(&x.ty, &y.ty))
            }
            (K::Variant(a), K::Variant(b)) => {
                same_names(
                    a.cases.iter().map(|c| c.name.as_str()).collect(),
                    b.cases.iter().map(|c| c.name.as_str()).collect(),
                )?;
                a.cases
                    .iter()
                    .zip(&b.cases)
                    .try_for_each(|(x, y)| self.opt(&x.ty, &y.ty))
            }
            (K::Enum(a), K::Enum(b)) => same_names(
                a.cases.iter().map(|c| c.name.as_str()).collect(),
                b.cases.iter().map(|c| c.name.as_str()).collect(),
            ),
            (K::Flags(a), K::Flags(b)) => same_names(
                a.flags.iter().map(|f| f.name.as_str()).collect(),
                b.flags.iter().map(|f| f.name.as_str()).collect(),
            ),
            (K::Tuple(a), K::Tuple(b)) => self.all(&a.types, &b.types),
            (K::Option(a), K::Option(b)) | (K::List(a), K::List(b)) => self.ty(a, b),
            (K::FixedLengthList(a, n), K::FixedLengthList(b, m)) if n == m => self.ty(a, b),
            (K::Map(ak, av), K::Map(bk, bv)) => self.ty(ak, bk).and_then(|()| self.ty(av, bv)),
            (K::Result(a), K::Result(b)) => self
                .opt(&a.ok, &b.ok)
                .and_then(|()| self.opt(&a.err, &b.err)),
            (K::Future(a), K::Future(b)) | (K::Stream(a), K::Stream(b)) => self.opt(a, b),
            (K::Handle(Handle::Own(a)), K::Handle(Handle::Own(b)))
            | (K::Handle(Handle::Borrow(a)), K::Handle(Handle::Borrow(b))) => {
                if self.same_resource(Type::Id(*a), Type::Id(*b)) {
                    Ok(())
                } else {
                    Err(plain())
                }
            }
            (K::Resource, K::Resource) => Err(plain()), // only equal through `same_resource`
            _ => Err(plain()),
        }
    }
}

/// A difference whose texts the caller fills in.
fn plain() -> Difference {
    Difference {
        path: Vec::new(),
        expected: String::new(),
        found: String::new(),
    }
}

/// A difference at the top of a signature is shown by the two signatures themselves.
fn shallow(d: Difference, signatures: impl Fn() -> Difference) -> Difference {
    if d.path.is_empty() { signatures() } else { d }
}

fn describe_opt(resolve: &Resolve, t: &Option<Type>) -> String {
    t.as_ref()
        .map_or("nothing".into(), |t| signature::ty(resolve, t))
}

/// Follows `type a = b` aliases (including `use`d types) to the type they stand for.
pub(crate) fn unalias(resolve: &Resolve, mut t: Type) -> Type {
    // Bounded, in case a malformed Resolve had an alias cycle.
    for _ in 0..64 {
        match t {
            Type::Id(id) => match resolve.types.get(id).map(|def| &def.kind) {
                Some(TypeDefKind::Type(next)) => t = *next,
                _ => return t,
            },
            _ => return t,
        }
    }
    t
}

/// `namespace:package/interface` of a resource's owner, without the version, so that a
/// resource of `wasi:io@0.2.0` is the same as one of `wasi:io@0.2.12`.
fn owner_name(resolve: &Resolve, owner: &TypeOwner) -> Option<String> {
    match owner {
        TypeOwner::Interface(id) => {
            manifold_wit::interface_name(resolve, *id).map(|name| name.unversioned())
        }
        TypeOwner::World(_) | TypeOwner::None => None,
    }
}

/// Functions are interchangeable only with the same shape: free function, method, static
/// function or constructor, and sync or async.
fn kind_class(kind: &FunctionKind) -> (u8, bool) {
    let class = match kind {
        FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => 0,
        FunctionKind::Method(_) | FunctionKind::AsyncMethod(_) => 1,
        FunctionKind::Static(_) | FunctionKind::AsyncStatic(_) => 2,
        FunctionKind::Constructor(_) => 3,
    };
    (class, kind.is_async())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Resolve {
        let mut resolve = Resolve::new();
        resolve.push_source("test.wit", text).unwrap();
        resolve
    }

    fn compare(ours: &str, theirs: &str, func: &str) -> Result<(), Difference> {
        let (a, b) = (parse(ours), parse(theirs));
        let fa = &a.interfaces.iter().next().unwrap().1.functions[func];
        let fb = &b.interfaces.iter().next().unwrap().1.functions[func];
        Compare {
            ours: &a,
            theirs: &b,
        }
        .function(fa, fb)
    }

    const HOST: &str = "package a:b@0.2.12;
        interface i {
          type name = string;
          variant error { denied, other(string) }
          enum mode { read, write }
          record entry { key: string, value: list<u8> }
          resource handle { size: func() -> u64; }
          exists: func(n: name) -> result<bool, error>;
          put: func(e: entry, m: mode) -> option<handle>;
          size-of: func(h: borrow<handle>) -> u64;
        }";

    #[test]
    fn same_types_match_through_aliases_and_versions() {
        let ours = "package a:b@0.2.99;
            interface i {
              variant error { denied, other(string) }
              enum mode { read, write }
              record entry { key: string, value: list<u8> }
              resource handle { size: func() -> u64; }
              exists: func(other-name: string) -> result<bool, error>;
              put: func(e: entry, m: mode) -> option<handle>;
              size-of: func(h: borrow<handle>) -> u64;
            }";
        for f in ["exists", "put", "size-of", "[method]handle.size"] {
            assert_eq!(compare(ours, HOST, f), Ok(()), "{f}");
        }
    }

    #[test]
    fn differences_are_located() {
        let ours = "package a:b@0.2.12;
            interface i {
              enum mode { read, write, append }
              record entry { key: string, value: string }
              resource handle { size: func() -> u32; }
              exists: func(n: string) -> bool;
              put: func(e: entry, m: mode) -> option<handle>;
              size-of: func(h: handle) -> u64;
            }";
        let d = compare(ours, HOST, "exists").unwrap_err();
        assert_eq!(d.path, Vec::<String>::new());
        assert_eq!(d.expected, "func(n: string) -> bool");
        assert_eq!(d.found, "func(n: name) -> result<bool, error>");

        let d = compare(ours, HOST, "put").unwrap_err();
        assert_eq!(d.path, ["entry"]);
        assert_eq!(d.expected, "record { key: string, value: string }");
        assert_eq!(d.found, "record { key: string, value: list<u8> }");

        let d = compare(ours, HOST, "size-of").unwrap_err();
        assert_eq!(d.expected, "func(h: handle) -> u64");
        assert_eq!(d.found, "func(h: borrow<handle>) -> u64");

        let d = compare(ours, HOST, "[method]handle.size").unwrap_err();
        assert_eq!(
            (d.expected.as_str(), d.found.as_str()),
            ("func() -> u32", "func() -> u64")
        );
    }

    #[test]
    fn enum_cases_matter() {
        let ours = "package a:b@0.2.12;
            interface i {
              record entry { key: string, value: list<u8> }
              enum mode { read, write, append }
              resource handle;
              put: func(e: entry, m: mode) -> option<handle>;
            }";
        let d = compare(ours, HOST, "put").unwrap_err();
        assert_eq!(d.path, ["mode"]);
        assert_eq!(d.expected, "enum { read, write, append }");
        assert_eq!(d.found, "enum { read, write }");
    }
}
