//! The Dockerfile, the compose file and the Kubernetes manifests cannot be built or
//! applied here, so they are read: their syntax, the flags and config keys they pass
//! the binary (checked by the binary itself), and the files they name.

use std::collections::BTreeMap;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::common::*;

fn yaml_documents(path: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&repository_file(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Runs `emu-oncall <args> check --config-only` with `env` (and nothing inherited that could
/// configure it), asserting that the binary accepts them.
/// Runs `check --config-only` and returns the summary it prints.
fn binary_accepts(what: &str, args: &[&str], env: &BTreeMap<String, String>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emu-oncall"));
    command
        .args(args)
        .args(["check", "--config-only"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env);
    let output = command.output().expect("run emu-oncall");
    assert!(
        output.status.success(),
        "{what}: emu-oncall {args:?} check --config-only refused it:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `${NAME:-default}` → `default`, as compose expands it with nothing set;
/// `${NAME:?why}`, which compose refuses to start without, → the long random value an
/// operator following the README sets.
fn compose_default(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail.find('}').expect("closed ${");
        let inner = &tail[..end];
        match (inner.split_once(":-"), inner.split_once(":?")) {
            (Some((_, default)), _) => out.push_str(default),
            (None, Some((name, _))) => out.push_str(&operator_token(name)),
            (None, None) => {}
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What `openssl rand -hex 24` would give an operator, told apart by `name`.
fn operator_token(name: &str) -> String {
    format!("{name}-0123456789abcdef0123456789abcdef")
}

struct Dockerfile {
    /// (instruction, arguments), continuation lines joined.
    instructions: Vec<(String, String)>,
}

impl Dockerfile {
    fn parse(text: &str) -> Dockerfile {
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
                continue;
            }
            pending.push_str(trimmed.trim_end_matches('\\'));
            pending.push(' ');
            if trimmed.ends_with('\\') {
                continue;
            }
            let (instruction, arguments) = pending
                .trim()
                .split_once(' ')
                .unwrap_or((pending.trim(), ""));
            instructions.push((instruction.to_owned(), arguments.trim().to_owned()));
            pending.clear();
        }
        assert!(pending.is_empty(), "a continuation line ends the file");
        Dockerfile { instructions }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|(instruction, _)| instruction == name)
            .map(|(_, arguments)| arguments.as_str())
            .collect()
    }

    fn json_array(&self, name: &str) -> Vec<String> {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one {name}");
        serde_json::from_str(found[0])
            .unwrap_or_else(|err| panic!("{name} is not exec form: {err}"))
    }

    /// `ENV A=1 B=2` pairs of the last stage.
    fn env(&self) -> BTreeMap<String, String> {
        let last_from = self
            .instructions
            .iter()
            .rposition(|(instruction, _)| instruction == "FROM")
            .unwrap_or(0);
        self.instructions[last_from..]
            .iter()
            .filter(|(instruction, _)| instruction == "ENV")
            .flat_map(|(_, arguments)| arguments.split_whitespace())
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }
}

#[test]
fn the_dockerfile_builds_what_the_repository_has_and_runs_the_real_binary() {
    let dockerfile = Dockerfile::parse(&repository_file("Dockerfile"));
    let known = [
        "FROM",
        "WORKDIR",
        "RUN",
        "COPY",
        "ENV",
        "USER",
        "EXPOSE",
        "HEALTHCHECK",
        "ENTRYPOINT",
        "CMD",
    ];
    for (instruction, _) in &dockerfile.instructions {
        assert!(
            known.contains(&instruction.as_str()),
            "unknown instruction {instruction}"
        );
    }
    assert_eq!(
        dockerfile.all("FROM").len(),
        2,
        "multi-stage: build, then runtime"
    );
    assert!(dockerfile.all("FROM")[0].ends_with(" AS build"));

    // Every file copied from the context exists; what the runtime stage copies from the
    // build stage is where the scripts put it.
    for arguments in dockerfile.all("COPY") {
        let parts: Vec<&str> = arguments.split_whitespace().collect();
        let (sources, _destination) = parts.split_at(parts.len() - 1);
        match sources.first() {
            Some(flag) if flag.starts_with("--from=build") => {
                for source in &sources[1..] {
                    let inside = source.trim_start_matches("/src/");
                    assert!(
                        inside == "target/release/emu-oncall"
                            || (inside == "target/plugins/"
                                && repository_file("scripts/build-plugins")
                                    .contains("target/plugins")),
                        "COPY --from=build {source}: not something the build stage makes"
                    );
                }
            }
            _ => {
                for source in sources {
                    assert!(
                        *source == "." || repository().join(source).exists(),
                        "COPY {source}: not in the repository"
                    );
                }
            }
        }
    }
    let runs = dockerfile.all("RUN").join("\n");
    assert!(runs.contains("rustup target add wasm32-wasip2"));
    assert!(runs.contains("scripts/build-plugins"));
    assert!(repository().join("scripts/build-plugins").exists());

    let user = dockerfile.all("USER");
    assert_eq!(user.len(), 1);
    assert!(user[0] != "root" && user[0] != "0", "runs as root");
    let healthcheck = dockerfile.all("HEALTHCHECK").join(" ");
    assert!(healthcheck.contains("/readyz"), "{healthcheck}");
    assert_eq!(dockerfile.all("EXPOSE"), vec!["8880"]);

    // The command line and the environment are ones the binary accepts.
    let entrypoint = dockerfile.json_array("ENTRYPOINT");
    assert_eq!(entrypoint, vec!["emu-oncall"]);
    let cmd = dockerfile.json_array("CMD");
    assert_eq!(cmd, vec!["serve"]);
    let mut env = dockerfile.env();
    assert_eq!(
        env.get("EMU_ONCALL_CONFIG").map(String::as_str),
        Some("/etc/emu-oncall/emu-oncall.toml")
    );
    assert!(dockerfile
        .all("COPY")
        .contains(&"examples/emu-oncall.toml /etc/emu-oncall/emu-oncall.toml"));
    env.insert(
        "EMU_ONCALL_CONFIG".to_owned(),
        repository()
            .join("examples/emu-oncall.toml")
            .display()
            .to_string(),
    );
    // The image carries no token: it starts only once the operator sets both, as the
    // README's `docker run` line does.
    assert!(!env.keys().any(|key| key.contains("TOKEN")), "{env:?}");
    binary_refuses("Dockerfile ENV without tokens", &env, "app.auth_token");
    for key in ["EMU_ONCALL_APP__AUTH_TOKEN", "EMU_ONCALL_APP__ADMIN_TOKEN"] {
        env.insert(key.to_owned(), operator_token(key));
    }
    binary_accepts("Dockerfile ENV", &[], &env);
}

/// `check --config-only` refuses `env`, naming `key`.
fn binary_refuses(what: &str, env: &BTreeMap<String, String>, key: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args(["check", "--config-only"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .expect("run emu-oncall");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(key),
        "{what}: accepted, or refused without naming {key}: {stderr}"
    );
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &compose["services"][name];
    assert!(!service.is_badvalue(), "no service {name}");
    service
}

fn environment(service: &Yaml) -> BTreeMap<String, String> {
    let Some(map) = service["environment"].as_hash() else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(key, value)| {
            let value = match value {
                Yaml::String(text) => text.clone(),
                Yaml::Integer(number) => number.to_string(),
                Yaml::Boolean(flag) => flag.to_string(),
                other => panic!("{key:?}: {other:?}"),
            };
            (
                key.as_str().unwrap_or_default().to_owned(),
                compose_default(&value),
            )
        })
        .collect()
}

#[test]
fn the_compose_file_wires_the_engine_to_emu_oncall() {
    let documents = yaml_documents("examples/compose/docker-compose.yml");
    assert_eq!(documents.len(), 1);
    let compose = &documents[0];
    let emu = service(compose, "emu-oncall");
    let context = emu["build"]["context"].as_str().expect("build context");
    let dockerfile = emu["build"]["dockerfile"].as_str().expect("dockerfile");
    assert!(repository()
        .join("examples/compose")
        .join(context)
        .join(dockerfile)
        .exists());
    let command: Vec<&str> = emu["command"]
        .as_vec()
        .expect("exec form")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(command, vec!["serve"]);
    let ports: Vec<&str> = emu["ports"]
        .as_vec()
        .expect("ports")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(ports, vec!["8880:8880"]);

    // Compose refuses to start without both tokens: it has no default for either.
    let raw = emu["environment"].as_hash().expect("environment");
    for key in ["EMU_ONCALL_APP__AUTH_TOKEN", "EMU_ONCALL_APP__ADMIN_TOKEN"] {
        let value = raw
            .get(&Yaml::String(key.to_owned()))
            .and_then(Yaml::as_str)
            .unwrap_or_default();
        assert!(
            value.starts_with("${") && value.contains(":?") && !value.contains(":-"),
            "{key} = {value:?} must be required, with no default"
        );
    }
    let mut env = environment(emu);
    assert!(env.contains_key("EMU_ONCALL_APP__AUTH_TOKEN"));
    assert!(env
        .get("EMU_ONCALL_DB__URL")
        .is_some_and(|url| url.contains("@emu-oncall-db:5432/")));
    env.insert(
        "EMU_ONCALL_CONFIG".to_owned(),
        repository()
            .join("examples/emu-oncall.toml")
            .display()
            .to_string(),
    );
    binary_accepts("compose emu-oncall environment", &[], &env);

    // The engine and celery both page through Emu-OnCall.
    for name in ["oncall-engine", "oncall-celery"] {
        let env = environment(service(compose, name));
        assert_eq!(
            env.get("GRAFANA_CLOUD_ONCALL_API_URL").map(String::as_str),
            Some("http://emu-oncall:8880"),
            "{name}"
        );
    }
    assert_eq!(
        service(compose, "oncall-engine")["depends_on"]["emu-oncall"]["condition"].as_str(),
        Some("service_healthy"),
        "the image's HEALTHCHECK gates the engine"
    );

    // Every file mounted from the repository exists.
    for (name, service) in compose["services"].as_hash().expect("services") {
        for volume in service["volumes"]
            .as_vec()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(source) = volume.as_str().and_then(|v| v.split(':').next()) else {
                continue;
            };
            if source.starts_with('.') {
                assert!(
                    repository().join("examples/compose").join(source).exists(),
                    "{name:?} mounts {source}, which does not exist"
                );
            }
        }
    }
    let provisioning = repository_file("examples/compose/grafana/provisioning/plugins/oncall.yaml");
    assert!(provisioning.contains("onCallApiUrl: http://oncall-engine:8080"));
    assert!(repository_file("examples/compose/prometheus.yml").contains("emu-oncall:8880"));
}

#[tokio::test]
async fn the_kubernetes_manifests_run_three_probed_replicas_of_the_real_binary() {
    let documents = yaml_documents("examples/kubernetes/emu-oncall.yaml");
    let by_kind = |kind: &str| -> &Yaml {
        let found: Vec<&Yaml> = documents
            .iter()
            .filter(|document| document["kind"].as_str() == Some(kind))
            .collect();
        assert_eq!(found.len(), 1, "one {kind}");
        found[0]
    };
    let deployment = by_kind("Deployment");
    let service = by_kind("Service");
    let config_map = by_kind("ConfigMap");
    let budget = by_kind("PodDisruptionBudget");
    assert_eq!(deployment["spec"]["replicas"].as_i64(), Some(3));
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for selector in [
        &deployment["spec"]["selector"]["matchLabels"],
        &service["spec"]["selector"],
        &budget["spec"]["selector"]["matchLabels"],
    ] {
        assert_eq!(selector, labels, "a selector that matches no pod");
    }
    assert!(budget["spec"]["minAvailable"]
        .as_i64()
        .is_some_and(|n| (1..3).contains(&n)));

    let pod = &deployment["spec"]["template"]["spec"];
    let containers = pod["containers"].as_vec().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));

    // The config the ConfigMap holds, with the arguments and environment the pod gets.
    let toml_text = config_map["data"]["emu-oncall.toml"]
        .as_str()
        .expect("config");
    let config_dir = tempfile::tempdir().unwrap();
    let config_path = config_dir.path().join("emu-oncall.toml");
    std::fs::write(&config_path, toml_text).unwrap();
    let mut args: Vec<String> = container["args"]
        .as_vec()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(args.last().map(String::as_str), Some("serve"));
    args.pop();
    let config_at = args.iter().position(|a| a == "--config").expect("--config") + 1;
    let mounted_config = args[config_at].clone();
    args[config_at] = config_path.display().to_string();
    // The pod runs the image, so the image's ENV applies too, and wins over the config
    // file: what the server really uses is asked of the binary below, not read off the
    // ConfigMap. `--config` stands for the image's EMU_ONCALL_CONFIG.
    let mut env = Dockerfile::parse(&repository_file("Dockerfile")).env();
    env.remove("EMU_ONCALL_CONFIG");
    for variable in container["env"].as_vec().expect("env") {
        let name = variable["name"].as_str().expect("name").to_owned();
        assert!(
            variable["valueFrom"]["secretKeyRef"]["name"].as_str() == Some("emu-oncall"),
            "{name} should come from the emu-oncall secret"
        );
        let value = format!("from-the-secret-{}", name.to_lowercase());
        env.insert(name, value);
    }
    env.insert(
        "EMU_ONCALL_DB__URL".to_owned(),
        "postgres://u:p@db:5432/emu".to_owned(),
    );
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let summary = binary_accepts("Kubernetes container", &arg_refs, &env);
    let effective = |key: &str| {
        summary
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("check --config-only prints no {key}:\n{summary}"))
            .to_owned()
    };
    let config: toml::Table = toml::from_str(toml_text).unwrap();

    // Mounts put the config and the plugins where the config says.
    let mounts: BTreeMap<String, String> = container["volumeMounts"]
        .as_vec()
        .expect("mounts")
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap_or_default().to_owned(),
                m["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        mounts.get(&mounted_config).map(String::as_str),
        Some("config")
    );
    let plugins_dir = effective("app.plugins_dir");
    assert_eq!(
        mounts.get(&plugins_dir).map(String::as_str),
        Some("plugins"),
        "the server reads plugins from {plugins_dir}: the ConfigMap must be mounted there"
    );
    let cache_dir = effective("app.plugin_cache_dir");
    // An emptyDir is world-writable, which the server refuses for native code: the
    // cache is a directory the server makes (0700) inside the mount.
    let mount = std::path::Path::new(&cache_dir)
        .parent()
        .and_then(|parent| parent.to_str())
        .expect("cache dir has a parent");
    assert!(
        mounts.contains_key(mount),
        "the read-only root needs a writable mount above the cache"
    );
    let volumes = pod["volumes"].as_vec().expect("volumes");
    for name in mounts.values() {
        assert!(
            volumes.iter().any(|v| v["name"].as_str() == Some(name)),
            "mount {name} has no volume"
        );
    }

    // The port and the probe paths are the server's.
    let port = container["ports"][0]["containerPort"]
        .as_i64()
        .expect("port");
    assert_eq!(config["app"]["port"].as_str(), Some(&*format!(":{port}")));
    let server = start_server(&[]).await;
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = container[probe]["httpGet"]["path"]
            .as_str()
            .expect("probe path");
        let status = client()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200, "{probe} {path}");
    }
    assert!(
        pod["terminationGracePeriodSeconds"].as_i64().unwrap_or(30) > 10,
        "longer than delivery.shutdown_grace"
    );
}
