//! Files that several apps carry as identical copies.
//!
//! Every app directory is its own Docker build context (`src/images.rs` tars the directory
//! and nothing else) and its own hash, so an app cannot import a file from a sibling: a
//! symlink would enter the context as a link to a path the build cannot see. The modules
//! that do not depend on the framework are therefore copied into each app that uses them,
//! and this test fails as soon as the copies differ, naming them and the fix.

use std::path::Path;

/// Groups of files that must stay byte-for-byte identical. The first of each group is the
/// one to edit; then copy it over the others.
const COPIES: &[&[&str]] = &[
    // Node: everything but the framework glue (server.js) and orders.js, whose validation
    // is Express code on one side and Fastify schemas on the other. The NestJS app keeps
    // them in lib/ (CommonJS, beside its ES modules) and takes Express's orders.js.
    &[
        "node-apps/fastify/db.js",
        "node-apps/express/db.js",
        "node-apps/nestjs/lib/db.js",
    ],
    &[
        "node-apps/fastify/jobs.js",
        "node-apps/express/jobs.js",
        "node-apps/nestjs/lib/jobs.js",
    ],
    &[
        "node-apps/fastify/worker.js",
        "node-apps/express/worker.js",
        "node-apps/nestjs/lib/worker.js",
    ],
    &[
        "node-apps/fastify/jobs-pool.js",
        "node-apps/express/jobs-pool.js",
    ],
    &[
        "node-apps/fastify/cluster.js",
        "node-apps/express/cluster.js",
    ],
    &[
        "node-apps/fastify/leibniz.js",
        "node-apps/express/leibniz.js",
        "node-apps/nestjs/lib/leibniz.js",
    ],
    &[
        "node-apps/fastify/hybrid.js",
        "node-apps/express/hybrid.js",
        "node-apps/nestjs/lib/hybrid.js",
    ],
    &[
        "node-apps/fastify/numeric.js",
        "node-apps/express/numeric.js",
    ],
    &["node-apps/fastify/files.js", "node-apps/express/files.js"],
    &[
        "node-apps/fastify/periodic.js",
        "node-apps/express/periodic.js",
        "node-apps/nestjs/lib/periodic.js",
    ],
    &[
        "node-apps/express/orders.js",
        "node-apps/nestjs/lib/orders.js",
    ],
    // Python: the Leibniz loop and its worker process.
    &[
        "python-apps/fastapi/leibniz.py",
        "python-apps/django/project/leibniz.py",
        "python-apps/flask/leibniz.py",
    ],
    // Python: the sharkbench workload's framework-free part (symbol rule, answer fields).
    &[
        "python-apps/fastapi/periodic.py",
        "python-apps/django/project/periodic.py",
        "python-apps/flask/periodic.py",
    ],
    // gunicorn's settings: JSON for its own errors, a bound on silent clients.
    &[
        "python-apps/django/gunicorn.conf.py",
        "python-apps/flask/gunicorn.conf.py",
    ],
    // Python: the numeric and file I/O workloads' framework-free parts.
    &[
        "python-apps/fastapi/numeric.py",
        "python-apps/django/project/numeric.py",
    ],
    &[
        "python-apps/fastapi/files.py",
        "python-apps/django/project/files.py",
    ],
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap_or_else(|err| {
        panic!(
            "{path}: {err}; tests/app_sources.rs lists it as a shared copy (remove it from \
             COPIES if the apps no longer share it)"
        )
    })
}

#[test]
fn shared_app_files_are_identical_copies() {
    let mut drifted = Vec::new();
    for group in COPIES {
        let (first, rest) = group.split_first().expect("a group has files");
        let original = read(first);
        for copy in rest {
            if read(copy) != original {
                drifted.push(format!(
                    "{copy} differs from {first}: make the change in {first} and run \
                     `cp {first} {copy}` (or the other way round, if {copy} holds the change)"
                ));
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "shared app files drifted apart (each app directory is its own build context, so \
         they are copies):\n{}",
        drifted.join("\n")
    );
}

#[test]
fn every_shared_copy_is_copied_into_its_image() {
    // A copy the Dockerfile forgets would pass the test above and fail only in the image.
    for group in COPIES {
        for file in *group {
            let path = Path::new(file);
            let name = path.file_name().unwrap().to_str().unwrap();
            let app = path
                .ancestors()
                .skip(1)
                .find(|dir| root().join(dir).join("Dockerfile").is_file())
                .expect("the file is inside an app directory");
            let dockerfile = std::fs::read_to_string(root().join(app).join("Dockerfile")).unwrap();
            let parent = path.parent().unwrap();
            let copied_by_dir = parent != app && {
                let dir = parent.strip_prefix(app).unwrap().to_str().unwrap();
                dockerfile.contains(&format!("COPY {dir}/"))
            };
            let copied_by_name = dockerfile
                .lines()
                .any(|l| l.starts_with("COPY") && l.split_whitespace().any(|w| w == name));
            assert!(
                copied_by_dir || copied_by_name,
                "{}/Dockerfile does not COPY {name}",
                app.display()
            );
        }
    }
}
