//! Printing WIT types and function signatures for messages, in WIT's own syntax:
//! `func(name: string) -> result<bool, error>`. Named types print by name; [`definition`]
//! prints what a named type is (`enum { read, write }`), for when two types of the same name
//! differ.

use wit_parser::{Function, FunctionKind, Handle, Resolve, Type, TypeDefKind};

/// `func(name: string) -> result<bool, error>`; methods without their implicit `self`,
/// constructors as `constructor(…)`.
pub(crate) fn function(resolve: &Resolve, func: &Function) -> String {
    let skip_self = matches!(
        func.kind,
        FunctionKind::Method(_) | FunctionKind::AsyncMethod(_)
    );
    let params = func
        .params
        .iter()
        .skip(usize::from(skip_self))
        .map(|param| format!("{}: {}", param.name, ty(resolve, &param.ty)))
        .collect::<Vec<_>>()
        .join(", ");
    if let FunctionKind::Constructor(_) = func.kind {
        return format!("constructor({params})");
    }
    let keyword = if func.kind.is_async() {
        "async func"
    } else {
        "func"
    };
    match &func.result {
        Some(result) => format!("{keyword}({params}) -> {}", ty(resolve, result)),
        None => format!("{keyword}({params})"),
    }
}

/// What a function is called in a message: "function `get-environment`", "method
/// `descriptor.read`", "static function `fields.from-list`", "constructor of `fields`".
pub(crate) fn function_label(func: &Function) -> String {
    let (tag, rest) = split_mangled(&func.name);
    match tag {
        Some(tag) if tag.ends_with("method") => format!("method `{rest}`"),
        Some(tag) if tag.ends_with("static") => format!("static function `{rest}`"),
        Some("constructor") => format!("constructor of `{rest}`"),
        _ => format!("function `{rest}`"),
    }
}

/// `[method]descriptor.read` → (`Some("method")`, `descriptor.read`).
fn split_mangled(name: &str) -> (Option<&str>, &str) {
    name.strip_prefix('[')
        .and_then(|inner| inner.split_once(']'))
        .map_or((None, name), |(tag, rest)| (Some(tag), rest))
}

/// A type as it is written where it is used: a named type by its name, others spelled out.
pub(crate) fn ty(resolve: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::ErrorContext => "error-context".into(),
        Type::Id(id) => match resolve.types.get(*id) {
            Some(def) => match &def.name {
                Some(name) => name.clone(),
                None => anonymous(resolve, &def.kind),
            },
            None => "<unknown type>".into(),
        },
    }
}

/// The spelled-out form of an anonymous type (`list<u8>`, `option<string>`, …).
fn anonymous(resolve: &Resolve, kind: &TypeDefKind) -> String {
    let opt = |t: &Option<Type>| t.as_ref().map(|t| ty(resolve, t));
    match kind {
        TypeDefKind::Option(t) => format!("option<{}>", ty(resolve, t)),
        TypeDefKind::List(t) => format!("list<{}>", ty(resolve, t)),
        TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", ty(resolve, t)),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", ty(resolve, k), ty(resolve, v)),
        TypeDefKind::Tuple(tuple) => format!("tuple<{}>", list(resolve, &tuple.types)),
        TypeDefKind::Result(result) => match (opt(&result.ok), opt(&result.err)) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{ok}>"),
            (None, Some(err)) => format!("result<_, {err}>"),
            (Some(ok), Some(err)) => format!("result<{ok}, {err}>"),
        },
        TypeDefKind::Handle(Handle::Own(r)) => ty(resolve, &Type::Id(*r)),
        TypeDefKind::Handle(Handle::Borrow(r)) => format!("borrow<{}>", ty(resolve, &Type::Id(*r))),
        TypeDefKind::Future(t) => opt(t).map_or("future".into(), |t| format!("future<{t}>")),
        TypeDefKind::Stream(t) => opt(t).map_or("stream".into(), |t| format!("stream<{t}>")),
        TypeDefKind::Type(t) => ty(resolve, t),
        // Named kinds that lost their name: print what they are.
        other => definition_of(resolve, other),
    }
}

