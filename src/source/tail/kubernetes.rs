//! Kubernetes metadata taken from the paths where the kubelet keeps
//! container logs, turned into OpenTelemetry resource attributes.
//!
//! Two layouts are known:
//! - `.../pods/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log`,
//!   the files the runtime writes (rotated ones get a suffix after `.log`);
//! - `.../containers/<pod>_<namespace>_<container>-<container id>.log`,
//!   symbolic links to the files above. For those the link target is read
//!   too, to add the pod uid and restart count.
//!
//! The directory above `pods` or `containers` is not checked, so a host log
//! directory mounted elsewhere (`/host/var/log/pods/...`) is recognised.
//! Namespace, pod and container names cannot contain `_`, so the fields
//! split without ambiguity. Nothing here reads file content or calls the
//! Kubernetes API, so labels and annotations are not known.

use std::fs;
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

use super::batch::{attribute, string_attribute};

/// Container metadata parsed from a log file path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerLog {
    pub namespace: String,
    pub pod_name: String,
    pub pod_uid: Option<String>,
    pub container_name: String,
    pub restart_count: Option<u32>,
    pub container_id: Option<String>,
}

impl ContainerLog {
    /// Reads the metadata of the log file found at `path`, following a
    /// `containers` link to its `pods` file when the link can be read.
    pub fn of_file(path: &Path) -> Option<ContainerLog> {
        if let Some(pod_log) = parse_pod_log_path(path) {
            return Some(pod_log);
        }
        let mut linked = parse_container_link_path(path)?;
        if let Some(target) = link_target(path)
            && let Some(pod_log) = parse_pod_log_path(&target)
            && pod_log.namespace == linked.namespace
            && pod_log.pod_name == linked.pod_name
        {
            linked.pod_uid = pod_log.pod_uid;
            linked.restart_count = pod_log.restart_count;
        }
        Some(linked)
    }

    /// Returns the OpenTelemetry semantic-convention resource attributes.
    pub fn resource_attributes(&self) -> Vec<KeyValue> {
        let mut attributes = vec![
            string_attribute("k8s.namespace.name", self.namespace.clone()),
            string_attribute("k8s.pod.name", self.pod_name.clone()),
        ];
        if let Some(uid) = &self.pod_uid {
            attributes.push(string_attribute("k8s.pod.uid", uid.clone()));
        }
        attributes.push(string_attribute(
            "k8s.container.name",
            self.container_name.clone(),
        ));
        if let Some(count) = self.restart_count {
            attributes.push(attribute(
                "k8s.container.restart_count",
                Value::IntValue(i64::from(count)),
            ));
        }
        if let Some(id) = &self.container_id {
            attributes.push(string_attribute("container.id", id.clone()));
        }
        attributes
    }
}

/// Returns true if `path` is in one of the kubelet's container log
/// layouts, whose lines are always CRI or Docker lines.
pub fn is_container_log_path(path: &Path) -> bool {
    parse_pod_log_path(path).is_some() || parse_container_link_path(path).is_some()
}

/// Parses `.../pods/<namespace>_<pod>_<uid>/<container>/<n>.log[.suffix]`.
pub fn parse_pod_log_path(path: &Path) -> Option<ContainerLog> {
    let file_name = path.file_name()?.to_str()?;
    let container_dir = path.parent()?;
    let pod_dir = container_dir.parent()?;
    if pod_dir.parent()?.file_name()? != "pods" {
        return None;
    }

    let restart_count = match file_name.split_once(".log") {
        Some((count, suffix)) if suffix.is_empty() || suffix.starts_with('.') => {
            count.parse::<u32>().ok()?
        }
        _ => return None,
    };
    let container_name = name_field(container_dir.file_name()?.to_str()?)?;
    let [namespace, pod_name, pod_uid] = underscore_fields(pod_dir.file_name()?.to_str()?)?;

    Some(ContainerLog {
        namespace,
        pod_name,
        pod_uid: Some(pod_uid),
        container_name,
        restart_count: Some(restart_count),
        container_id: None,
    })
}

/// Parses `.../containers/<pod>_<namespace>_<container>-<id>.log`.
pub fn parse_container_link_path(path: &Path) -> Option<ContainerLog> {
    if path.parent()?.file_name()? != "containers" {
        return None;
    }
    let stem = path.file_name()?.to_str()?.strip_suffix(".log")?;
    let [pod_name, namespace, container_and_id] = underscore_fields(stem)?;
    let (container_name, container_id) = container_and_id.rsplit_once('-')?;
    let is_id = !container_id.is_empty() && container_id.bytes().all(|b| b.is_ascii_hexdigit());
    if container_name.is_empty() || !is_id {
        return None;
    }

    Some(ContainerLog {
        namespace,
        pod_name,
        pod_uid: None,
        container_name: container_name.to_string(),
        restart_count: None,
        container_id: Some(container_id.to_string()),
    })
}

