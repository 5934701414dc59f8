//! The deployment files in docker/ say what docs/operations.md says they do. No Docker engine
//! runs here: the compose file is parsed, its Baton settings are loaded by the real binary,
//! and nginx (when installed; required under `CI`) checks its configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use baton::config::Settings;
use serde_norway::Value;

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const NODES: [&str; 3] = ["baton1", "baton2", "baton3"];

fn repository_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("cannot read {}: {error}", full.display()))
}

/// docker/compose.yml with its YAML merge keys (`<<: *baton-node`) applied, as compose does.
fn compose() -> Value {
    let mut document: Value =
        serde_norway::from_str(&repository_file("docker/compose.yml")).expect("compose.yml parses");
    document.apply_merge().expect("compose.yml merge keys apply");
    document
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"].get(name).unwrap_or_else(|| panic!("compose.yml has no service {name}"))
}

fn strings(value: &Value) -> Vec<String> {
    value.as_sequence().into_iter().flatten().map(|item| item.as_str().expect("a string").to_string()).collect()
}

/// A node's environment with compose's `${VAR:-default}` / `${VAR:?message}` interpolation
/// resolved as on a host where the operator set every required variable to "example".
fn node_environment(compose: &Value, node: &str) -> BTreeMap<String, String> {
    let environment = service(compose, node)["environment"].as_mapping().expect("environment is a mapping");
    environment
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                other => panic!("{node}: environment value {other:?} is not text"),
            };
            (key.as_str().expect("a variable name").to_string(), interpolate(&value))
        })
        .collect()
}

fn interpolate(text: &str) -> String {
    let mut resolved = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        resolved.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("an interpolation is closed") + start;
        let expression = &rest[start + 2..end];
        resolved.push_str(match expression.split_once(":-") {
            Some((_, default)) => default,
            None => "example",
        });
        rest = &rest[end + 1..];
    }
    resolved.push_str(rest);
    resolved
}

#[test]
fn compose_runs_postgres_three_nodes_on_one_volume_and_nginx_in_front() {
    let compose = compose();
    let services: Vec<&str> =
        compose["services"].as_mapping().unwrap().keys().map(|key| key.as_str().unwrap()).collect();
    assert_eq!(services, ["postgres", "baton1", "baton2", "baton3", "nginx"]);

    let postgres = service(&compose, "postgres");
    assert!(postgres["image"].as_str().unwrap().starts_with("postgres:"));
    assert_eq!(strings(&postgres["volumes"]), ["postgres-data:/var/lib/postgresql/data"]);
    assert!(postgres["ports"].is_null(), "PostgreSQL must not be published on the host");

    let mut names = Vec::new();
    for node in NODES {
        let definition = service(&compose, node);
        assert_eq!(definition["build"]["dockerfile"].as_str(), Some("docker/Dockerfile"), "{node}");
        assert_eq!(strings(&definition["volumes"]), ["baton-data:/data"], "{node} shares the data volume");
        assert!(definition["ports"].is_null(), "{node} must be reached through nginx only");
        assert_eq!(definition["depends_on"]["postgres"]["condition"].as_str(), Some("service_healthy"), "{node}");
        let environment = node_environment(&compose, node);
        assert_eq!(environment["BATON_DATA_DIR"], "/data", "{node}");
        assert_eq!(environment["BATON_LISTEN"], "0.0.0.0:8080", "{node}");
        assert_eq!(environment["BATON_DATABASE_URL"], "postgres://baton:example@postgres:5432/baton", "{node}");
        names.push(environment["BATON_NODE__NAME"].clone());
    }
    assert_eq!(names, NODES, "every node has its own name");
    let without_name = |node| {
        let mut environment = node_environment(&compose, node);
        environment.remove("BATON_NODE__NAME");
        environment
    };
    assert_eq!(without_name("baton1"), without_name("baton2"), "nodes share every other setting");
    assert_eq!(without_name("baton1"), without_name("baton3"), "nodes share every other setting");

    let nginx = service(&compose, "nginx");
    assert_eq!(strings(&nginx["ports"]), ["127.0.0.1:8080:80"]);
    assert_eq!(strings(&nginx["volumes"]), ["./nginx.conf:/etc/nginx/conf.d/default.conf:ro"]);
    for node in NODES {
        assert_eq!(nginx["depends_on"][node]["condition"].as_str(), Some("service_healthy"), "nginx waits for {node}");
    }
    let nginx_address = nginx["networks"]["default"]["ipv4_address"].as_str().expect("nginx has a fixed address");
    assert_eq!(
        node_environment(&compose, "baton1")["BATON_TRUSTED_PROXIES"],
        format!("[\"{nginx_address}/32\"]"),
        "the nodes trust exactly nginx's X-Forwarded-For"
    );
    let volumes: Vec<&str> = compose["volumes"].as_mapping().unwrap().keys().map(|key| key.as_str().unwrap()).collect();
    assert_eq!(volumes, ["baton-data", "postgres-data"]);

    let operations = repository_file("docs/operations.md");
    for name in services.iter().chain(&volumes).chain(&["127.0.0.1:8080"]) {
        assert!(operations.contains(&format!("`{name}`")), "docs/operations.md does not describe `{name}`");
    }
}