fn list(resolve: &Resolve, types: &[Type]) -> String {
    types
        .iter()
        .map(|t| ty(resolve, t))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a type is, one level deep: `record { a: u32, b: string }`, `enum { x, y }`,
/// `resource`, or for an alias or anonymous type its spelled-out form.
pub(crate) fn definition(resolve: &Resolve, t: &Type) -> String {
    match t {
        Type::Id(id) => match resolve.types.get(*id) {
            Some(def) => definition_of(resolve, &def.kind),
            None => "<unknown type>".into(),
        },
        other => ty(resolve, other),
    }
}

fn definition_of(resolve: &Resolve, kind: &TypeDefKind) -> String {
    match kind {
        TypeDefKind::Record(record) => {
            let fields = record
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.name, ty(resolve, &f.ty)))
                .collect::<Vec<_>>();
            format!("record {{ {} }}", fields.join(", "))
        }
        TypeDefKind::Variant(variant) => {
            let cases = variant
                .cases
                .iter()
                .map(|c| match &c.ty {
                    Some(t) => format!("{}({})", c.name, ty(resolve, t)),
                    None => c.name.clone(),
                })
                .collect::<Vec<_>>();
            format!("variant {{ {} }}", cases.join(", "))
        }
        TypeDefKind::Enum(e) => {
            let cases = e.cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>();
            format!("enum {{ {} }}", cases.join(", "))
        }
        TypeDefKind::Flags(flags) => {
            let names = flags
                .flags
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>();
            format!("flags {{ {} }}", names.join(", "))
        }
        TypeDefKind::Resource => "resource".into(),
        TypeDefKind::Unknown => "<unknown type>".into(),
        other => anonymous(resolve, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Resolve {
        let mut resolve = Resolve::new();
        resolve
            .push_source(
                "sample.wit",
                "package a:b@1.0.0;
                 interface i {
                   type container-name = string;
                   variant error { denied, other(string) }
                   enum mode { read, write }
                   flags perms { r, w }
                   record entry { key: string, value: option<list<u8>> }
                   resource handle {
                     constructor(name: string);
                     size: func() -> u64;
                     open: static func(name: string) -> result<handle, error>;
                   }
                   container-exists: func(name: container-name) -> result<bool, error>;
                   get: func(h: borrow<handle>, pairs: list<tuple<string, u32>>) -> result<_, mode>;
                   nothing: func();
                 }",
            )
            .unwrap();
        resolve
    }

    fn func<'r>(resolve: &'r Resolve, name: &str) -> &'r Function {
        let (_, iface) = resolve.interfaces.iter().next().unwrap();
        &iface.functions[name]
    }

    #[test]
    fn prints_functions_like_wit() {
        let r = sample();
        let print = |name| function(&r, func(&r, name));
        assert_eq!(
            print("container-exists"),
            "func(name: container-name) -> result<bool, error>"
        );
        assert_eq!(
            print("get"),
            "func(h: borrow<handle>, pairs: list<tuple<string, u32>>) -> result<_, mode>"
        );
        assert_eq!(print("nothing"), "func()");
        assert_eq!(print("[method]handle.size"), "func() -> u64");
        assert_eq!(
            print("[static]handle.open"),
            "func(name: string) -> result<handle, error>"
        );
        assert_eq!(print("[constructor]handle"), "constructor(name: string)");
    }

    #[test]
    fn labels_and_definitions() {
        let r = sample();
        assert_eq!(
            function_label(func(&r, "[method]handle.size")),
            "method `handle.size`"
        );
        assert_eq!(
            function_label(func(&r, "[constructor]handle")),
            "constructor of `handle`"
        );
        assert_eq!(
            function_label(func(&r, "container-exists")),
            "function `container-exists`"
        );
        let (_, iface) = r.interfaces.iter().next().unwrap();
        let def = |name: &str| definition(&r, &Type::Id(iface.types[name]));
        assert_eq!(def("error"), "variant { denied, other(string) }");
        assert_eq!(def("mode"), "enum { read, write }");
        assert_eq!(def("perms"), "flags { r, w }");
        assert_eq!(
            def("entry"),
            "record { key: string, value: option<list<u8>> }"
        );
        assert_eq!(def("container-name"), "string");
        assert_eq!(def("handle"), "resource");
    }
}
