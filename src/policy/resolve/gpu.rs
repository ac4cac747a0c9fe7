//! `--gpu` / `[filesystem] gpu`: the host's GPU device nodes, found through the Host, added to
//! the devices bound into the jail's /dev (Landlock gives device rights, ioctl included, on
//! exactly those files; see `plan::landlock`). What counts as a GPU node: [`gpu_nodes`].

use super::*;

/// Where GPU device nodes live, and the name prefixes that are GPU nodes there: the NVIDIA
/// driver's (`nvidia0`, `nvidiactl`, `nvidia-uvm`, `nvidia-uvm-tools`, `nvidia-modeset`) and
/// the DRM render nodes (`renderD128`...; not the display nodes `card0`..., which can change
/// what the screen shows).
const GPU_NODES: &[(&str, &str)] = &[("/dev", "nvidia"), ("/dev/dri", "renderD")];

/// The GPU device nodes `host` has, sorted; directories (`/dev/nvidia-caps`) are not nodes.
pub fn gpu_nodes(host: &dyn Host) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (dir, prefix) in GPU_NODES {
        let Ok(names) = host.list_dir(Path::new(dir)) else {
            continue;
        };
        for name in names.into_iter().filter(|n| n.starts_with(prefix)) {
            let p = Path::new(dir).join(name);
            // As itself (no link to elsewhere) and not a directory.
            if host.canonicalize(&p).ok().as_ref() == Some(&p)
                && matches!(host.kind(&p), Ok(FileKind::File))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The places tooljail looks, for messages.
pub fn gpu_places() -> String {
    GPU_NODES
        .iter()
        .map(|(d, p)| format!("{d}/{p}*"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Resolver<'_> {
    /// Whether the GPUs are asked for; when they are, their nodes join `devices`, and none is
    /// an error (the command asked for a GPU it would not get).
    pub(super) fn gpu(&mut self, m: &Merged, ov: &Overrides, devices: &mut Vec<PathBuf>) -> bool {
        let item = m.layer.filesystem.gpu.as_ref();
        if !(ov.gpu || item.is_some_and(|i| i.value)) {
            return false;
        }
        let nodes = gpu_nodes(self.host);
        if nodes.is_empty() {
            let message = format!(
                "no GPU device node on this host (looked for {})",
                gpu_places()
            );
            let hint = "run on a host with the NVIDIA driver loaded or a DRM render node, \
                        or drop the GPU request";
            match (ov.gpu, item) {
                (false, Some(i)) => {
                    let at = self.src.at(i);
                    self.err(at, message, hint);
                }
                _ => self.cli_err("--gpu", message, hint),
            }
            return false;
        }
        for n in nodes {
            if !devices.contains(&n) {
                devices.push(n);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;

    #[test]
    fn only_gpu_nodes_are_found() {
        let mut h = FakeHost::debian();
        h.dir("/dev")
            .dir("/dev/dri")
            .dir("/dev/nvidia-caps")
            .file("/dev/nvidia0", "")
            .file("/dev/nvidiactl", "")
            .file("/dev/nvidia-uvm", "")
            .file("/dev/sda", "")
            .file("/dev/dri/card0", "")
            .file("/dev/dri/renderD128", "");
        h.links.insert("/dev/nvidia9".into(), "/dev/sda".into());
        assert_eq!(
            gpu_nodes(&h),
            [
                "/dev/dri/renderD128",
                "/dev/nvidia-uvm",
                "/dev/nvidia0",
                "/dev/nvidiactl"
            ]
            .map(PathBuf::from)
        );
        assert!(gpu_nodes(&FakeHost::debian()).is_empty());
    }
}
