//! `python-rpc`: a standard-library Python program on the vendored `manifold_wrpc.py`, one
//! handler per function, each raising `NotImplementedError`.

use std::collections::HashMap;
use std::fmt::Write as _;

use heck::{ToShoutySnakeCase as _, ToSnakeCase as _};
use wit_parser::{FunctionKind, Resolve, Type, TypeDefKind, TypeId};

use crate::model::{Func, Model, signature};
use crate::{Project, not_implemented};

/// The wRPC server every Python plugin copies (`examples/plugins/python`).
const MANIFOLD_WRPC: &str = include_str!("../../../examples/plugins/python/manifold_wrpc.py");
const PLUGIN: &str = include_str!("../templates/python/plugin.py");

pub fn render(model: &Model, project: &Project) -> Vec<(String, String)> {
    let mut types = Types::new(&model.resolve);
    let mut handlers = String::new();
    let mut interfaces = String::new();
    for (i, iface) in model.interfaces.iter().enumerate() {
        let constant = if model.interfaces.len() == 1 {
            "INTERFACE".to_owned()
        } else {
            format!("INTERFACE_{}", iface.name.to_shouty_snake_case())
        };
        let _ = writeln!(interfaces, "{constant} = {:?}", iface.qualified);
        for func in &iface.functions {
            handler(
                &mut handlers,
                &mut types,
                &constant,
                &iface.qualified,
                func,
                model,
            );
        }
        for resource in &iface.resources {
            let _ = write!(
                handlers,
                "\n\n# A guest dropped its handle to a `{resource}`: forget it. (A Manifold extension\n\
                 # of wRPC; it must answer with no results, so it is no stub.)\n\
                 @server.func({constant}, \"[drop]{resource}\", params=[HANDLE])\n\
                 def {}_drop(handle):\n    pass\n",
                python_ident(resource)
            );
        }
        if i + 1 < model.interfaces.len() {
            handlers.push('\n');
        }
    }
    let plugin = PLUGIN
        .replace("{{NAME}}", &project.name)
        .replace("{{WIT_FILE}}", &project.wit_file)
        .replace("{{INTERFACES}}", interfaces.trim_end())
        .replace("{{TYPES}}", types.defs.trim_end())
        .replace("{{HANDLERS}}", handlers.trim_start_matches('\n').trim_end());
    vec![
        ("plugin.py".to_owned(), plugin),
        ("manifold_wrpc.py".to_owned(), MANIFOLD_WRPC.to_owned()),
    ]
}

fn handler(
    out: &mut String,
    types: &mut Types<'_>,
    constant: &str,
    interface: &str,
    func: &Func,
    model: &Model,
) {
    let params: Vec<String> = func
        .wit
        .params
        .iter()
        .map(|p| types.descriptor(&p.ty))
        .collect();
    let results: Vec<String> = func
        .wit
        .result
        .iter()
        .map(|t| types.descriptor(t))
        .collect();
    let args: Vec<String> = func
        .wit
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| match func.wit.kind {
            // A method's implicit first parameter is the resource's handle.
            FunctionKind::Method(_) | FunctionKind::AsyncMethod(_) if i == 0 => "handle".to_owned(),
            _ => python_ident(&p.name),
        })
        .collect();
    let name = match &func.resource {
        Some(resource) if func.is_constructor() => format!("{resource}_new"),
        Some(resource) => format!("{resource}_{}", func.item_name()),
        None => func.item_name().to_owned(),
    };
    let _ = write!(
        out,
        "\n\n# {}\n@server.func({constant}, {:?}, params=[{}], results=[{}])\n\
         def {}({}):\n    raise NotImplementedError({:?})\n",
        signature(&model.resolve, func),
        func.rpc_name,
        params.join(", "),
        results.join(", "),
        python_ident(&name),
        args.join(", "),
        not_implemented(interface, &func.rpc_name),
    );
}

/// Type descriptors of `manifold_wrpc`, with one constant per named WIT type, defined
/// before its first use.
struct Types<'a> {
    resolve: &'a Resolve,
    constants: HashMap<TypeId, String>,
    taken: Vec<String>,
    defs: String,
}

