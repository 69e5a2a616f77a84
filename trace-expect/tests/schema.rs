//! `docs/shape.schema.json` and the shape loader agree: every shape file in the repository
//! validates against the schema and loads; shapes the loader refuses, the schema refuses too.

mod support;

use std::path::{Path, PathBuf};

use trace_expect::Shape;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The schema, compiled.
fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let path = repo().join("docs/shape.schema.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let url = "file:///shape.schema.json";
    compiler.add_resource(url, json).unwrap();
    let index = compiler.compile(url, &mut schemas).unwrap();
    (schemas, index)
}

/// A YAML shape as the JSON the schema reads.
fn as_json(yaml: &str) -> serde_json::Value {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    serde_json::to_value(value).unwrap()
}

/// Every `*.yaml` under the shape folders of the repository.
fn shape_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "tracelab/tests/shapes",
        "examples/axum-service/tests/shapes",
        "examples/shell",
    ] {
        let Ok(entries) = std::fs::read_dir(repo().join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files
}

/// The issue's example, exactly as documented.
const DOCUMENTED: &str = r#"
root:
  service: app-a
  name: GET /
  kind: server
  status: unset
  attributes:
    http.response.status_code: 200
    url.path: { regex: "^/$" }
  duration: { min: 100ms, max: 5s }
  events: [exception]
  children:
    - service: app-a
      kind: client
options:
  extra_spans: false
"#;

#[test]
fn every_shape_file_validates_against_the_schema_and_loads() {
    let (schemas, index) = schema();
    let files = shape_files();
    assert!(!files.is_empty(), "no shape files found");
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        if let Err(e) = schemas.validate(&as_json(&text), index) {
            panic!("{} does not validate: {e}", path.display());
        }
        Shape::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    for text in [DOCUMENTED, support::CHAIN_SHAPE] {
        schemas.validate(&as_json(text), index).unwrap();
        Shape::from_yaml(text).unwrap();
    }
}

#[test]
fn shapes_the_loader_refuses_the_schema_refuses() {
    let (schemas, index) = schema();
    let bad = [
        ("root:\n  kind: sideways\n", "unknown variant `sideways`"),
        ("root:\n  colour: red\n", "unknown field `colour`"),
        ("root: {}\nroots: [{}]\n", "not both"),
        ("options: {}\n", "no `root`"),
        (
            "root:\n  attributes:\n    a: { regex: x, present: true }\n",
            "exactly one",
        ),
        (
            "root:\n  attributes:\n    a: { present: false }\n",
            "present: true",
        ),
        ("root:\n  duration: { min: soon }\n", "not a duration"),
    ];
    for (text, words) in bad {
        let error = Shape::from_yaml(text).unwrap_err().to_string();
        assert!(error.contains(words), "{text:?}: {error}");
        assert!(
            schemas.validate(&as_json(text), index).is_err(),
            "schema accepts {text:?}"
        );
    }
    // What only the loader can check: a regex that compiles, bounds in order.
    let error = Shape::from_yaml("root:\n  attributes:\n    a: { regex: \"(\" }\n").unwrap_err();
    assert!(error.to_string().contains("regex parse error"), "{error}");
    let error = Shape::from_yaml("root:\n  duration: { min: 5s, max: 1s }\n").unwrap_err();
    assert!(
        error.to_string().contains("min 5s is above max 1s"),
        "{error}"
    );
}

#[test]
fn a_shape_survives_a_round_trip_through_yaml() {
    let shape = Shape::from_yaml(DOCUMENTED).unwrap();
    assert_eq!(Shape::from_yaml(&shape.to_yaml()).unwrap(), shape);
    assert_eq!(shape.node_count(), 2);
}
