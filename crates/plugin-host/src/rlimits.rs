//! Resource limits of a plugin program the host starts (`rlimits` in the manifest): checked
//! against the host's own hard limits at load, set in the child between fork and exec.

use anyhow::bail;
use manifold_config::{Rlimit, Rlimits};
use rustix::process::{Resource, getrlimit, setrlimit};

/// The limits to set in a plugin's process, each as its soft and hard limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildLimits(Vec<(Resource, u64)>);

fn resource(limit: Rlimit) -> Resource {
    match limit {
        Rlimit::Nofile => Resource::Nofile,
        Rlimit::AddressSpace => Resource::As,
        Rlimit::CpuSeconds => Resource::Cpu,
        Rlimit::Processes => Resource::Nproc,
        Rlimit::FileSize => Resource::Fsize,
        Rlimit::CoreSize => Resource::Core,
    }
}

impl ChildLimits {
    /// The limits of the manifest; an error for one above the host's own hard limit, which an
    /// unprivileged host could not grant (the plugin would then never start).
    pub(crate) fn new(rlimits: &Rlimits) -> anyhow::Result<ChildLimits> {
        let mut limits = Vec::new();
        for (limit, value) in rlimits.settings() {
            let resource = resource(limit);
            if let Some(hard) = getrlimit(resource).maximum
                && value > hard
            {
                bail!(
                    "rlimits: `{}` = {value} is above the host's own hard limit ({hard}); \
                     lower it or raise the host's limit",
                    limit.key()
                );
            }
            limits.push((resource, value));
        }
        Ok(ChildLimits(limits))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Makes `command`'s child set the limits before it runs the program; a limit that
    /// cannot be set fails the start.
    pub(crate) fn apply(&self, command: &mut tokio::process::Command) {
        if self.0.is_empty() {
            return;
        }
        let limits = self.0.clone();
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe work is allowed. It allocates nothing (it iterates over a vector
        // built before the fork), takes no lock, and makes only setrlimit(2) system calls
        // (rustix issues them directly, without libc's buffers or errno); its error is an
        // `io::Error` from a raw OS code, which does not allocate either.
        unsafe {
            command.pre_exec(move || {
                for &(resource, value) in &limits {
                    let limit = rustix::process::Rlimit {
                        current: Some(value),
                        maximum: Some(value),
                    };
                    setrlimit(resource, limit)
                        .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))?;
                }
                Ok(())
            });
        }
    }
}
