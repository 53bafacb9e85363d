//! Rust names for WIT names (`add-points` → `add_points`, `AddPoints`, `ADD_POINTS`), with
//! Rust keywords escaped.

use proc_macro2::Span;
use syn::Ident;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "try", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "yield",
];

fn ident(name: String) -> Ident {
    match name.as_str() {
        // Not allowed as raw identifiers.
        "self" | "super" | "crate" | "Self" | "_" => {
            Ident::new(&format!("{name}_"), Span::call_site())
        }
        n if KEYWORDS.contains(&n) => Ident::new_raw(n, Span::call_site()),
        _ => Ident::new(&name, Span::call_site()),
    }
}

/// `add-points` → `add_points`: functions, fields, parameters, modules.
pub fn snake(wit: &str) -> Ident {
    ident(wit.to_lowercase().replace('-', "_"))
}

/// `add-points` → `ADD_POINTS`: flag constants.
pub fn shouty(wit: &str) -> Ident {
    ident(wit.to_uppercase().replace('-', "_"))
}

/// `add-points` → `AddPoints`: types, traits, cases.
pub fn upper_camel(wit: &str) -> Ident {
    let mut out = String::new();
    for word in wit.split('-') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    ident(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("add-points").to_string(), "add_points");
        assert_eq!(snake("type").to_string(), "r#type");
        assert_eq!(snake("self").to_string(), "self_");
        assert_eq!(upper_camel("http-URL-v2").to_string(), "HttpUrlV2");
        assert_eq!(upper_camel("self").to_string(), "Self_");
        assert_eq!(shouty("exec-bit").to_string(), "EXEC_BIT");
    }
}
