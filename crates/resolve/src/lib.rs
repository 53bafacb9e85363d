//! Before a component is instantiated, Manifold checks **every** import against **every**
//! interface the host's providers offer, and reports all problems at once, in words a
//! component author understands.
//!
//! ```text
//! bytes ──decode_component──▶ ComponentWorld ──resolve(offers)──▶ Resolution
//!                                                                   ├─ render_text / render_inspect
//!                                                                   └─ to_json
//! ```
//!
//! - [`decode_component`] reads the component's world with `wit_component::decode`, or says
//!   why the file is not a component ([`DecodeError`]: not Wasm, a core module, malformed at
//!   a byte offset).
//! - [`resolve`] binds each import to the best [`Offer`] by the version rules (see
//!   `version.rs`) and, where the offer has WIT, function by function with structural type
//!   comparison; or records a [`Problem`].
//! - The [`Resolution`] renders as one text report or as the stable JSON of
//!   `manifold inspect --json` (`docs/inspect-json.md`).
//!
//! No Wasmtime here: the runtime turns the bindings into linker calls.

mod compare;
mod decode;
mod offer;
mod report;
mod resolution;
mod signature;
mod version;

pub use decode::{
    ComponentWorld, DecodeError, Export, Import, ItemKind, WorldFunction, check_header,
    decode_component,
};
pub use offer::{Offer, Provided};
pub use report::JSON_FORMAT;
pub use resolution::{
    ItemIssue, Outcome, Problem, ProblemKind, Resolution, ResolvedImport, resolve,
};
