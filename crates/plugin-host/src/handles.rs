//! Plugin resources as a guest sees them: each handle the guest holds is a host resource whose
//! representation indexes this table, which keeps the plugin's opaque handle bytes and the
//! plugin generation (incarnation) that issued them.

use std::sync::Arc;

use anyhow::bail;
use bytes::Bytes;
use wasmtime::component::ResourceType;

use crate::transport::Transport;

/// Who issued handles: one plugin provider and the resource types it defines.
pub struct HandleOwner {
    pub plugin: Arc<str>,
    pub transport: Arc<dyn Transport>,
    /// (the type the guest sees, its dynamic id, `interface`, resource name)
    pub resources: Vec<ResourceInfo>,
}

pub struct ResourceInfo {
    pub ty: ResourceType,
    pub id: u32,
    pub name: String,
}

impl HandleOwner {
    pub fn dynamic_id(&self, ty: &ResourceType) -> Option<u32> {
        self.resources.iter().find(|r| r.ty == *ty).map(|r| r.id)
    }

    pub fn info(&self, ty: &ResourceType) -> Option<&ResourceInfo> {
        self.resources.iter().find(|r| r.ty == *ty)
    }
}

struct Entry {
    ty: ResourceType,
    generation: u64,
    handle: Bytes,
}

/// One instance's plugin handles (in its `InstanceState` extensions).
#[derive(Default)]
pub struct Handles {
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
}

impl Handles {
    pub fn insert(&mut self, ty: ResourceType, generation: u64, handle: Bytes) -> u32 {
        let entry = Some(Entry {
            ty,
            generation,
            handle,
        });
        match self.free.pop() {
            Some(rep) => {
                self.entries[rep as usize] = entry;
                rep
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        }
    }

    fn check<'e>(
        entry: Option<&'e Entry>,
        ty: ResourceType,
        owner: &HandleOwner,
    ) -> anyhow::Result<&'e Entry> {
        let Some(entry) = entry else {
            bail!("unknown handle of a resource of plugin `{}`", owner.plugin);
        };
        if entry.ty != ty {
            bail!(
                "handle of the wrong resource type passed to plugin `{}`",
                owner.plugin
            );
        }
        if entry.generation != owner.transport.generation() {
            let name = owner.info(&ty).map(|r| r.name.as_str()).unwrap_or("?");
            bail!(
                "this `{name}` handle is from before plugin `{}` restarted; the plugin no longer has it",
                owner.plugin
            );
        }
        Ok(entry)
    }

    /// The handle bytes of a borrowed resource.
    pub fn get(
        &mut self,
        rep: u32,
        ty: ResourceType,
        owner: &HandleOwner,
    ) -> anyhow::Result<Bytes> {
        let entry = self.entries.get(rep as usize).and_then(Option::as_ref);
        Ok(Self::check(entry, ty, owner)?.handle.clone())
    }

    /// Removes an owned resource the guest gives to the plugin.
    pub fn take(
        &mut self,
        rep: u32,
        ty: ResourceType,
        owner: &HandleOwner,
    ) -> anyhow::Result<Bytes> {
        let entry = self.entries.get(rep as usize).and_then(Option::as_ref);
        Self::check(entry, ty, owner)?;
        Ok(self.remove(rep).expect("checked").handle)
    }

    /// Removes a dropped handle: its bytes and generation, if it existed.
    pub fn remove_dropped(&mut self, rep: u32) -> Option<(Bytes, u64)> {
        self.remove(rep).map(|e| (e.handle, e.generation))
    }

    fn remove(&mut self, rep: u32) -> Option<Entry> {
        let entry = self.entries.get_mut(rep as usize)?.take()?;
        self.free.push(rep);
        Some(entry)
    }
}