impl<'a> Types<'a> {
    fn new(resolve: &'a Resolve) -> Self {
        Types {
            resolve,
            constants: HashMap::new(),
            taken: Vec::new(),
            defs: String::new(),
        }
    }

    fn descriptor(&mut self, ty: &Type) -> String {
        let Type::Id(id) = ty else {
            return match ty {
                Type::Bool => "BOOL",
                Type::U8 => "U8",
                Type::U16 => "U16",
                Type::U32 => "U32",
                Type::U64 => "U64",
                Type::S8 => "S8",
                Type::S16 => "S16",
                Type::S32 => "S32",
                Type::S64 => "S64",
                Type::F32 => "F32",
                Type::F64 => "F64",
                Type::Char => "CHAR",
                Type::String => "STRING",
                // Refused by the model.
                Type::ErrorContext | Type::Id(_) => "None",
            }
            .to_owned();
        };
        let def = &self.resolve.types[*id];
        if matches!(def.kind, TypeDefKind::Handle(_) | TypeDefKind::Resource) {
            return "HANDLE".to_owned();
        }
        if let Some(constant) = self.constants.get(id) {
            return constant.clone();
        }
        // `use other.{t}` makes an alias of the same name: one constant serves both.
        if let TypeDefKind::Type(target @ Type::Id(target_id)) = &def.kind
            && self.resolve.types[*target_id].name == def.name
        {
            return self.descriptor(target);
        }
        let body = match &def.kind {
            TypeDefKind::Record(r) => format!(
                "record({})",
                r.fields
                    .iter()
                    .map(|f| format!("({:?}, {})", f.name, self.descriptor(&f.ty)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::Variant(v) => format!(
                "variant({})",
                v.cases
                    .iter()
                    .map(|c| {
                        let payload =
                            c.ty.as_ref()
                                .map_or("None".to_owned(), |t| self.descriptor(t));
                        format!("({:?}, {payload})", c.name)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::Enum(e) => format!(
                "enum({})",
                e.cases
                    .iter()
                    .map(|c| format!("{:?}", c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::Flags(f) => format!(
                "flags({})",
                f.flags
                    .iter()
                    .map(|c| format!("{:?}", c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::Tuple(t) => format!(
                "tuple_({})",
                t.types
                    .iter()
                    .map(|t| self.descriptor(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::List(t) => format!("list_({})", self.descriptor(t)),
            TypeDefKind::Option(t) => format!("option({})", self.descriptor(t)),
            TypeDefKind::Result(r) => {
                let ok =
                    r.ok.as_ref()
                        .map_or("None".to_owned(), |t| self.descriptor(t));
                let err = r
                    .err
                    .as_ref()
                    .map_or("None".to_owned(), |t| self.descriptor(t));
                format!("result({ok}, {err})")
            }
            TypeDefKind::Type(t) => self.descriptor(t),
            // Refused by the model.
            _ => "None".to_owned(),
        };
        let Some(name) = &def.name else {
            return body;
        };
        let mut constant = name.to_shouty_snake_case();
        if PRELUDE.contains(&constant.as_str()) || constant == "INTERFACE" {
            constant.push_str("_TYPE");
        }
        let mut unique = constant.clone();
        let mut n = 2;
        while self.taken.contains(&unique) {
            unique = format!("{constant}_{n}");
            n += 1;
        }
        let _ = writeln!(self.defs, "{unique} = {body}");
        self.taken.push(unique.clone());
        self.constants.insert(*id, unique.clone());
        unique
    }
}

/// Names the template imports from `manifold_wrpc`.
const PRELUDE: &[&str] = &[
    "BOOL", "CHAR", "F32", "F64", "HANDLE", "S8", "S16", "S32", "S64", "STRING", "U8", "U16",
    "U32", "U64",
];

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "server", "record", "variant", "enum", "flags", "option", "result", "list_",
    "tuple_", "Ok", "Err", "Server", "os", "sys",
];

/// A WIT name as a Python identifier: snake case, keywords and the template's names suffixed
/// with `_`.
fn python_ident(name: &str) -> String {
    let ident = name.to_snake_case();
    if PYTHON_KEYWORDS.contains(&ident.as_str()) {
        format!("{ident}_")
    } else {
        ident
    }
}