#[test]
fn every_baton_variable_in_compose_is_a_setting_the_binary_accepts() {
    let compose = compose();
    let known = serde_json::to_value(Settings::default()).unwrap();
    for node in NODES {
        let environment = node_environment(&compose, node);
        for key in environment.keys().filter(|key| key.starts_with("BATON_") && *key != "BATON_ADMIN_PASSWORD") {
            let path: Vec<String> = key["BATON_".len()..].split("__").map(str::to_ascii_lowercase).collect();
            let found = path.iter().try_fold(&known, |value, part| value.get(part.as_str()));
            assert!(found.is_some(), "{node}: {key} names no setting ({})", path.join("."));
        }

        // The binary loads these variables exactly as in the container; only the database
        // (a PostgreSQL host named `postgres`) is replaced by a local file through the flag.
        let folder = tempfile::tempdir().unwrap();
        let mut command = Command::new(BATON);
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).current_dir(folder.path());
        command
            .envs(&environment)
            .args(["migrate", "--data-dir"])
            .arg(folder.path())
            .arg("--database")
            .arg(format!("sqlite://{}", folder.path().join("baton.db").display()));
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{node}: baton refused the compose settings: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn dockerfile_runs_the_binary_unprivileged_with_the_ping_as_health_check() {
    let dockerfile = repository_file("docker/Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().collect();
    let stages: Vec<&&str> = lines.iter().filter(|line| line.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(stages[1].starts_with("FROM debian:bookworm-slim"), "{}", stages[1]);
    assert!(lines.contains(&"USER baton"));
    assert!(lines.contains(&"EXPOSE 8080"));
    assert!(lines.contains(&r#"VOLUME ["/data"]"#));
    assert!(dockerfile.contains("COPY --from=build /usr/local/bin/baton /usr/local/bin/baton"));
    let health_check = dockerfile.split("HEALTHCHECK").nth(1).expect("a HEALTHCHECK");
    assert!(health_check.contains("http://127.0.0.1:8080/api/v1/system/ping"), "{health_check}");
    assert!(repository_file(".dockerignore").lines().any(|line| line == "target"));
}

/// docker/nginx.conf with the compose host names replaced by loopback addresses, wrapped in
/// a main configuration whose files all live in `folder`.
fn nginx_configuration_for_test(folder: &Path) -> PathBuf {
    let site = repository_file("docker/nginx.conf");
    let site = NODES
        .iter()
        .fold(site, |site, node| site.replace(&format!("server {node}:8080"), "server 127.0.0.1:8080"))
        .replace("listen 80;", "listen 127.0.0.1:8080;");
    std::fs::write(folder.join("site.conf"), site).unwrap();
    let folder_text = folder.display();
    let main = format!(
        "pid {folder_text}/nginx.pid;\nerror_log {folder_text}/error.log;\nevents {{}}\nhttp {{\n\
         client_body_temp_path {folder_text}/client_body;\nproxy_temp_path {folder_text}/proxy;\n\
         fastcgi_temp_path {folder_text}/fastcgi;\nuwsgi_temp_path {folder_text}/uwsgi;\n\
         scgi_temp_path {folder_text}/scgi;\naccess_log off;\ninclude {folder_text}/site.conf;\n}}\n"
    );
    let path = folder.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    path
}

/// An nginx size: a number with an optional k, m or g suffix (powers of 1024).
fn nginx_size(text: &str) -> u64 {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1024,
        "m" => 1024 * 1024,
        "g" => 1024 * 1024 * 1024,
        other => panic!("{text:?}: unknown nginx size unit {other:?}"),
    };
    digits.parse::<u64>().expect("a size") * multiplier
}

fn nginx_program() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|folder| folder.join("nginx")).collect())
        .unwrap_or_default();
    candidates.push(PathBuf::from("/usr/sbin/nginx"));
    candidates.into_iter().find(|candidate| candidate.is_file())
}

#[test]
fn nginx_balances_the_three_nodes_retries_only_safely_and_passes_uploads() {
    let site = repository_file("docker/nginx.conf");
    let directives: Vec<&str> =
        site.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
    let upstream_block: Vec<&str> = directives
        .iter()
        .skip_while(|line| **line != "upstream baton {")
        .take_while(|line| **line != "}")
        .copied()
        .collect();
    let upstream_servers: Vec<&str> = upstream_block
        .iter()
        .filter_map(|line| line.strip_prefix("server "))
        .map(|server| server.split_whitespace().next().unwrap().trim_end_matches(';'))
        .collect();
    assert_eq!(upstream_servers, ["baton1:8080", "baton2:8080", "baton3:8080"], "the compose node services");
    assert!(directives.contains(&"location = /api/v1/system/ping {"), "the health check has its own location");

    let retries: Vec<&str> =
        directives.iter().filter(|line| line.starts_with("proxy_next_upstream ")).copied().collect();
    assert!(retries.contains(&"proxy_next_upstream error timeout http_502 http_503 http_504;"), "{retries:?}");
    assert!(
        !directives.iter().any(|line| line.contains("non_idempotent")),
        "POST must never be retried once a node received it"
    );
    for header in ["Host $host", "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme"] {
        assert!(directives.contains(&format!("proxy_set_header {header};").as_str()), "forwards {header}");
    }

    let body_limit = directives
        .iter()
        .find_map(|line| line.strip_prefix("client_max_body_size "))
        .expect("client_max_body_size is set")
        .trim_end_matches(';');
    let body_limit = nginx_size(body_limit);
    let attachment_limit = Settings::default().limits.max_attachment_size;
    assert!(
        (attachment_limit..=attachment_limit + 2 * 1024 * 1024).contains(&body_limit),
        "client_max_body_size {body_limit} must be a little above limits.max_attachment_size {attachment_limit}"
    );

    let Some(nginx) = nginx_program() else {
        assert!(std::env::var_os("CI").is_none(), "nginx is required when CI is set (apt-get install nginx)");
        eprintln!("skipping `nginx -t` on docker/nginx.conf: nginx is not installed");
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let configuration = nginx_configuration_for_test(folder.path());
    let output = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(folder.path())
        .arg("-c")
        .arg(&configuration)
        .arg("-e")
        .arg(folder.path().join("error.log"))
        .output()
        .unwrap();
    assert!(output.status.success(), "nginx -t: {}", String::from_utf8_lossy(&output.stderr));
}
