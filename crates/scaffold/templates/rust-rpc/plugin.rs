//! The functions of {{INTERFACES}}: one method per WIT function, with the signature
//! `wit-bindgen-wrpc` generates. Every stub answers an error: the host fails that call (a
//! wRPC server cannot send an error, so it closes the connection without results) and the
//! message appears in the host's log, which shows this program's stderr.
//!
//! Resources are bytes you choose (`ResourceOwn::from(Bytes)` when you create one); the host
//! hands them back as `ResourceBorrow`/`ResourceOwn` parameters and in [`Plugin::dropped`].
#![allow(unused_imports)]

use wit_bindgen_wrpc::bytes::Bytes;
use wit_bindgen_wrpc::wrpc_transport::{ResourceBorrow, ResourceOwn};

{{USES}}

/// One value serves every call, from several tasks at once: share state behind an `Arc`.
#[derive(Clone, Default)]
pub struct Plugin;

impl Plugin {
    /// A guest dropped its handle to a `resource` of `interface`: free what it names.
    pub fn dropped(&self, interface: &str, resource: &str, handle: &[u8]) {
        let _ = (interface, resource, handle);
    }
}

{{IMPLS}}