/// Splits `a_b_c` into its three non-empty fields.
fn underscore_fields(text: &str) -> Option<[String; 3]> {
    let mut fields = text.split('_');
    let first = name_field(fields.next()?)?;
    let second = name_field(fields.next()?)?;
    let third = name_field(fields.next()?)?;
    if fields.next().is_some() {
        return None;
    }
    Some([first, second, third])
}

fn name_field(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// Returns where the symbolic link at `path` points, resolved against the
/// link's directory, or `None` if `path` is not a readable link.
fn link_target(path: &Path) -> Option<PathBuf> {
    let target = fs::read_link(path).ok()?;
    Some(match path.parent() {
        Some(dir) => dir.join(target),
        None => target,
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::AnyValue;

    use super::*;

    const UID: &str = "6f1b2a3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c";
    const ID: &str = "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";

    fn pod_log() -> ContainerLog {
        ContainerLog {
            namespace: "shop".to_string(),
            pod_name: "checkout-7d9f8b6c5-x2x4z".to_string(),
            pod_uid: Some(UID.to_string()),
            container_name: "server".to_string(),
            restart_count: Some(3),
            container_id: None,
        }
    }

    #[test]
    fn pod_log_path_parsed() {
        let path = format!("/var/log/pods/shop_checkout-7d9f8b6c5-x2x4z_{UID}/server/3.log");

        assert_eq!(parse_pod_log_path(Path::new(&path)), Some(pod_log()));
    }

    #[test]
    fn rotated_pod_log_keeps_restart_count() {
        let path = format!(
            "/host/var/log/pods/shop_checkout-7d9f8b6c5-x2x4z_{UID}/server/3.log.20240501-100000"
        );

        assert_eq!(parse_pod_log_path(Path::new(&path)), Some(pod_log()));
    }

    #[test]
    fn other_paths_not_pod_logs() {
        for path in [
            "/var/log/syslog",
            "/var/log/app/server/3.log",
            "/var/log/pods/shop_checkout/server/3.log",
            "/var/log/pods/shop_checkout_uid_extra/server/3.log",
            "/var/log/pods/shop__uid/server/3.log",
            "/var/log/pods/shop_checkout_uid/server/latest.log",
            "/var/log/pods/shop_checkout_uid/server/3.logs",
            "/var/log/pods/shop_checkout_uid/3.log",
            "/var/log/containers/checkout_shop_server.log",
            "/var/log/containers/checkout_shop_server-nothex.log",
            "/var/log/containers/checkout_shop_-abc.log",
            "3.log",
        ] {
            assert!(!is_container_log_path(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn container_link_path_parsed() {
        let path = format!("/var/log/containers/checkout-7d9f8b6c5-x2x4z_shop_server-{ID}.log");

        let parsed = parse_container_link_path(Path::new(&path)).unwrap();

        assert_eq!(parsed.pod_name, "checkout-7d9f8b6c5-x2x4z");
        assert_eq!(parsed.namespace, "shop");
        assert_eq!(parsed.container_name, "server");
        assert_eq!(parsed.container_id.as_deref(), Some(ID));
        assert_eq!(parsed.pod_uid, None);
    }

    #[test]
    fn container_link_followed_to_pod_log() {
        let root = tempfile::tempdir().unwrap();
        let pod_dir = root
            .path()
            .join(format!("pods/shop_checkout-7d9f8b6c5-x2x4z_{UID}/server"));
        fs::create_dir_all(&pod_dir).unwrap();
        fs::write(pod_dir.join("3.log"), "").unwrap();
        let links = root.path().join("containers");
        fs::create_dir_all(&links).unwrap();
        let link = links.join(format!("checkout-7d9f8b6c5-x2x4z_shop_server-{ID}.log"));
        // The kubelet writes absolute targets; a relative one works as well.
        std::os::unix::fs::symlink(
            format!("../pods/shop_checkout-7d9f8b6c5-x2x4z_{UID}/server/3.log"),
            &link,
        )
        .unwrap();

        let parsed = ContainerLog::of_file(&link).unwrap();

        assert_eq!(parsed.pod_uid.as_deref(), Some(UID));
        assert_eq!(parsed.restart_count, Some(3));
        assert_eq!(parsed.container_id.as_deref(), Some(ID));
    }

    #[test]
    fn resource_attributes_use_semantic_conventions() {
        let mut log = pod_log();
        log.container_id = Some(ID.to_string());

        let attributes = log.resource_attributes();

        let pairs: Vec<(&str, &Value)> = attributes
            .iter()
            .map(|kv| {
                let value = kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref());
                (kv.key.as_str(), value.unwrap())
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("k8s.namespace.name", &Value::StringValue("shop".into())),
                (
                    "k8s.pod.name",
                    &Value::StringValue("checkout-7d9f8b6c5-x2x4z".into())
                ),
                ("k8s.pod.uid", &Value::StringValue(UID.into())),
                ("k8s.container.name", &Value::StringValue("server".into())),
                ("k8s.container.restart_count", &Value::IntValue(3)),
                ("container.id", &Value::StringValue(ID.into())),
            ]
        );
    }
}
